# Python binding: build the extension into .venv with maturin, run pytest and mypy --strict.
# `make test-python` works from a clean clone (scripts/setup-python.sh makes .venv).
VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: setup-python build-python test-python test-wheels bench-python bench-log-python
setup-python:
	@bash scripts/setup-python.sh

build-python: setup-python setup-rust
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --profile dist --features file-log -q

test-python: build-python build-net
	$(VPY) -m pytest tests/python -q
	bash scripts/wheel-smoke.sh
	$(VPY) -m mypy --strict tests/python bindings/python/examples examples/demo

# Decisions per second: local acceptors, Python clients, Rust, composable-paxos (PyPI).
bench-python: build-python
	@$(VPY) -c 'import composable_paxos' 2>/dev/null || $(VPY) -m pip install -q --disable-pip-version-check composable-paxos==1.0.0
	$(VPY) bindings/python/bench/bench.py

bench-log-python: build-python
	$(VPY) bindings/python/bench/log_writers.py $(BENCH_LOG_SECONDS)

# The abi3 wheel, installed and smoke-tested on CPython 3.9, 3.11, 3.12 and 3.13 (part of test-python).
test-wheels: build-python
	bash scripts/wheel-smoke.sh
