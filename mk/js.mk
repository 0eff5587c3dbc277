# JavaScript binding: the `synodos` npm package (bindings/wasm) and its tests (tests/js).
# `make test-js` installs what it needs (scripts/setup-js.sh), builds the package, and runs
# the Node suites and the headless Chromium test.
.PHONY: setup-js build-js test-js bench-js build-net-bin
JS_TESTS := tests/js

setup-js:
	@bash scripts/setup-js.sh

build-js: setup-js
	bash bindings/wasm/build.sh
	cd $(JS_TESTS) && npm ci --no-audit --no-fund

# The network suites (tests/js/node/net-*.test.mjs) run the Rust `synodos` binary, found in
# $CARGO_TARGET_DIR (or target/)/release, or at $SYNODOS_BIN.
build-net-bin:
	cargo build --release -p synodos-net

# Every test process loads node/panic-guard.mjs: a file fails if synodos panicked in it
# unannounced (see there).
test-js: build-js build-net-bin
	cd $(JS_TESTS) && npx tsc -p tsconfig.json
	cd $(JS_TESTS) && node --import ./node/panic-guard.mjs --test node/ browser/

# Decisions per second in Node (local acceptors, JS clients) next to the Rust figure.
bench-js: build-js
	node $(JS_TESTS)/bench/bench.mjs

# The same package built by the fallback toolchain (Debian's rustc-web, -Zbuild-std), and
# the same tests on it. Not part of `make test` (it builds std: ~2 minutes).
.PHONY: test-js-debian
test-js-debian: setup-js
	dpkg -s rustc-web rust-web-src lld-22 >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq rustc-web rust-web-src lld-22 </dev/null)
	SYNODOS_WASM_TOOLCHAIN=debian bash bindings/wasm/build.sh
	cd $(JS_TESTS) && npm ci --no-audit --no-fund && npx tsc -p tsconfig.json && node --import ./node/panic-guard.mjs --test node/ browser/
