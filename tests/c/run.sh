#!/usr/bin/env bash
# Build every C test twice and run it twice: with -fsanitize=address,undefined (ASan, UBSan,
# LeakSanitizer; any report fails the test), and without sanitizers under
# `valgrind --leak-check=full --error-exitcode=1`. The README's C examples (extracted from
# README.md) are tests; test_sweep calls every function with hostile arguments.
#
# test_net starts `synodos serve --peers` nodes: $SYNODOS_BIN, by default LIBDIR/synodos
# (`cargo build --release -p synodos-net`); it kills each by its pid, also when it fails.
#
# usage: tests/c/run.sh LIBDIR OUTDIR   (LIBDIR holds libsynodos.a; run from anywhere)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LIBDIR="$(cd "$1" && pwd)"
OUT="$2"
CC="${CC:-gcc}"
mkdir -p "$OUT/asan" "$OUT/valgrind" "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"

TESTS=(test_vectors test_cluster test_competing test_failing_callback test_async_transport test_c_log test_regressions test_sweep test_net readme_example readme_net_example)

# The README's example, verbatim: the first ```c block after "## C quick start".
awk '/^## C quick start/{s=1; next} s && /^## /{exit} s && /^```c$/{c=1; next} c && /^```$/{exit} c{print}' \
  "$ROOT/README.md" > "$OUT/readme_example.c"
if [ ! -s "$OUT/readme_example.c" ]; then
  echo "run.sh: no \`\`\`c block under '## C quick start' in README.md" >&2
  exit 1
fi
# The network example: the first ```c block after "### C over the network".
awk '/^### C over the network/{s=1; next} s && /^##/{exit} s && /^```c$/{c=1; next} c && /^```$/{exit} c{print}' \
  "$ROOT/README.md" > "$OUT/readme_net_example.c"
if [ ! -s "$OUT/readme_net_example.c" ]; then
  echo "run.sh: no \`\`\`c block under '### C over the network' in README.md" >&2
  exit 1
fi

CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -O1 -I"$ROOT/include" -I"$ROOT/tests/c")
LIBS=("$LIBDIR/libsynodos.a" -lpthread -ldl -lm)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

src_of() {
  case "$1" in
    readme_example | readme_net_example) echo "$OUT/$1.c" ;;
    *) echo "$ROOT/tests/c/$1.c" ;;
  esac
}

for t in "${TESTS[@]}"; do
  src="$(src_of "$t")"
  "$CC" "${CFLAGS[@]}" "${SAN[@]}" -o "$OUT/asan/$t" "$src" "${LIBS[@]}"
  "$CC" "${CFLAGS[@]}" -o "$OUT/valgrind/$t" "$src" "${LIBS[@]}"
done

passed=0
failed=0
report() { # name, status, log
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1))
    echo "ok   $1"
  else
    failed=$((failed + 1))
    echo "FAIL $1 (log: $3)"
    tail -n 40 "$3" | sed 's/^/    /'
  fi
}

cd "$ROOT" # the tests read tests/vectors/ relative to the repository
# Any Rust panic inside synodos aborts the test program (it would otherwise become a
# SYNODOS_ERR_PANIC status that a test might not look at): "no input path can panic" is
# checked by every test, not only by those that look at synodos_panic_count().
export SYNODOS_ABORT_ON_PANIC=1
export SYNODOS_BIN="${SYNODOS_BIN:-$LIBDIR/synodos}"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for t in "${TESTS[@]}"; do
  log="$OUT/logs/$t.asan.log"
  rc=0
  "$OUT/asan/$t" > "$log" 2>&1 || rc=$?
  # Any sanitizer report counts, even one that did not change the exit status.
  if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then rc=1; fi
  report "asan+ubsan $t" "$rc" "$log"
done
for t in "${TESTS[@]}"; do
  log="$OUT/logs/$t.valgrind.log"
  rc=0
  valgrind -q --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=1 \
    --suppressions="$ROOT/tests/c/valgrind.supp" \
    "$OUT/valgrind/$t" > "$log" 2>&1 || rc=$?
  # Errors and leaks make valgrind exit 1; also catch any report that did not.
  if grep -qE "^==[0-9]+== .*(Invalid (read|write|free)|uninitialised|Mismatched|definitely lost|possibly lost|indirectly lost|ERROR SUMMARY: [1-9])" "$log"; then
    rc=1
  fi
  report "valgrind $t" "$rc" "$log"
done

echo "c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
