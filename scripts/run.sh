#!/usr/bin/env bash
# Sets up the machine, builds Switchboard and runs a demo call (Arabic and English,
# routing between Ahmed, Sarah and Mohammed, a barge-in and a supervisor takeover),
# printing its events and writing the agent's audio to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --bin switchboard
exec "$CARGO_TARGET_DIR/release/switchboard" simulate scenarios/demo.json --stt script --out out/demo "$@"
