#!/usr/bin/env bash
# Build the `synodos` npm package into bindings/wasm/pkg/ (git-ignored):
#   pkg/node/  wasm-bindgen --target nodejs (CommonJS, + an ES module re-export)
#   pkg/web/   wasm-bindgen --target web (ES module; the entry awaits the .wasm itself)
#   pkg/package.json (exports map), pkg/synodos.d.ts (hand-written types)
# Toolchain: rustup's wasm32-unknown-unknown target when installed, else Debian's rustc-web
# with -Zbuild-std (see scripts/setup-js.sh). SYNODOS_WASM_TOOLCHAIN=debian forces the latter.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WB_VERSION="0.2.130"
WB="${WASM_BINDGEN:-$HOME/.cache/synodos-tools/wasm-bindgen-$WB_VERSION/bin/wasm-bindgen}"
export PATH="$HOME/.cargo/bin:$PATH"

# Release profile tuned for size and speed, only for this build (the root Cargo.toml is shared).
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${SYNODOS_WASM_OPT_LEVEL:-3}"
export CARGO_PROFILE_RELEASE_LTO=true
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_PROFILE_RELEASE_STRIP=false  # wasm-bindgen needs the target_features section; it drops names itself
export CARGO_PROFILE_RELEASE_PANIC=abort

toolchain="${SYNODOS_WASM_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    toolchain=rustup
  else
    toolchain=debian
  fi
fi
if [ "$toolchain" = rustup ]; then
  TARGET_DIR="$ROOT/target/wasm"
  CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --target wasm32-unknown-unknown \
    --manifest-path "$ROOT/Cargo.toml" -p synodos-wasm
else
  # Debian's Rust (rustc-web) and its std sources; its own target dir.
  TARGET_DIR="$ROOT/target/wasm-debian"
  PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$TARGET_DIR" \
    cargo build --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort \
    --manifest-path "$ROOT/Cargo.toml" -p synodos-wasm
fi
echo "built with the $toolchain toolchain"
WASM="$TARGET_DIR/wasm32-unknown-unknown/release/synodos_wasm.wasm"

[ -x "$WB" ] || { echo "wasm-bindgen $WB_VERSION not found at $WB: run scripts/setup-js.sh" >&2; exit 1; }
PKG="$HERE/pkg"
rm -rf "$PKG"
mkdir -p "$PKG/node" "$PKG/web"
"$WB" --target nodejs --no-typescript --remove-name-section --remove-producers-section --out-dir "$PKG/node" --out-name synodos_wasm "$WASM"
"$WB" --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$PKG/web" --out-name synodos_wasm "$WASM"

SRC="$HERE/pkg-src"
cp "$SRC/package.json" "$SRC/synodos.d.ts" "$PKG/"
# The network layer (net.js) sits on top of the core API; each build adds its transport
# (net-node.js: node:http(s), serve(), FileLog; net-web.js: fetch).
{
  echo "'use strict';"
  echo "const wasm = require('./synodos_wasm.js');"
  cat "$SRC/common.js" "$SRC/net.js" "$SRC/net-node.js"
  echo "const core = setupSynodos(wasm);"
  echo "module.exports = Object.freeze({ ...core, ...setupNodeNet(core) });"
} > "$PKG/node/index.cjs"
NAMES="SynodosError, Acceptor, AsyncAcceptor, MemoryLog, Proposer, ReplicatedLog, CounterIdGenerator, ServerIdGenerator, encodeMessage, decodeMessage, runLogConformance, runLogConformanceAsync, majority, HttpAcceptor, NodeClient, ApiError, __memoryBytes, __panicForTest, __panicCount, __liveValues"
NODE_NAMES="$NAMES, serve, FileLog"
{
  echo "import api from './index.cjs';"
  echo "export const { $NODE_NAMES } = api;"
  echo "export default api;"
} > "$PKG/node/index.mjs"
{
  echo "import init, * as wasm from './synodos_wasm.js';"
  echo "await init({ module_or_path: new URL('./synodos_wasm_bg.wasm', import.meta.url) });"
  cat "$SRC/common.js" "$SRC/net.js" "$SRC/net-web.js"
  echo "const core = setupSynodos(wasm);"
  echo "const api = Object.freeze({ ...core, ...setupWebNet(core) });"
  echo "export const { $NAMES } = api;"
  echo "export default api;"
} > "$PKG/web/index.js"
echo '{ "type": "module" }' > "$PKG/web/package.json"
echo '{ "type": "commonjs" }' > "$PKG/node/package.json"

raw=$(stat -c %s "$PKG/web/synodos_wasm_bg.wasm")
gz=$(gzip -9 -c "$PKG/web/synodos_wasm_bg.wasm" | wc -c)
echo "synodos_wasm_bg.wasm: $raw bytes raw, $gz bytes gzipped (-9)"
