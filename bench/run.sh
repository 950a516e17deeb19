#!/usr/bin/env bash
# Benchmarks on SQLite and PostgreSQL (`make bench`; see bench/README.md): HTTP, reminders, bulk messaging, import.
#   BENCH_ACCOUNTS (100000)  BENCH_CONTACTS (1000000)  BENCH_REQUESTS (200 per operation)
#   BENCH_ACTIVITIES (2000000; 0: none)  BENCH_IMPORT_ROWS (100000; 0 skips the import benchmark)
#   BENCH_SALES_LINES (1000000; 0 skips the sales import benchmark)  BENCH_PG_PORT (54350)  BENCH_OUT (bench/out)
#   BENCH_OPPORTUNITIES (500000) and BENCH_SALES (10000000 sales lines) in the archive (issue 3; 0: none)
#   BENCH_PG_DIR: keep the PostgreSQL archive in this directory (bench/pg.sh) and reuse it next time
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
py=$PWD/.venv/bin/python
accounts=${BENCH_ACCOUNTS:-100000}
contacts=${BENCH_CONTACTS:-1000000}
activities=${BENCH_ACTIVITIES:-2000000}
requests=${BENCH_REQUESTS:-200}
import_rows=${BENCH_IMPORT_ROWS:-100000}
sales_lines=${BENCH_SALES_LINES:-1000000}
opportunities=${BENCH_OPPORTUNITIES:-500000}
sales=${BENCH_SALES:-10000000}
out=${BENCH_OUT:-$PWD/bench/out}
mkdir -p "$out"
unset KAM_DATABASE_URL
results=()

echo "== SQLite: $accounts accounts, $contacts contacts, $activities activities, $opportunities opportunities, $sales sales lines"
# Kept between runs: generated once per size (the marker file in the directory says which); the
# activities, opportunities and sales lines are added to an archive generated earlier without them.
export KAM_DATA_DIR=$PWD/bench/data/sqlite-$accounts-$contacts
mkdir -p "$KAM_DATA_DIR"
"$py" bench/generate.py --accounts "$accounts" --contacts "$contacts" --activities "$activities" \
  --opportunities "$opportunities" --sales "$sales"
"$py" bench/http_bench.py --label sqlite --requests "$requests" --out "$out/sqlite.json"
results+=("$out/sqlite.json")
"$py" bench/reminders_bench.py --label sqlite --out "$out/reminders-sqlite.json"
results+=("$out/reminders-sqlite.json")
if [ "$sales" -gt 0 ]; then  # rolled back
  "$py" bench/sales_recompute_bench.py --label sqlite --out "$out/recompute-sqlite.json"
  results+=("$out/recompute-sqlite.json")
fi
"$py" bench/messaging_bench.py --label sqlite --out "$out/messaging-sqlite.json"
messaging=("$out/messaging-sqlite.json")
if [ "$import_rows" -gt 0 ]; then
  rm -rf "$PWD/bench/data/import-sqlite"
  if KAM_DATA_DIR=$PWD/bench/data/import-sqlite "$py" bench/import_bench.py --rows "$import_rows" --label sqlite \
      --out "$out/import-sqlite.json"; then :; else echo "(the SQLite import failed; see above)"; fi
  results+=("$out/import-sqlite.json")
fi
if [ "$sales_lines" -gt 0 ]; then  # its own archive of 10,000 accounts, made fresh
  rm -rf "$PWD/bench/data/sales-sqlite"
  KAM_DATA_DIR=$PWD/bench/data/sales-sqlite "$py" bench/sales_import_bench.py --lines "$sales_lines" --label sqlite \
    --out "$out/sales-import-sqlite.json"
  results+=("$out/sales-import-sqlite.json")
fi

echo "== PostgreSQL: $accounts accounts, $contacts contacts, $activities activities, $opportunities opportunities, $sales sales lines"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ -n "${BENCH_PG_DIR:-}" ]; then
  # A kept server (bench/pg.sh): generated once, reused (the marker in $BENCH_PG_DIR/kam says what it holds).
  pgdir=$(realpath -m "$BENCH_PG_DIR")
  trap 'bench/pg.sh stop "$pgdir"' EXIT
  url=$(bench/pg.sh start "$pgdir" "${BENCH_PG_PORT:-54350}")
  export KAM_DATA_DIR=$pgdir/kam
  mkdir -p "$KAM_DATA_DIR"
  "$pgbin/psql" "$url" -qc "DROP DATABASE IF EXISTS kam_import" -c "DROP DATABASE IF EXISTS kam_sales"
else
  pgdir=$(mktemp -d /tmp/kam-bench-pg-XXXX)
  trap 'scripts/postgres.sh stop "$pgdir"' EXIT
  url=$(scripts/postgres.sh start "$pgdir" "${BENCH_PG_PORT:-54350}")
  # A fresh server every run: its data directory (secret key, generation marker) starts empty too.
  export KAM_DATA_DIR=$PWD/bench/data/postgresql
  rm -rf "$KAM_DATA_DIR"
  mkdir -p "$KAM_DATA_DIR"
fi
KAM_DATABASE_URL=$url "$py" bench/generate.py --accounts "$accounts" --contacts "$contacts" --activities "$activities" \
  --opportunities "$opportunities" --sales "$sales"
KAM_DATABASE_URL=$url "$py" bench/http_bench.py --label postgresql --requests "$requests" --out "$out/postgresql.json"
results+=("$out/postgresql.json")
KAM_DATABASE_URL=$url "$py" bench/reminders_bench.py --label postgresql --out "$out/reminders-postgresql.json"
results+=("$out/reminders-postgresql.json")
if [ "$sales" -gt 0 ]; then  # rolled back
  KAM_DATABASE_URL=$url "$py" bench/sales_recompute_bench.py --label postgresql --out "$out/recompute-postgresql.json"
  results+=("$out/recompute-postgresql.json")
fi
KAM_DATABASE_URL=$url "$py" bench/messaging_bench.py --label postgresql --out "$out/messaging-postgresql.json"
messaging+=("$out/messaging-postgresql.json")
if [ "$import_rows" -gt 0 ]; then
  "$pgbin/psql" "$url" -qc "CREATE DATABASE kam_import"
  rm -rf "$PWD/bench/data/import-postgresql"
  if KAM_DATABASE_URL=${url%/*}/kam_import KAM_DATA_DIR=$PWD/bench/data/import-postgresql \
      "$py" bench/import_bench.py --rows "$import_rows" --label postgresql --out "$out/import-postgresql.json"; then :
  else echo "(the PostgreSQL import failed; see above)"; fi
  results+=("$out/import-postgresql.json")
fi
if [ "$sales_lines" -gt 0 ]; then
  "$pgbin/psql" "$url" -qc "CREATE DATABASE kam_sales"
  rm -rf "$PWD/bench/data/sales-postgresql"
  KAM_DATABASE_URL=${url%/*}/kam_sales KAM_DATA_DIR=$PWD/bench/data/sales-postgresql \
    "$py" bench/sales_import_bench.py --lines "$sales_lines" --label postgresql --out "$out/sales-import-postgresql.json"
  results+=("$out/sales-import-postgresql.json")
fi

echo
echo "== results (server time from gunicorn's access log; targets in bench/README.md)"
"$py" bench/http_bench.py --report "${results[@]}"
"$py" bench/messaging_bench.py --report "${messaging[@]}"
