#!/usr/bin/env bash
# Set up, load demo data into an empty database, and serve KAM on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh app
.venv/bin/kam demo
exec .venv/bin/kam serve --host "${KAM_HOST:-127.0.0.1}" --port "${KAM_PORT:-8000}"
