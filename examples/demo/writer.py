"""The demo's Python writer: appends COUNT values tagged TAG through a ReplicatedLog over
three HttpAcceptors, printing `slot <n> <value>` for each acknowledged append.

    python writer.py --peers URL,URL,URL --token-file F --cluster C --count 20 --tag python --node-id 11
"""

from __future__ import annotations

import argparse
import sys
import time

import synodos


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers", required=True, help="the acceptors' URLs, comma-separated")
    p.add_argument("--token-file", required=True)
    p.add_argument("--cluster", default="synodos")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--tag", default="python")
    p.add_argument("--node-id", type=int, default=1, help="this proposer's node id (distinct per writer)")
    p.add_argument("--interval-ms", type=int, default=0, help="pause between appends (the demo paces its writers)")
    args = p.parse_args()
    token = open(args.token_file, encoding="utf-8").read().split()[0]
    acceptors = [synodos.HttpAcceptor(u, token=token, cluster=args.cluster) for u in args.peers.split(",")]
    log = synodos.ReplicatedLog(acceptors, ids=args.node_id, call_timeout=2.0, max_attempts=60)
    for i in range(args.count):
        value = f"{args.tag}-{i}"
        try:
            entry = log.append(value.encode())
        except synodos.SynodosError as e:
            print(f"writer {args.tag}: append {value} failed: {e}", file=sys.stderr)
            return 1
        print(f"slot {entry.slot} {value}", flush=True)
        if args.interval_ms:
            time.sleep(args.interval_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
