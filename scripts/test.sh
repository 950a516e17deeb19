#!/usr/bin/env bash
# The whole test suite: lint, Django checks, then every test on SQLite and again on a real
# PostgreSQL server started here (browser tests drive Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
export KAM_DATA_DIR=${KAM_DATA_DIR:-$(mktemp -d /tmp/kam-test-XXXX)}
# Tests run in parallel processes (pytest-xdist), one per core by default: each has its own test database.
workers=${KAM_TEST_WORKERS:-$(nproc)}

echo "== lint and checks"
ruff check src tests bench
ruff format --check src tests bench
python -m kam.manage check --fail-level WARNING
python -m kam.manage makemigrations --check --dry-run >/dev/null
KAM_HTTPS=true KAM_SECRET_KEY="check-$(head -c 32 /dev/urandom | base64)" python -m kam.manage check --deploy --fail-level WARNING

echo "== tests on SQLite"
pytest -p no:cacheprovider -n "$workers" "$@"

echo "== tests on PostgreSQL"
pgdir=$(mktemp -d /tmp/kam-pg-XXXX)
trap 'scripts/postgres.sh stop "$pgdir"' EXIT
KAM_DATABASE_URL=$(scripts/postgres.sh start "$pgdir" "${KAM_TEST_PG_PORT:-54329}")
export KAM_DATABASE_URL
pytest -p no:cacheprovider -n "$workers" "$@"
