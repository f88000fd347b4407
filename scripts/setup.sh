#!/usr/bin/env bash
# Installs what Switchboard needs on a fresh Debian/Ubuntu machine. Idempotent:
# packages already present are not reinstalled, and apt lists are only refreshed when
# something is missing.
set -euo pipefail

# postgresql: server binaries for the CRM tests (scripts/pg.sh runs a throwaway instance).
APT_PACKAGES=(build-essential pkg-config espeak-ng sox postgresql)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust 1.85 or newer) is required: https://rustup.rs" >&2
  exit 1
fi
