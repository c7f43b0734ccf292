#!/usr/bin/env bash
# Sets up everything ippyo needs on a fresh Debian machine, as root: Debian packages, a Python
# virtual environment in .venv with ippyo installed (editable, with test tools), and then each
# component's own step in scripts/setup.d/ (npm's solc, the geth build, ...). Safe to run again:
# every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '\n== setup: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
mapfile -t want < <(grep -vE '^\s*(#|$)' scripts/apt-packages.txt | awk '{print $1}')
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Python ------------------------------------------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "python venv (.venv) from $($PY --version)"
  $PY -m venv .venv
fi
stamp=.venv/.ippyo-installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "pip install -e .[test]"
  .venv/bin/python -m pip install -q --upgrade pip wheel setuptools
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi

# --- component steps -----------------------------------------------------------------------------
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  log "$(basename "$step")"
  ROOT=$ROOT bash "$step"
done
log "done"
