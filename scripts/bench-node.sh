#!/usr/bin/env bash
# make bench-node: three synodos nodes on FileLogs (`synodos cluster` on loopback, data under
# target/bench-node, the same disk as the build), driven by `synodos bench`: appends/s, p50 and
# p99 latency and errors for each number of clients. The cluster is stopped by its pid
# (SIGTERM; it stops its nodes) however the script ends.
#
# Knobs: CLIENTS (1,64,256), BENCH_SECONDS (5), VALUE_SIZE (256), SYNODOS (the binary),
# NODE_ARGS (more `synodos serve` options for every node, e.g. "--pipeline=4").
# Not here yet: the etcd side-by-side of the node issue (see docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SYNODOS=${SYNODOS:-target/release/synodos}
CLIENTS=${CLIENTS:-1,64,256}
BENCH_SECONDS=${BENCH_SECONDS:-5}
VALUE_SIZE=${VALUE_SIZE:-256}

dir=target/bench-node
rm -rf "$dir"
mkdir -p "$dir"
serve_args=()
for a in ${NODE_ARGS:-}; do serve_args+=("--serve-arg=$a"); done
"$SYNODOS" cluster --nodes 3 --dir "$dir/data" --base-port 0 --cluster bench "${serve_args[@]}" >"$dir/cluster.out" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

# Readiness: the cluster prints its --peers line once every node serves.
for _ in $(seq 1 300); do
  if grep -q '^--peers ' "$dir/cluster.out"; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "bench-node: synodos cluster exited" >&2; exit 1; }
  sleep 0.05
done
peers=$(sed -n 's/^--peers //p' "$dir/cluster.out")
[ -n "$peers" ] || { echo "bench-node: the cluster did not start" >&2; exit 1; }

echo "synodos bench: 3 nodes on FileLogs, loopback, ${VALUE_SIZE}-byte values, ${BENCH_SECONDS} s per row ${NODE_ARGS:-}"
"$SYNODOS" bench --peers "$peers" --clients "$CLIENTS" --seconds "$BENCH_SECONDS" --value-size "$VALUE_SIZE"
"$SYNODOS" status --peers "$peers"
