#!/usr/bin/env bash
# LiveKit's official Python server SDK (PyPI `livekit-api`, pinned), for the tests
# that check our tokens, webhooks and RoomService wire format against LiveKit's own
# code (tests/livekit_server_api.rs). Installed with pip into a folder outside the
# clone; idempotent (an installed, matching copy is kept). Prints the folder: put
# it on PYTHONPATH to import `livekit.api`.
set -euo pipefail
VERSION=1.2.2
DIR="${SWITCHBOARD_LIVEKIT_SDK_DIR:-$HOME/.cache/switchboard/livekit-sdk-$VERSION}"
check() {
  PYTHONPATH="$DIR" python3 -c "
import sys
from livekit.api.version import __version__
from livekit.protocol import room, webhook
sys.exit(0 if __version__ == '$VERSION' else 1)" >/dev/null 2>&1
}
if ! check; then
  echo "livekit-sdk: installing livekit-api==$VERSION (PyPI) into $DIR" >&2
  rm -rf "$DIR.tmp"
  python3 -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
    --target "$DIR.tmp" "livekit-api==$VERSION" >&2
  rm -rf "$DIR"
  mv "$DIR.tmp" "$DIR"
  check || { echo "livekit-sdk: livekit-api $VERSION does not import from $DIR" >&2; exit 1; }
fi
echo "$DIR"
