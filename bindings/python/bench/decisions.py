"""The local-acceptor loop of ``bench.py`` alone, for instruction counts that repeat exactly:

    PYTHONHASHSEED=0 valgrind --tool=callgrind .venv/bin/python bindings/python/bench/decisions.py 20000
    PYTHONHASHSEED=0 valgrind --tool=callgrind .venv/bin/python bindings/python/bench/decisions.py 40000

The difference of the two totals over 20,000 is the cost of one decision (startup cancels out).
"""

from __future__ import annotations

import sys
import time

from synodos import Acceptor, Proposer

VALUE = b"value-0123456789"


def main(n: int) -> None:
    proposer = Proposer([Acceptor() for _ in range(3)], ids=1)
    start = time.perf_counter()
    for slot in range(n):
        if proposer.propose_at(slot, VALUE) != VALUE:
            raise AssertionError("wrong value chosen")
    took = time.perf_counter() - start
    print(f"{n / took:,.0f} decisions/s ({n} decisions, local acceptors)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
