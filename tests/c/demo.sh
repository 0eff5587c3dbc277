#!/usr/bin/env bash
# The C demo programs' command-line contract, as `make demo` uses them: three acceptor-c on
# file logs (each prints `READY <url>`), writer-c appends 20 values through them (one
# `slot <n> <value>` line each, exit 0), one acceptor killed with kill -9 and the writer still
# succeeds on two of three, the killed one restarted on its directory, then SIGTERM stops each
# acceptor with exit 0. Every process is killed by its pid on exit, also when a check fails.
#
# usage: tests/c/demo.sh DEMO_DIR   (holds acceptor-c and writer-c: make build-c-demo)
set -euo pipefail
BIN="$(cd "$1" && pwd)"
WORK="$(mktemp -d /tmp/synodos-c-demo-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "demo.sh: $*" >&2; exit 1; }

printf '# the demo token\n%s\n' "c-demo-token-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" > "$WORK/tokens"
URLS=()
# Start acceptor N on PORT and wait for its ready line (a blocking read on a fifo, 20 s at most).
start() {
  local n=$1 port=$2 fifo="$WORK/ready-$1"
  rm -f "$fifo" && mkfifo "$fifo"
  "$BIN/acceptor-c" --dir "$WORK/acceptor-$n" --port "$port" --token-file "$WORK/tokens" --id "$n" \
    --cluster c-demo > "$fifo" &
  PIDS[$n]=$!
  local line=""
  exec {fd}< "$fifo"
  read -r -t 20 line <&"$fd" || fail "acceptor $n printed no ready line"
  exec {fd}<&-
  [[ "$line" =~ ^READY\ (http://127\.0\.0\.1:[0-9]+)$ ]] || fail "acceptor $n: bad ready line: $line"
  URLS[$n]="${BASH_REMATCH[1]}"
}
for n in 1 2 3; do start "$n" 0; done
PEERS="${URLS[1]},${URLS[2]},${URLS[3]}"

out="$("$BIN/writer-c" --peers "$PEERS" --token-file "$WORK/tokens" --cluster c-demo --count 20 --tag c)" ||
  fail "writer-c failed"
[ "$(wc -l <<< "$out")" -eq 20 ] || fail "expected 20 lines, got: $out"
for i in $(seq 0 19); do
  grep -qE "^slot [0-9]+ c-$i\$" <<< "$out" || fail "no line for c-$i in: $out"
done

# kill -9 one acceptor: two of three still make a majority.
kill -9 "${PIDS[1]}" && wait "${PIDS[1]}" 2>/dev/null || true
out="$("$BIN/writer-c" --peers "$PEERS" --token-file "$WORK/tokens" --cluster c-demo --count 3 --tag k)" ||
  fail "writer-c failed with one acceptor down"
[ "$(wc -l <<< "$out")" -eq 3 ] || fail "expected 3 lines, got: $out"
# Restarted on its directory and port, it serves again (its file logs are free once it died).
start 1 "${URLS[1]##*:}"

# A wrong token: the writer fails (exit 1) and says why.
echo "wrong-token-0123456789abcdef" > "$WORK/wrong"
if err="$("$BIN/writer-c" --peers "$PEERS" --token-file "$WORK/wrong" --cluster c-demo --count 1 --tag x 2>&1)"; then
  fail "writer-c succeeded with a wrong token"
fi
grep -q 401 <<< "$err" || fail "the wrong-token error does not say 401: $err"

for n in 1 2 3; do
  kill -TERM "${PIDS[$n]}"
  rc=0
  wait "${PIDS[$n]}" || rc=$?
  [ "$rc" -eq 0 ] || fail "acceptor $n exited $rc after SIGTERM"
done
PIDS=()
echo "demo.sh: acceptor-c and writer-c ok (20 appends, 3 with one acceptor killed, restart, wrong token, SIGTERM)"
