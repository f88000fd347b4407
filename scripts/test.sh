#!/usr/bin/env bash
# Sets up the machine and runs every test. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
# espeak-ng was installed above: its tests must run, never skip.
export SWITCHBOARD_REQUIRE_ESPEAK=1
cargo test --all-targets --no-fail-fast -- --test-threads=2
