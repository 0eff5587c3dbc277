"""``python -m synodos serve``: one acceptor over FileLogs, behind the HTTP API.

It speaks the same API as ``synodos serve`` (``/v1/prepare``, ``/v1/accept``, ...), so
proposers in any language reach it with their ``HttpAcceptor``. Once listening it prints one
line, ``READY <url>``, on stdout; SIGTERM or SIGINT (Ctrl-C) stops it cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import List, Optional

import synodos


def _serve(args: argparse.Namespace) -> int:
    token: Optional[List[str]] = None
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                token = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        except OSError as e:
            print(f"synodos: cannot read --token-file: {e}", file=sys.stderr)
            return 2
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    os.makedirs(args.dir, exist_ok=True)
    try:
        acceptor = synodos.Acceptor(
            synodos.FileLog(os.path.join(args.dir, "promises")),
            synodos.FileLog(os.path.join(args.dir, "accepts")),
        )
        server = synodos.serve(acceptor, args.listen, token=token, tls=tls, id=args.id, cluster=args.cluster)
    except (synodos.SynodosError, OSError, ValueError) as e:
        print(f"synodos: cannot serve {args.dir} on {args.listen}: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        print(f"READY {server.url}", flush=True)
        # The wait wakes for signals: Event.wait with a timeout returns to run the handler.
        while not stop.wait(0.5):
            pass
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synodos", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one acceptor over FileLogs in --dir")
    serve.add_argument("--dir", required=True, help="data directory (promises/ and accepts/ inside)")
    serve.add_argument("--listen", default="127.0.0.1:0", help="address to listen on (default: a free loopback port)")
    serve.add_argument("--id", type=int, default=1, help="the acceptor's id in its cluster (default 1)")
    serve.add_argument("--cluster", default="synodos", help="the cluster's name, which clients check")
    serve.add_argument("--token-file", help="bearer tokens, one per line")
    serve.add_argument("--tls-cert", help="server certificate (PEM); with --tls-key")
    serve.add_argument("--tls-key", help="server key (PEM)")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
