#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests (distributed mode's durable store).
#   scripts/postgres.sh install   apt-get install postgresql when no server binaries are present
#   scripts/postgres.sh start     initdb (first time) + pg_ctl start; prints the connection string
#   scripts/postgres.sh stop      pg_ctl stop -m fast
# State lives under $PLATFORM_PG_DIR (default /tmp/platform-pg). Runs the server as the 'postgres' user when
# invoked as root (initdb refuses root). Listens on 127.0.0.1 only.
set -euo pipefail

PG_DIR="${PLATFORM_PG_DIR:-/tmp/platform-pg}"
PG_PORT="${PLATFORM_PG_PORT:-5432}"
PG_USER=platform
PG_PASSWORD=platform
PG_DB=platform

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd="${1:-start}"
case "$cmd" in
  install)
    if [ -z "$(find_bin)" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    fi
    ;;
  start)
    BIN="$(find_bin)"
    [ -n "$BIN" ] || { echo "postgres.sh: no PostgreSQL binaries under /usr/lib/postgresql (run: $0 install)" >&2; exit 1; }
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$PG_DIR"
      as_pg test -x "$PG_DIR" || { echo "postgres.sh: the postgres user cannot reach $PG_DIR (a parent folder is not searchable)" >&2; exit 1; }
    fi
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
      echo "$PG_PASSWORD" > "$PG_DIR/pwfile"
      if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_DIR/pwfile"; fi
      as_pg "$BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --pwfile="$PG_DIR/pwfile" \
        --auth-host=scram-sha-256 --auth-local=trust -E UTF8 >"$PG_DIR/initdb.log"
    fi
    if as_pg "$BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
      echo "postgres.sh: already running"
    else
      as_pg "$BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200 -c fsync=on" start >/dev/null
    fi
    # The test database (idempotent).
    if ! as_pg "$BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
         "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" | grep -q 1; then
      as_pg "$BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
    fi
    echo "Host=127.0.0.1;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$PG_DB"
    ;;
  stop)
    BIN="$(find_bin)"
    if [ -n "$BIN" ] && [ -f "$PG_DIR/data/PG_VERSION" ]; then
      as_pg "$BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
