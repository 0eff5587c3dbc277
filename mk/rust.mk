# Rust: the core crate, its tests, lints and long runs.
CARGO ?= cargo

.PHONY: setup-rust lint test-rust demo-rust sim-long bench-rust bench-filelog
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

# 100,000 kernel schedules and 20,000 of each of the 7 driver families; prints "schedules run, violations".
SIM_SCHEDULES ?= 100000
sim-long: setup-rust
	$(CARGO) run --release -q -p synodos --example simulate -- $(SIM_SCHEDULES)

# Decisions/s, appends/s, per-message cost, learner memory (criterion).
bench-rust: setup-rust
	$(CARGO) bench -p synodos --bench throughput

# Many writers, one log: raw fsync rate, then appends/s, p50/p99 and failures for 1..256
# threads on one handle and 1/16/64 separate handles, memory and FileLog acceptors.
.PHONY: bench-log bench-log-rust
BENCH_LOG_SECONDS ?= 3
# Many writers on one log, in process: Rust rows (memory, FileLog on LocalAcceptors and on
# AcceptorThreads), then the same through the Python binding.
bench-log: bench-log-rust bench-log-python
bench-log-rust: setup-rust
	$(CARGO) run --release -q -p synodos --example bench_log -- $(BENCH_LOG_SECONDS)

# Raw write+fdatasync vs FileLog unbatched and in batches of 16 and 64; recovery speed.
bench-filelog: setup-rust
	$(CARGO) bench -p synodos --bench file_log

# 64 separate handles x 50 appends each on FileLogs (minutes): every append succeeds and is
# read back at its slot.
.PHONY: contention-long
contention-long: setup-rust
	$(CARGO) test --release -p synodos --test contention -- --ignored --nocapture

# The long kill -9 run: 10,000 kills of an acceptor on FileLogs; prints
# "crash: cycles N, acknowledged N, lost N" (lost must be 0).
.PHONY: crash-long
crash-long: setup-rust
	SYNODOS_CRASH_CYCLES=10000 $(CARGO) test --release -p synodos --test crash -- --nocapture kill_9_loop_loses
