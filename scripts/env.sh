# Sourced by the run and test scripts: one build cache outside the clone, so a
# second clone (or CI on the same machine) reuses compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
