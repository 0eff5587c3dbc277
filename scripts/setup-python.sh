#!/usr/bin/env bash
# Create .venv (git-ignored) with what the Python binding's build and tests need:
# maturin, pytest, mypy, hypothesis (the argument sweep). Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv

if ! command -v "$PY" >/dev/null 2>&1 || ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  # Debian splits venv and pip out of python3.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv python3-pip
  else
    echo "setup-python: need python3 with the venv module (apt-get install python3-venv)" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi

# Pinned tool versions, installed only when missing or different.
want=(maturin==1.16.0 pytest==9.2.0 mypy==1.20.2 hypothesis==6.170.15)
missing=()
for spec in "${want[@]}"; do
  name=${spec%%==*}
  version=${spec##*==}
  have=$("$VENV/bin/python" - "$name" <<'PYEOF' 2>/dev/null || true
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass
PYEOF
)
  [ "$have" = "$version" ] || missing+=("$spec")
done
if [ ${#missing[@]} -gt 0 ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}"
fi
