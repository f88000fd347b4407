#!/usr/bin/env bash
# Sets up the machine, builds Switchboard and runs a demo call in real time (Arabic and
# English, routing between Ahmed, Sarah and Mohammed, a barge-in and a supervisor
# takeover). The readable transcript scrolls in the terminal; every CallEvent goes to
# out/demo/events.jsonl and the agent's audio per turn to out/demo/turn-NN.wav.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --bin switchboard
mkdir -p out/demo
"$CARGO_TARGET_DIR/release/switchboard" simulate scenarios/demo.json --stt script --out out/demo --transcript "$@" \
  > out/demo/events.jsonl
echo "events: out/demo/events.jsonl   agent audio: out/demo/turn-*.wav" >&2
