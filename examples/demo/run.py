"""`make demo`: a synodos cluster whose acceptors are a Python, a Node and a C program.

1. Three acceptors, each over durable logs in a temporary directory, on loopback, with a
   shared token: `python -m synodos serve`, `node acceptor.mjs`, and the C `acceptor`.
2. The single decree is decided first, through all three.
3. A Python, a Node and a C writer append 20 values each, concurrently, each value tagged
   with its language. Meanwhile one acceptor is killed with SIGKILL: appends go on (two of
   three are a majority); it is restarted on its own files and port, and catches up.
4. A reader prints the merged log (slot, language, value), and the run checks that every
   acknowledged append is in it exactly once, at the slot it was acknowledged at.

Every process is stopped by its pid at the end, also on Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import synodos

HERE = Path(__file__).resolve().parent
CLUSTER = "demo"


class Child:
    """A child process, stopped by its pid; its stdout lines are collected by a thread."""

    def __init__(self, name: str, args: List[str], ready: str = "READY ") -> None:
        self.name, self.args, self.ready_prefix = name, args, ready
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.lines: List[str] = []
        self.ready = threading.Event()
        self.err: List[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(self.ready_prefix):
                self.ready.set()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not start: {' | '.join(self.err[-5:]) or 'no output'}")
        return next(l for l in self.lines if l.startswith(self.ready_prefix)).split()[-1]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--node", default="node")
    p.add_argument("--c-acceptor", required=True, help="the C acceptor program")
    p.add_argument("--c-writer", required=True, help="the C writer program")
    p.add_argument("--rust-acceptor", help="`synodos` (the Rust binary): add its `serve` as a fourth acceptor")
    p.add_argument("--rust-writer", help="the Rust demo writer (net/examples/demo_writer.rs): a fourth writer")
    p.add_argument("--count", type=int, default=20, help="values per writer")
    p.add_argument("--interval-ms", type=int, default=30,
                   help="each writer's pause between appends: the kill and the restart land mid-stream")
    p.add_argument("--kill", default="node", choices=["python", "node", "c", "rust"], help="the acceptor to kill -9")
    args = p.parse_args()

    started = time.monotonic()
    children: List[Child] = []
    # SIGINT and SIGTERM end the run through the finally below, which stops every child. Set
    # here for SIGINT too: a shell that starts this in the background makes it ignore SIGINT.
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    with tempfile.TemporaryDirectory(prefix="synodos-demo-") as tmp:
        root = Path(tmp)
        token = secrets.token_hex(32)
        token_file = root / "token"
        token_file.write_text(token + "\n")
        langs = ["python", "node", "c"] + (["rust"] if args.rust_acceptor else [])
        ports = {lang: free_port() for lang in langs}
        ids = {lang: i + 1 for i, lang in enumerate(langs)}

        def acceptor_args(lang: str) -> List[str]:
            d, port, i = str(root / f"acceptor-{lang}"), str(ports[lang]), str(ids[lang])
            common = ["--token-file", str(token_file), "--id", i, "--cluster", CLUSTER]
            if lang == "python":
                return [args.python, "-m", "synodos", "serve", "--dir", d, "--listen", f"127.0.0.1:{port}", *common]
            if lang == "node":
                return [args.node, str(HERE / "acceptor.mjs"), "--dir", d, "--port", port, *common]
            if lang == "rust":
                return [args.rust_acceptor, "serve", "--data", d, "--listen", f"127.0.0.1:{port}", "--log-level", "warn",
                        *common]
            return [args.c_acceptor, "--dir", d, "--port", port, *common]

        acceptors: Dict[str, Child] = {}
        try:
            def start_acceptor(lang: str) -> Child:
                child = Child(f"{lang} acceptor", acceptor_args(lang), "synodos: serving" if lang == "rust" else "READY ")
                children.append(child)
                return child

            for lang in langs:
                acceptors[lang] = start_acceptor(lang)
            urls = {lang: acceptors[lang].wait_ready() for lang in acceptors}
            for lang, url in urls.items():
                print(f"acceptor {ids[lang]} ({lang:6}) {url}")
            peers = ",".join(urls[lang] for lang in langs)

            def clients() -> List[synodos.HttpAcceptor]:
                return [synodos.HttpAcceptor(u, token=token, cluster=CLUSTER, timeout=2.0) for u in urls.values()]

            # 1. The single decree, decided first (slot 0); the log's appends land after it.
            chosen = synodos.Proposer(clients(), ids=10).propose(b"the demo's decree")
            print(f"chosen: {chosen.decode()}")

            # 2. Three writers at once; one acceptor killed -9 and restarted meanwhile.
            writer_common = ["--peers", peers, "--token-file", str(token_file), "--cluster", CLUSTER,
                             "--count", str(args.count), "--interval-ms", str(args.interval_ms)]
            writers = {
                "python": Child("python writer", [args.python, str(HERE / "writer.py"), *writer_common,
                                                  "--tag", "python", "--node-id", "11"]),
                "node": Child("node writer", [args.node, str(HERE / "writer.mjs"), *writer_common,
                                              "--tag", "node", "--node-id", "12"]),
                "c": Child("c writer", [args.c_writer, *writer_common, "--tag", "c", "--node-id", "13"]),
            }
            if args.rust_writer:
                writers["rust"] = Child("rust writer", [args.rust_writer, *writer_common, "--tag", "rust", "--node-id", "16"])
            children.extend(writers.values())

            def acked() -> int:
                return sum(sum(1 for l in w.lines if l.startswith("slot ")) for w in writers.values())

            def wait_acked(n: int, timeout: float = 60.0) -> None:
                deadline = time.monotonic() + timeout
                while acked() < n and time.monotonic() < deadline:
                    if all(w.proc.poll() is not None for w in writers.values()):
                        return
                    time.sleep(0.02)  # polling the writers' output, not waiting for an event

            total = len(writers) * args.count
            wait_acked(total // 6)
            victim = acceptors[args.kill]
            victim.kill(signal.SIGKILL)
            print(f"killed the {args.kill} acceptor (kill -9) after {acked()} appends")
            wait_acked(total // 2)
            acceptors[args.kill] = start_acceptor(args.kill)
            acceptors[args.kill].wait_ready()
            print(f"restarted the {args.kill} acceptor after {acked()} appends")

            failed = []
            for lang, w in writers.items():
                try:
                    code = w.proc.wait(90)
                except subprocess.TimeoutExpired:
                    code = None
                if code != 0:
                    failed.append(f"{lang} writer exited {code}: {' | '.join(w.err[-3:])}")
            # Each stdout reader ends at end of file, after the writer's last line.
            for w in writers.values():
                w.reader.join(10)

            # 3. The restarted acceptor catches up: each slot it misses is proposed again
            # through it and one other acceptor: a proposer over two needs both, and two meet
            # every majority of three or four acceptors, so the value it learns is the chosen one.
            log = synodos.ReplicatedLog(clients(), ids=14)
            entries = log.read(0, 10_000)
            restarted = synodos.HttpAcceptor(urls[args.kill], token=token, cluster=CLUSTER, timeout=2.0)
            assert 2 + len(langs) // 2 + 1 > len(langs), "a pair must meet every majority"
            others = [synodos.HttpAcceptor(urls[lang], token=token, cluster=CLUSTER, timeout=2.0)
                      for lang in langs if lang != args.kill][:1]
            held = {pr.slot for pr in restarted.observe(synodos.Request(id=0, attempt=0, slot=0))}
            missing = [e for e in entries if e.slot not in held]
            repair = synodos.Proposer([restarted, *others], ids=15)
            for e in missing:
                if repair.propose_at(e.slot, e.value) != e.value:
                    failed.append(f"slot {e.slot}: catch-up learned another value than the log's")
            held = {pr.slot for pr in restarted.observe(synodos.Request(id=0, attempt=0, slot=0))}
            caught_up = sum(1 for e in entries if e.slot in held)

            # 4. The merged log, and the check of every acknowledged append.
            print("slot  language  value")
            for e in entries:
                value = e.value.decode(errors="replace")
                lang = "decree" if e.slot == 0 else value.split("-")[0]
                print(f"{e.slot:4}  {lang:8}  {value}")
            at = {e.slot: e.value.decode(errors="replace") for e in entries}
            lost, wrong = 0, 0
            for lang, w in writers.items():
                for line in (l for l in w.lines if l.startswith("slot ")):
                    _, slot, value = line.split(" ", 2)
                    if int(slot) not in at:
                        lost += 1
                    elif at[int(slot)] != value:
                        wrong += 1
            values = [e.value for e in entries[1:]]
            duplicated = len(values) - len(set(values))
            per_lang = {lang: sum(1 for l in w.lines if l.startswith("slot ")) for lang, w in writers.items()}
            took = time.monotonic() - started
            ok = not failed and lost == 0 and wrong == 0 and duplicated == 0 and all(
                n == args.count for n in per_lang.values()) and caught_up == len(entries)
            print(
                f"demo: {'ok' if ok else 'FAILED'}: acceptors {', '.join(langs)}; "
                f"{sum(per_lang.values())} appends acknowledged ({', '.join(f'{k} {v}' for k, v in per_lang.items())}), "
                f"{lost} lost, {wrong} at another slot, {duplicated} duplicated; "
                f"the {args.kill} acceptor killed -9 and restarted, caught up {caught_up}/{len(entries)} slots "
                f"({len(missing)} repaired); {took:.1f} s"
            )
            for f in failed:
                print(f"demo: {f}", file=sys.stderr)
            return 0 if ok else 1
        except KeyboardInterrupt:
            print("demo: interrupted; stopping every process", file=sys.stderr)
            return 130
        finally:
            for c in children:
                c.kill(signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
