#!/usr/bin/env bash
# A private PulseAudio server with a 48 kHz null sink ("vsink") for the sound-card
# tests: what is played to it comes back, paced in real time, from "vsink.monitor"
# (the default source). ALSA's `default` device routes to it through
# libasound2-plugins. Installs nothing (scripts/setup.sh does).
#   pulse.sh start DIR   starts it (idempotent) and prints the env to export:
#                        XDG_RUNTIME_DIR=... and PULSE_SERVER=unix:...
#   pulse.sh stop DIR    stops it (idempotent)
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
runtime="$dir/runtime"
socket="$runtime/pulse/native"
pidfile="$dir/pulseaudio.pid"
export XDG_RUNTIME_DIR="$runtime"
export PULSE_SERVER="unix:$socket"
# Keep the daemon's state and cookie out of $HOME.
export HOME="$dir/home" PULSE_STATE_PATH="$dir/state"

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case "$cmd" in
  start)
    if ! running; then
      mkdir -p "$runtime" "$HOME" "$PULSE_STATE_PATH"
      chmod 700 "$runtime"
      pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no \
        -L "module-native-protocol-unix auth-anonymous=1 socket=$socket" \
        -L "module-null-sink sink_name=vsink rate=48000" \
        -L module-always-sink >"$dir/pulseaudio.log" 2>&1 &
      echo $! >"$pidfile"
      for _ in $(seq 1 100); do
        if pactl info >/dev/null 2>&1; then break; fi
        if ! running; then
          echo "pulse.sh: pulseaudio exited; log:" >&2
          cat "$dir/pulseaudio.log" >&2
          exit 1
        fi
        sleep 0.1
      done
      if ! pactl info >/dev/null 2>&1; then
        echo "pulse.sh: pulseaudio did not answer within 10 s; log:" >&2
        cat "$dir/pulseaudio.log" >&2
        exit 1
      fi
    fi
    pactl set-default-sink vsink
    pactl set-default-source vsink.monitor
    echo "XDG_RUNTIME_DIR=$runtime"
    echo "PULSE_SERVER=unix:$socket"
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
