# Sourced by scripts/demo and scripts/test: make .venv (Python >= 3.11) with the package and
# the given extras, and put it first on PATH.  Usage: source scripts/venv.sh EXTRAS
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python >= 3.11 is needed (set PYTHON=...)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$1]"
export PATH="$PWD/.venv/bin:$PATH"
