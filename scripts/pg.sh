#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and benchmarks, listening on 127.0.0.1 only.
#
#   scripts/pg.sh start DATA_DIR PORT   initdb (trust auth) if DATA_DIR is empty, start, wait until it
#                                       accepts connections, print postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg.sh stop DATA_DIR         fast shutdown
#
# Both are idempotent. The server runs as the `postgres` user (it refuses to run as root); the unix
# socket lives inside DATA_DIR. PG_EXTRA_OPTS adds server options (e.g. "-c fsync=off" for tests).
# Only the URL goes to stdout; everything else goes to stderr.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }
usage() { die "usage: pg.sh start DATA_DIR PORT | pg.sh stop DATA_DIR"; }

pg_bin() {
  local d
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/setup.sh)"
  echo "$d"
}

# Runs a command as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The postgres user must be able to reach DATA_DIR: as root, let it traverse (o+x, not read) any
# parent folder that it cannot (e.g. a 0700 temp folder).
make_reachable() {
  local dir=$1 p
  [ "$(id -u)" -eq 0 ] || return 0
  p=$(dirname "$dir")
  while [ "$p" != "/" ]; do
    if ! runuser -u postgres -- test -x "$p" 2>/dev/null; then
      echo "pg.sh: letting postgres traverse $p (chmod o+x)" >&2
      chmod o+x "$p"
    fi
    p=$(dirname "$p")
  done
}

running_port() {
  # Line 4 of postmaster.pid is the port of a running server.
  sed -n 4p "$1/postmaster.pid" 2>/dev/null || true
}

start() {
  local dir=$1 port=$2 bin
  [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
  bin=$(pg_bin)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  make_reachable "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  if [ ! -s "$dir/PG_VERSION" ]; then
    [ -z "$(ls -A "$dir")" ] || die "$dir is neither empty nor a PostgreSQL data folder"
    as_pg "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
      || { cat "$dir.initdb.log" >&2; die "initdb failed"; }
    rm -f "$dir.initdb.log"
  fi
  if as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    local current
    current=$(running_port "$dir")
    [ "$current" = "$port" ] || die "already running in $dir on port $current, not $port"
  else
    # shellcheck disable=SC2086
    as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir ${PG_EXTRA_OPTS:-}" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2 || true; die "could not start PostgreSQL on port $port"; }
  fi
  local i
  for i in $(seq 1 100); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
      echo "postgres://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    sleep 0.1
  done
  die "PostgreSQL in $dir did not become ready on port $port"
}

stop() {
  local dir=$1 bin
  [ -d "$dir" ] || return 0
  [ -s "$dir/PG_VERSION" ] || return 0
  bin=$(pg_bin)
  if as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null
  fi
}

case "${1:-}" in
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
