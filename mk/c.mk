# C binding: libsynodos.{a,so} (crate bindings/c), the cbindgen header include/synodos.h, the
# C test suite (ASan+UBSan and valgrind), install with pkg-config, and the C benchmark.
# Honours CARGO_TARGET_DIR (default target/).
C_TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),$(CURDIR)/target)
C_LIBDIR := $(C_TARGET_DIR)/release
C_OUT := $(C_TARGET_DIR)/c-tests
CBINDGEN_VERSION := 0.29.4
CBINDGEN := $(HOME)/.cache/synodos-tools/cbindgen-$(CBINDGEN_VERSION)/bin/cbindgen
PREFIX ?= /usr/local
C_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
BENCH_DECISIONS ?= 200000

# The C programs of `make demo` (examples/demo/): build/demo/acceptor-c and build/demo/writer-c,
# linked statically against libsynodos.a (no LD_LIBRARY_PATH needed).
C_DEMO_DIR := $(CURDIR)/build/demo
C_DEMO_ACCEPTOR := $(C_DEMO_DIR)/acceptor-c
C_DEMO_WRITER := $(C_DEMO_DIR)/writer-c

.PHONY: setup-c build-c header-c header-check-c test-c install install-check-c bench-c build-c-demo
setup-c:
	@CBINDGEN_VERSION=$(CBINDGEN_VERSION) bash scripts/setup-c.sh >/dev/null

build-c: setup-rust setup-c
	$(CARGO) build --release -p synodos-c

# Regenerate the committed header (after changing bindings/c/src).
header-c: setup-c
	$(CBINDGEN) --quiet --config bindings/c/cbindgen.toml --crate synodos-c --output include/synodos.h bindings/c

# Fail when the committed header differs from what the pinned cbindgen generates.
header-check-c: setup-c
	@mkdir -p $(C_OUT)
	$(CBINDGEN) --quiet --config bindings/c/cbindgen.toml --crate synodos-c --output $(C_OUT)/synodos.h bindings/c
	@diff -u include/synodos.h $(C_OUT)/synodos.h || { echo "include/synodos.h is stale: run 'make header-c' and commit it" >&2; exit 1; }
	@echo "include/synodos.h matches cbindgen $(CBINDGEN_VERSION)"

# build-net: test_net.c starts `synodos serve --peers` nodes (the binary in $(C_LIBDIR)).
# build-c-demo: tests/c/demo.sh checks the demo programs' command-line contract.
test-c: build-c build-net header-check-c build-c-demo
	SYNODOS_BIN=$(C_LIBDIR)/synodos bash tests/c/run.sh $(C_LIBDIR) $(C_OUT)
	bash tests/c/demo.sh $(C_DEMO_DIR)
	$(MAKE) --no-print-directory install-check-c

install: build-c
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/synodos.h $(DESTDIR)$(PREFIX)/include/synodos.h
	install -m 644 $(C_LIBDIR)/libsynodos.a $(DESTDIR)$(PREFIX)/lib/libsynodos.a
	install -m 755 $(C_LIBDIR)/libsynodos.so $(DESTDIR)$(PREFIX)/lib/libsynodos.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(C_VERSION)|' bindings/c/synodos.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/synodos.pc

# Install into a scratch prefix and build the README example with pkg-config, as a user would.
install-check-c:
	rm -rf $(C_OUT)/prefix
	$(MAKE) --no-print-directory install PREFIX=$(C_OUT)/prefix
	cd $(C_OUT) && PKG_CONFIG_PATH=$(C_OUT)/prefix/lib/pkgconfig \
	  cc -std=c11 -Wall -Werror readme_example.c $$(PKG_CONFIG_PATH=$(C_OUT)/prefix/lib/pkgconfig pkg-config --cflags --libs synodos) -o readme_example_pkgconfig
	LD_LIBRARY_PATH=$(C_OUT)/prefix/lib $(C_OUT)/readme_example_pkgconfig
	@echo "install: pkg-config build of the README example (shared library) ran"

bench-c: build-c
	@mkdir -p $(C_OUT)
	gcc -std=c11 -O2 -Wall -Werror -Iinclude -o $(C_OUT)/bench tests/c/bench.c $(C_LIBDIR)/libsynodos.a -lpthread -ldl -lm
	$(C_OUT)/bench $(BENCH_DECISIONS)

build-c-demo: build-c
	@mkdir -p $(C_DEMO_DIR)
	gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -o $(C_DEMO_ACCEPTOR) examples/demo/acceptor.c $(C_LIBDIR)/libsynodos.a -lpthread -ldl -lm
	gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -o $(C_DEMO_WRITER) examples/demo/writer.c $(C_LIBDIR)/libsynodos.a -lpthread -ldl -lm
	@echo "C demo: $(C_DEMO_ACCEPTOR) $(C_DEMO_WRITER)"
