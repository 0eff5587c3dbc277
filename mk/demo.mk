# `make demo`: a cluster of a Python, a Node and a C acceptor, with a Python, a Node and a C
# writer appending at once, one acceptor killed -9 and restarted (examples/demo/README.md).
# It needs the Python extension, the npm package and the C demo programs, built first.
.PHONY: demo test-demo

DEMO_C_ACCEPTOR := build/demo/acceptor-c
DEMO_C_WRITER := build/demo/writer-c

demo: build-python build-js build-c-demo
	$(VPY) examples/demo/run.py --c-acceptor $(DEMO_C_ACCEPTOR) --c-writer $(DEMO_C_WRITER)

# The cross-language cluster in `make test`: the demo with a fourth acceptor (`synodos serve`)
# and a fourth writer (Rust), the C acceptor killed -9 and restarted; it fails on any lost,
# moved or duplicated acknowledged append, or an acceptor that did not catch up.
test-demo: build-python build-js build-c-demo build-net
	$(CARGO) build --release -p synodos-net --example demo_writer
	$(VPY) examples/demo/run.py --c-acceptor $(DEMO_C_ACCEPTOR) --c-writer $(DEMO_C_WRITER) \
	  --rust-acceptor target/release/synodos --rust-writer target/release/examples/demo_writer --kill c
