# Network transport: crate synodos-net (net/), the `synodos` binary (`synodos serve`), its
# tests (all traffic on 127.0.0.1; every server process is killed by its pid, even when a test
# fails) and its benchmark. Honours CARGO (mk/rust.mk).
.PHONY: build-net test-net bench-net bench-node

build-net: setup-rust
	$(CARGO) build --release -p synodos-net

# Three `synodos serve` processes under a Proposer and a ReplicatedLog (kill -9, restart),
# every error status, TLS/mTLS, h2 and HTTP/1.1, observe; three nodes (`--peers`) under many
# writers, the leader killed and restarted, the node commands; about 15 s once built.
test-net: setup-rust
	$(CARGO) test --release -p synodos-net

# HTTP round trip, fsync, and decisions/s through HttpAcceptors to three `synodos serve`
# processes (1 and 64 in flight, memory and FileLog); numbers in docs/BENCHMARKS.md.
bench-net: setup-rust
	$(CARGO) bench -p synodos-net --bench net

# Three `synodos serve --peers` nodes on FileLogs (`synodos cluster`), driven by `synodos bench`
# with 1, 64 and 256 clients: appends/s, p50/p99, errors. Numbers in docs/BENCHMARKS.md.
bench-node: build-net
	scripts/bench-node.sh

# The nemesis (nemesis/, see nemesis/README.md): 3 (or 5) `synodos serve --peers` processes on
# FileLogs, every peer link through a fault-injecting proxy, Rust and Python clients, seeded
# faults (kill -9, SIGSTOP of the leader, partitions, one-way loss, delays, power failures,
# failing disks), then the checker. `synodos-bugs` is `synodos` built with the test-only
# feature `nemesis-bugs` (failing disks, injected bugs); the nodes of a clean run are the
# normal build, except a node whose disk is made to fail.
.PHONY: build-nemesis nemesis test-nemesis
NEMESIS_SECONDS ?= 600
NEMESIS_NODES ?= 3
NEMESIS_SEED ?=
NEMESIS_TARGET := $(or $(CARGO_TARGET_DIR),target)/release
NEMESIS_RUN = $(NEMESIS_TARGET)/nemesis $(if $(NEMESIS_SEED),--seed $(NEMESIS_SEED))

build-nemesis: setup-rust
	$(CARGO) build --release -p synodos-net --features nemesis-bugs
	cp -f $(NEMESIS_TARGET)/synodos $(NEMESIS_TARGET)/synodos-bugs
	$(CARGO) build --release -p synodos-net -p synodos-nemesis

# About 10 minutes of faults (NEMESIS_SECONDS, NEMESIS_NODES, NEMESIS_SEED).
nemesis: build-nemesis
	$(NEMESIS_RUN) --nodes $(NEMESIS_NODES) --seconds $(NEMESIS_SECONDS) --python nemesis/python/client.py

# The short run of `make test` (under 2 minutes once built): 30 s of every fault on 3 nodes,
# then two runs against injected bugs, each of which must be reported as a violation.
test-nemesis: build-nemesis
	$(NEMESIS_RUN) --nodes 3 --seconds 30 --python nemesis/python/client.py
	$(NEMESIS_RUN) --seconds 10 --bug quorum-one-short --faults partition --catch-up-seconds 5 --expect-violation
	$(NEMESIS_RUN) --seconds 10 --bug lazy-fsync --faults power --catch-up-seconds 5 --expect-violation
