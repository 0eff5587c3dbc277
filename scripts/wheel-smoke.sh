#!/usr/bin/env bash
# Build the abi3 wheel once and smoke-test it on CPython 3.9, 3.11, 3.12 and 3.13: each gets a
# venv of its own (build/wheel-venvs/, reused), the wheel installed, and tests/python/wheel_smoke.py
# run (import, an in-process log, FileLog, serve + HttpAcceptor with a token, a 401).
# Interpreters are found as pythonX.Y on PATH or under pyenv; one that is missing is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSIONS=${WHEEL_PYTHONS:-3.9 3.11 3.12 3.13}
rm -rf build/wheels
VIRTUAL_ENV=$PWD/.venv .venv/bin/maturin build --profile dist --features file-log -q -o build/wheels
wheel=$(ls build/wheels/synodos-*-abi3-*.whl)
echo "wheel-smoke: $wheel"
for v in $VERSIONS; do
  py=
  # pyenv first: its shims answer `command -v` for versions that are not selected.
  if command -v pyenv >/dev/null 2>&1; then
    found=$(pyenv versions --bare | grep -E "^$v(\.|$)" | tail -1 || true)
    [ -n "$found" ] && py="$(pyenv root)/versions/$found/bin/python$v"
  fi
  [ -n "$py" ] && [ -x "$py" ] || py=$(command -v "python$v" || true)
  if [ -z "$py" ] || [ ! -x "$py" ]; then
    echo "wheel-smoke: no CPython $v (pythonX.Y on PATH or under pyenv); set WHEEL_PYTHONS to the ones you have" >&2
    exit 1
  fi
  venv=build/wheel-venvs/$v
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
  # Run from tests/python's parent's parent so that the source tree's package is not imported.
  (cd build && "../$venv/bin/python" -W error::ResourceWarning ../tests/python/wheel_smoke.py)
done
