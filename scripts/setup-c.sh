#!/usr/bin/env bash
# Install what the C binding's build and tests need, skipping what is already there:
# gcc, make, pkg-config and valgrind (apt), and cbindgen at the pinned version (cargo),
# into a directory outside the clone. Prints the cbindgen binary's path on the last line.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"

CBINDGEN_VERSION="${CBINDGEN_VERSION:-0.29.4}"
CBINDGEN_ROOT="$HOME/.cache/synodos-tools/cbindgen-$CBINDGEN_VERSION"
CBINDGEN="$CBINDGEN_ROOT/bin/cbindgen"

missing=()
for tool in gcc make pkg-config valgrind; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-c: installing ${missing[*]} with apt" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" >&2
fi

if [ -x "$CBINDGEN" ] && "$CBINDGEN" --version 2>/dev/null | grep -q " $CBINDGEN_VERSION\$"; then
  :
else
  echo "setup-c: installing cbindgen $CBINDGEN_VERSION into $CBINDGEN_ROOT" >&2
  # Its own target dir, so that it never shares build outputs with the workspace.
  CARGO_TARGET_DIR="$HOME/.cache/synodos-tools/cbindgen-build" \
    cargo install --locked --version "$CBINDGEN_VERSION" --root "$CBINDGEN_ROOT" cbindgen >&2
  rm -rf "$HOME/.cache/synodos-tools/cbindgen-build"
fi
echo "$CBINDGEN"
