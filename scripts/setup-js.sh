#!/usr/bin/env bash
# Everything the JS binding's build and tests need; idempotent (skips what is there).
#  1. a Rust that targets wasm32-unknown-unknown: rustup's target (under a timeout, as it can
#     hang), else Debian's rustc-web + rust-web-src + lld (bindings/wasm/build.sh then uses
#     -Zbuild-std);
#  2. wasm-bindgen-cli at exactly the crate's version, in $HOME/.cache (outside the clone);
#  3. Node and npm (apt) and the test dependencies (npm ci in tests/js);
#  4. Chromium (apt) for the browser test.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
WB_VERSION="0.2.130"
WB_DIR="$HOME/.cache/synodos-tools/wasm-bindgen-$WB_VERSION"

apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq "$@" </dev/null
}

bash "$ROOT/scripts/setup-rust.sh"

# 1. wasm target
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup-js: rustup wasm32-unknown-unknown target present"
elif command -v rustup >/dev/null 2>&1 && timeout 120 rustup target add wasm32-unknown-unknown </dev/null; then
  echo "setup-js: rustup wasm32-unknown-unknown target installed"
else
  echo "setup-js: rustup target unavailable; using Debian's rustc-web with -Zbuild-std"
  dpkg -s rustc-web rust-web-src lld-22 >/dev/null 2>&1 || apt_install rustc-web rust-web-src lld-22
fi

# 2. wasm-bindgen CLI, same version as the crate (pinned with = in bindings/wasm/Cargo.toml)
if [ -x "$WB_DIR/bin/wasm-bindgen" ] && "$WB_DIR/bin/wasm-bindgen" --version | grep -q " $WB_VERSION\$"; then
  echo "setup-js: wasm-bindgen $WB_VERSION present"
else
  # --locked first; its lockfile pins a webpki-roots version some registry mirrors lack, so
  # fall back to a fresh resolution (only the CLI's own dependencies differ).
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked --root "$WB_DIR" </dev/null \
    || cargo install wasm-bindgen-cli --version "$WB_VERSION" --root "$WB_DIR" </dev/null
fi

# 3. Node, npm, test dependencies
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
# 4. Chromium
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
echo "setup-js: ready"
