"""Acceptors over durable FileLogs, restarted: the chosen value survives.

Run: python bindings/python/examples/file_log_cluster.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import synodos


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [(Path(tmp) / f"a{i}" / "promises", Path(tmp) / f"a{i}" / "accepts") for i in range(3)]
        logs = [(synodos.FileLog(p), synodos.FileLog(a)) for p, a in dirs]
        acceptors = [synodos.Acceptor(p, a) for p, a in logs]
        print("chosen:", synodos.Proposer(acceptors, ids=1).propose(b"first").decode())
        for p, a in logs:
            p.close()
            a.close()
        restarted = [synodos.Acceptor(synodos.FileLog(p), synodos.FileLog(a)) for p, a in dirs]
        print("after restart:", synodos.Proposer(restarted, ids=2).propose(b"second").decode())


if __name__ == "__main__":
    main()
