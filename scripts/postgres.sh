#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests, benchmarks and trying dsjobs out: no system service, no config
# outside its directory.
#
#   scripts/postgres.sh start [DIR]   initdb in DIR (default: a new temp dir), start on a free 127.0.0.1 port;
#                                     prints `DIR PORT URL` (URL: postgres://dsjobs@127.0.0.1:PORT/dsjobs)
#                                     (DIR of a cluster that was halted: started again on its port, data kept)
#   scripts/postgres.sh stop DIR      stop it (fast shutdown) and remove DIR
#   scripts/postgres.sh halt DIR      stop it (fast shutdown: every connection is cut), data kept
#   scripts/postgres.sh restart DIR   halt, then start again on the same port (tests of reconnection)
#
# The binaries are Debian's postgresql-15 (/usr/lib/postgresql/15/bin; PG_BIN overrides). PostgreSQL refuses to run
# as root: as root the cluster belongs to the `postgres` user Debian's package creates. Authentication is `trust` on
# 127.0.0.1 and the socket in DIR only: this is a test server, not a deployment (docs/deployment.md has that).
set -euo pipefail
# runuser is in /usr/sbin (util-linux), which a minimal PATH (CI's, cron's) leaves out.
PATH="$PATH:/usr/sbin:/sbin"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}
dir=${2:-}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start_cluster() {
  local port=$1
  # fsync stays on: durable creates are what the benchmark measures. The log goes to DIR/log for post-mortems.
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB" start >/dev/null
  echo "$port" >"$dir/port"
}

case "$cmd" in
  start)
    [ -x "$PG_BIN/initdb" ] || { echo "postgres.sh: no initdb in $PG_BIN (install postgresql-15: scripts/setup-host.sh)" >&2; exit 2; }
    if [ -z "$dir" ]; then dir=$(mktemp -d /tmp/dsjobs-pg-XXXXXX); fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 0755 "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      # Locale C: text sorts by bytes, as SQLite's BINARY collation does (keyset paging compares ids and times).
      as_owner "$PG_BIN/initdb" -D "$dir/data" -U dsjobs --auth=trust --locale=C -E UTF8 >/dev/null
    fi
    if [ -f "$dir/port" ]; then port=$(cat "$dir/port"); else port=$(free_port); fi
    start_cluster "$port"
    # The database the URL names (the cluster has `postgres` too; tests make more next to it).
    as_owner "$PG_BIN/psql" -h "$dir" -p "$port" -U dsjobs -d postgres -qAtc "select 1 from pg_database where datname='dsjobs'" | grep -q 1 \
      || as_owner "$PG_BIN/psql" -h "$dir" -p "$port" -U dsjobs -d postgres -qc 'create database dsjobs' >/dev/null
    echo "$dir $port postgres://dsjobs@127.0.0.1:$port/dsjobs"
    ;;
  stop)
    [ -n "$dir" ] || { echo "usage: postgres.sh stop DIR" >&2; exit 2; }
    if [ -f "$dir/data/postmaster.pid" ]; then as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true; fi
    rm -rf "$dir"
    ;;
  halt)
    [ -n "$dir" ] || { echo "usage: postgres.sh halt DIR" >&2; exit 2; }
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  restart)
    [ -n "$dir" ] || { echo "usage: postgres.sh restart DIR" >&2; exit 2; }
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    start_cluster "$(cat "$dir/port")"
    ;;
  *)
    echo "usage: postgres.sh start [DIR] | stop DIR | halt DIR | restart DIR" >&2
    exit 2
    ;;
esac
