#!/usr/bin/env bash
# Sets up the machine and runs every test. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
# espeak-ng was installed above: its tests must run, never skip.
export SWITCHBOARD_REQUIRE_ESPEAK=1
# A throwaway PostgreSQL for the CRM tests (each test makes its own database in it),
# stopped and removed however the run ends. PostgreSQL was installed above: its tests
# must run, never skip. Engine tests can start their own with SWITCHBOARD_PG_SCRIPT.
PG_TMP=$(mktemp -d)
chmod 755 "$PG_TMP"
export SWITCHBOARD_PG_SCRIPT="$PWD/scripts/pg.sh"
# A private PulseAudio server with a null sink for the sound-card tests (tests/local_audio.rs),
# stopped by the same trap. PulseAudio was installed above: those tests must run, never skip.
PULSE_TMP=$(mktemp -d)
# A private D-Bus session with an unlocked, throwaway GNOME Keyring for the API-key tests
# (tests/secrets.rs) and the console e2e, stopped by the same trap. Installed above: those
# tests must run, never skip.
KEYRING_TMP=$(mktemp -d)
trap 'bash "$SWITCHBOARD_PG_SCRIPT" stop "$PG_TMP/data" >/dev/null 2>&1 || true; rm -rf "$PG_TMP"; bash scripts/pulse.sh stop "$PULSE_TMP" >/dev/null 2>&1 || true; rm -rf "$PULSE_TMP"; bash scripts/keyring.sh stop "$KEYRING_TMP" >/dev/null 2>&1 || true; rm -rf "$KEYRING_TMP"' EXIT
trap 'exit 130' INT TERM
PG_PORT=54329
while (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; do PG_PORT=$((PG_PORT + 1)); done
SWITCHBOARD_TEST_PG_URL=$(PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  bash "$SWITCHBOARD_PG_SCRIPT" start "$PG_TMP/data" "$PG_PORT")
export SWITCHBOARD_TEST_PG_URL SWITCHBOARD_REQUIRE_PG=1
PULSE_ENV=$(bash scripts/pulse.sh start "$PULSE_TMP")
while IFS= read -r line; do export "${line?}"; done <<<"$PULSE_ENV"
export SWITCHBOARD_REQUIRE_AUDIO=1
KEYRING_ENV=$(bash scripts/keyring.sh start "$KEYRING_TMP")
while IFS= read -r line; do export "${line?}"; done <<<"$KEYRING_ENV"
export SWITCHBOARD_REQUIRE_KEYRING=1
# LiveKit's official Python server SDK, the other side of the LiveKit token, webhook
# and RoomService tests (tests/livekit_server_api.rs): they must run, never skip.
SWITCHBOARD_LIVEKIT_SDK=$(bash scripts/livekit-sdk.sh)
export SWITCHBOARD_LIVEKIT_SDK SWITCHBOARD_REQUIRE_LIVEKIT_SDK=1
# The local models were fetched by setup.sh: the tests that use them must run, never skip.
export SWITCHBOARD_REQUIRE_MODELS=1
# The local LLM server runs in its own process (llama.cpp cannot share a binary with
# whisper.cpp): build it for the engine's tests that start it (tests/local_llm.rs),
# then run its own tests.
cargo build -p switchboard-llm
cargo test --all-targets --no-fail-fast -- --test-threads=2
cargo test -p switchboard-llm --all-targets --no-fail-fast -- --test-threads=2

# The desktop console: the UI's own checks (lint, types, unit tests, build, page
# tests in headless Chromium with mocked IPC), then the real app end to end under
# Xvfb through tauri-driver + WebKitWebDriver. Screenshots: test-artifacts/.
bash ui/run-tests.sh
cargo build -p switchboard-desktop
node tests/e2e/desktop.mjs "$CARGO_TARGET_DIR/debug/switchboard-desktop"
