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
