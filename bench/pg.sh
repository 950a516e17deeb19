#!/usr/bin/env bash
# A PostgreSQL server for the benchmarks whose data directory is KEPT between runs (unlike
# scripts/postgres.sh, whose `stop` deletes it): generate a large archive once, measure it again later.
#   bench/pg.sh start DIR PORT   → creates the cluster if DIR has none, starts it, prints the KAM_DATABASE_URL
#   bench/pg.sh stop DIR         → stops it, keeps DIR
# Same settings as scripts/postgres.sh (fsync off, shared_buffers 256 MB), so figures compare.
set -euo pipefail
action=$1 dir=$(realpath -m "$2") port=${3:-54350}  # absolute: the socket directory is given to the server
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  fresh=0
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fresh=1
  fi
  if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB -c max_wal_size=4GB" start >/dev/null
  fi
  if [ "$fresh" = 1 ]; then
    as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -qc "CREATE ROLE kam LOGIN CREATEDB PASSWORD 'kam'" >/dev/null
    as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -qc "CREATE DATABASE kam OWNER kam" >/dev/null
  fi
  echo "postgresql://kam:kam@127.0.0.1:$port/kam"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: bench/pg.sh start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
