#!/usr/bin/env bash
# Sets up the machine, builds Switchboard and opens the supervisor console on embedded
# defaults (SQLite CRM in your data folder, espeak-ng voices, template replies or the
# LLM named by SWITCHBOARD_LLM_URL). "Simulate a caller" on the wall starts live calls.
#
# Without a display (a server, CI), it plays the demo call in the terminal instead:
# readable transcript on screen, events in out/demo/events.jsonl, agent audio in
# out/demo/turn-NN.wav. Force that with --cli.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --release
source scripts/env.sh

if [ "${1:-}" != "--cli" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  (cd ui && { [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund; } && npm run --silent build)
  # The local LLM server (its own process; found beside the app): `--llm local`.
  cargo build --release -p switchboard-desktop -p switchboard-llm
  exec "$CARGO_TARGET_DIR/release/switchboard-desktop"
fi

[ "${1:-}" = "--cli" ] && shift
cargo build --release -p switchboard -p switchboard-llm --bin switchboard --bin switchboard-llm
mkdir -p out/demo
"$CARGO_TARGET_DIR/release/switchboard" simulate scenarios/demo.json --stt script --out out/demo --transcript "$@" \
  > out/demo/events.jsonl
echo "events: out/demo/events.jsonl   agent audio: out/demo/turn-*.wav" >&2
