# synodos: the two commands are `make demo` and `make test`. Each installs what it needs
# (apt, cargo, pip in .venv, npm) and skips what is already there.
# Each language keeps its rules in mk/<language>.mk; this file only ties them together.

SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.cargo/bin:$(PATH)

include mk/rust.mk
include mk/python.mk
include mk/js.mk
include mk/c.mk
include mk/net.mk
include mk/demo.mk

.PHONY: help test demo lint bench
help:
	@echo "make demo   - a cluster of a Python, a Node and a C acceptor; writers in all three; kill -9 and restart"
	@echo "make demo-rust - the Rust example in one process (three acceptors, two competing proposers, a log)"
	@echo "make test   - every test suite: Rust, Python, JS (Node + Chromium), C (ASan + valgrind), network"
	@echo "make sim-long, make crash-long, make bench - the long runs (see README)"
	@echo "make nemesis - about 10 min of faults on real nodes, then the checker (NEMESIS_SECONDS, NEMESIS_SEED, NEMESIS_NODES)"
	@echo "make bench-rust|bench-filelog|bench-python|bench-js|bench-c|bench-net|bench-node - one benchmark"

test: lint test-rust test-python test-js test-c test-net test-demo test-nemesis
	@echo "make test: all suites passed"


# Every benchmark (minutes, not part of `make test`); numbers in docs/BENCHMARKS.md.
bench: bench-rust bench-filelog bench-python bench-js bench-c bench-net bench-node
