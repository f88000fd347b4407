#!/usr/bin/env bash
# A private D-Bus session with an unlocked GNOME Keyring (the Secret Service) for the
# keyring tests and the console's end-to-end test: API keys set by the tests land in a
# throwaway keyring under DIR, never in the user's own. Installs nothing
# (scripts/setup.sh does: dbus, gnome-keyring, libsecret-tools).
#   keyring.sh start DIR   starts the bus and the keyring (idempotent), checks that a
#                          secret can be stored and read back, and prints the env to
#                          export: DBUS_SESSION_BUS_ADDRESS=unix:path=DIR/bus
#   keyring.sh stop DIR    stops both (idempotent)
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bus="unix:path=$dir/bus"
bus_pidfile="$dir/dbus.pid"
keyring_pidfile="$dir/gnome-keyring.pid"

running() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_pid() {
  local pidfile=$1 pid
  if running "$pidfile"; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# The daemons keep their state (keyring files, sockets) under DIR, not in $HOME.
export HOME="$dir/home" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" \
  XDG_RUNTIME_DIR="$dir/runtime" DBUS_SESSION_BUS_ADDRESS="$bus"
unset DISPLAY WAYLAND_DISPLAY

case "$cmd" in
  start)
    mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
    chmod 700 "$dir" "$XDG_RUNTIME_DIR"
    if ! running "$bus_pidfile"; then
      dbus-daemon --session --nofork --nopidfile --address="$bus" >"$dir/dbus.log" 2>&1 &
      echo $! >"$bus_pidfile"
      for _ in $(seq 1 100); do
        [ -S "$dir/bus" ] && break
        sleep 0.05
      done
      [ -S "$dir/bus" ] || { echo "keyring.sh: dbus-daemon did not start; log:" >&2; cat "$dir/dbus.log" >&2; exit 1; }
    fi
    if ! running "$keyring_pidfile"; then
      # A new keyring ("login") is created and unlocked with a random password that
      # is only ever on the daemon's stdin.
      head -c 24 /dev/urandom | base64 | tr -d '\n' |
        gnome-keyring-daemon --foreground --unlock --components=secrets >"$dir/gnome-keyring.log" 2>&1 &
      echo $! >"$keyring_pidfile"
    fi
    probe="probe-$$"
    for _ in $(seq 1 100); do
      if printf '%s' "$probe" | timeout 5 secret-tool store --label=switchboard-probe service switchboard-probe username probe 2>/dev/null \
        && [ "$(timeout 5 secret-tool lookup service switchboard-probe username probe 2>/dev/null)" = "$probe" ]; then
        timeout 5 secret-tool clear service switchboard-probe username probe || true
        echo "DBUS_SESSION_BUS_ADDRESS=$bus"
        exit 0
      fi
      if ! running "$keyring_pidfile"; then
        echo "keyring.sh: gnome-keyring-daemon exited; log:" >&2
        cat "$dir/gnome-keyring.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "keyring.sh: the Secret Service did not store and return a secret within 10 s; log:" >&2
    cat "$dir/gnome-keyring.log" >&2
    exit 1
    ;;
  stop)
    stop_pid "$keyring_pidfile"
    stop_pid "$bus_pidfile"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
