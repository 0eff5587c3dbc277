# Rust: the core crate, its tests, lints and long runs.
CARGO ?= cargo

.PHONY: setup-rust lint test-rust demo-rust sim-long bench bench-rust
setup-rust:
	@bash scripts/setup-rust.sh

lint: setup-rust
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust: setup-rust
	$(CARGO) test --workspace --release
	$(CARGO) test --release -p synodos --features tokio --test driver

demo-rust: setup-rust
	$(CARGO) run --release -q -p synodos --example demo

# 100,000+ simulated schedules; prints "schedules run, violations".
SIM_SCHEDULES ?= 100000
sim-long: setup-rust
	$(CARGO) run --release -q -p synodos --example simulate -- $(SIM_SCHEDULES)

bench: bench-rust
bench-rust: setup-rust
	$(CARGO) bench -p synodos --bench throughput
