#!/usr/bin/env bash
# Start or stop a private PostgreSQL server for the test run: its own data directory, port and
# socket directory, run as the `postgres` user when we are root (PostgreSQL refuses root).
#   scripts/postgres.sh start DIR PORT   → prints the KAM_DATABASE_URL to use
#   scripts/postgres.sh stop DIR
set -euo pipefail
action=$1 dir=$2 port=${3:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB" start >/dev/null
  as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -qc "CREATE ROLE kam LOGIN CREATEDB PASSWORD 'kam'" >/dev/null
  as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -qc "CREATE DATABASE kam OWNER kam" >/dev/null
  echo "postgresql://kam:kam@127.0.0.1:$port/kam"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
esac
