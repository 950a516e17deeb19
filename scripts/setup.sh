#!/usr/bin/env bash
# Set up everything KAM needs on a Debian machine: system packages (as root), a virtual
# environment in .venv with KAM installed. `scripts/setup.sh test` adds what the tests need
# (PostgreSQL server, Chromium, CJK fonts). Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-app}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Please install as root: apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PY=${PYTHON:-python3}
"$PY" -c "import ensurepip, venv" 2>/dev/null || apt_install python3-venv
apt_install fonts-wqy-zenhei
if [ "$want" = test ]; then
  apt_install postgresql chromium gettext
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.kam-installed-$want
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  if [ "$want" = test ]; then
    .venv/bin/pip install -q -e '.[test]'
  else
    .venv/bin/pip install -q -e .
  fi
  touch "$stamp"
fi
