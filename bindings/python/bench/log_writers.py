"""Appends/s through the Python binding: writer threads on one shared ReplicatedLog over
three in-process acceptors (memory logs, and FileLogs in a temporary directory), next to
the raw write + fdatasync rate of the same disk. Part of `make bench-log`.

Run: python bindings/python/bench/log_writers.py [seconds per row]
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import synodos


def raw_fsync(directory: Path, seconds: float) -> float:
    fd = os.open(directory / "raw", os.O_WRONLY | os.O_CREAT, 0o600)
    n, start = 0, time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            os.write(fd, b"x" * 64)
            os.fdatasync(fd)
            n += 1
    finally:
        os.close(fd)
    return n / (time.perf_counter() - start)


def row(log: synodos.ReplicatedLog, threads: int, seconds: float) -> tuple[float, int, float, float]:
    """Appends/s, failed appends, p50 and p99 latency (s) of `threads` writers on `log`."""
    stop = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failed = [0] * threads

    def writer(t: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                log.append(f"w{t}-{i}".encode())
                latencies[t].append(time.perf_counter() - began)
            except synodos.SynodosError:
                failed[t] += 1
            i += 1

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    done = sorted(x for per in latencies for x in per)
    if not done:
        return 0.0, sum(failed), 0.0, 0.0
    return len(done) / elapsed, sum(failed), done[len(done) // 2], done[min(len(done) - 1, int(len(done) * 0.99))]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        fsync = raw_fsync(base, seconds)
        print(f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; {seconds} s per row")
        print(f"{'raw write + fdatasync':<40} {fsync:>10.0f} writes/s")
        for kind in ("memory", "FileLog"):
            one = 0.0
            for threads in (1, 4, 16, 64):
                if kind == "memory":
                    acceptors = [synodos.Acceptor() for _ in range(3)]
                else:
                    d = Path(tempfile.mkdtemp(dir=base))
                    acceptors = [
                        synodos.Acceptor(synodos.FileLog(d / f"a{i}" / "p"), synodos.FileLog(d / f"a{i}" / "a"))
                        for i in range(3)
                    ]
                log = synodos.ReplicatedLog(acceptors, ids=1)
                rate, failed, p50, p99 = row(log, threads, seconds)
                one = rate if threads == 1 else one
                ratio = f"{rate / one:5.1f}x 1 writer" if threads > 1 and one else ""
                print(
                    f"python, {kind}, {threads:>3} threads on one handle {rate:>10.0f} appends/s"
                    f"   p50 {p50 * 1e6:>9.1f} us   p99 {p99 * 1e6:>9.1f} us   failed {failed}   {ratio}"
                )
                if kind == "FileLog" and threads == 1:
                    print(f"{'':<40} {rate / fsync:>10.2f}x the raw fsync rate")


if __name__ == "__main__":
    main()
