"""Single-decree decisions per second, in one run:

1. synodos from Python, local acceptors (``synodos.Acceptor`` passed as clients: Rust calls
   them directly, no GIL);
2. synodos from Python, Python-written clients (each a blocking object forwarding to an
   in-process acceptor), called the default way: on a synodos worker thread, which calls
   them one after another while they answer quickly and gets help when one stalls;
3. the same clients with ``inline_calls=True``: called on the proposing thread (for clients
   that never block; a hung one could not be cut off);
4. the same workload in Rust, in process (``synodos._synodos._RustBench``: the loop of
   ``core/examples/decisions.rs`` on acceptors kept between runs, as the runners above keep theirs);
5. composable-paxos 1.0.0 (pure Python, PyPI), with a shim for Python 3 (below).

Workload: one proposer, 3 acceptors, no contention; decision i is a fresh single-decree
instance (synodos: slot i on the same acceptors; composable-paxos: new instance objects),
messages delivered in process until a majority answers.

Run: ``make bench-python`` (installs composable-paxos into .venv only for this).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any, Callable, Dict, List

import synodos
from synodos import Acceptor, Promise, Proposal, Proposer, Request
from synodos import _synodos

VALUE = b"value-0123456789"


class Forwarding:
    """A Python-written client (as an RPC stub would be), here in front of a local acceptor."""

    def __init__(self) -> None:
        self.acceptor = Acceptor()

    def prepare(self, request: Request) -> Promise:
        return self.acceptor.prepare(request)

    def accept(self, proposal: Proposal) -> Proposal:
        return self.acceptor.accept(proposal)


def calibrate(run: Callable[[int], None], seconds: float) -> int:
    """A batch size that takes about `seconds`."""
    n = 100
    while True:
        start = time.perf_counter()
        run(n)
        took = time.perf_counter() - start
        if took >= seconds / 4:
            return max(1, int(n * seconds / took))
        n *= 4


def rates(runners: Dict[str, Callable[[int], None]], seconds: float, rounds: int) -> Dict[str, float]:
    """Best decisions/s of each runner over `rounds` interleaved rounds (the machine is shared:
    interleaving keeps a burst of load from skewing one workload's figure only)."""
    sizes = {name: calibrate(run, seconds / rounds) for name, run in runners.items()}
    best = {name: 0.0 for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            n = sizes[name]
            start = time.perf_counter()
            run(n)
            best[name] = max(best[name], n / (time.perf_counter() - start))
    return best


def synodos_runner(clients: List[Any], inline_calls: bool = False) -> Callable[[int], None]:
    proposer = Proposer(clients, ids=1, inline_calls=inline_calls)
    slot = [0]

    def run(n: int) -> None:
        s = slot[0]
        for i in range(s, s + n):
            if proposer.propose_at(i, VALUE) != VALUE:
                raise AssertionError("wrong value chosen")
        slot[0] = s + n

    return run


def rust_runner() -> Callable[[int], None]:
    bench = _synodos._RustBench(3)

    def run(n: int) -> None:
        bench.run(n)

    return run


def composable_runner() -> Callable[[int], None]:
    import composable_paxos as cp  # type: ignore[import-untyped]

    # Shim: composable-paxos compares proposal ids with None (Python 2 ordered None below
    # everything; Python 3 raises TypeError). Ids get None-aware ordering, and the initial
    # "nothing accepted" marker is a value below every id.
    def key(o: Any) -> Any:
        return (0, ()) if o is None or isinstance(o, Bottom) else (1, tuple(o))

    class Ordered:
        def __lt__(self, other: Any) -> bool:
            return bool(key(self) < key(other))

        def __le__(self, other: Any) -> bool:
            return bool(key(self) <= key(other))

        def __gt__(self, other: Any) -> bool:
            return bool(key(self) > key(other))

        def __ge__(self, other: Any) -> bool:
            return bool(key(self) >= key(other))

    class Bottom(Ordered):
        def __iter__(self) -> Any:
            return iter(())

    class PID(Ordered, cp.ProposalID):  # type: ignore[misc]
        __slots__ = ()

    cp.ProposalID = PID
    cp.Proposer.highest_accepted_id = Bottom()

    def run(n: int) -> None:
        for _ in range(n):
            proposer = cp.Proposer("P", 2)
            acceptors = [cp.Acceptor(uid) for uid in ("A", "B", "C")]
            learner = cp.Learner("L", 2)
            proposer.propose_value(VALUE)
            prepare = proposer.prepare()
            accept = None
            for a in acceptors:
                accept = proposer.receive_promise(a.receive_prepare(prepare))
                if accept is not None:
                    break
            resolution = None
            for a in acceptors:
                resolution = learner.receive_accepted(a.receive_accept(accept))
                if resolution is not None:
                    break
            if resolution is None or resolution.value != VALUE:
                raise AssertionError("composable-paxos did not decide")

    return run


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per workload, over all rounds (about)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds; the best round counts")
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {os.cpu_count()} CPUs, {cpu_model()}; load average {load:.2f}; "
        f"Python {platform.python_version()}; synodos {synodos.__version__}"
    )
    runners: Dict[str, Callable[[int], None]] = {
        "synodos, Python, local acceptors": synodos_runner([Acceptor() for _ in range(3)]),
        "synodos, Python, Python-written clients": synodos_runner([Forwarding() for _ in range(3)]),
        "synodos, Python, Python clients, inline_calls": synodos_runner(
            [Forwarding() for _ in range(3)], inline_calls=True
        ),
        "synodos, Rust (same workload, in process)": rust_runner(),
    }
    try:
        runners["composable-paxos 1.0.0 (pure Python)"] = composable_runner()
    except ImportError:
        print("composable-paxos is not installed (make bench-python installs it)")
    results = rates(runners, args.seconds, args.rounds)
    for name, r in results.items():
        print(f"{name:45s} {r:12,.0f} decisions/s")
    local = results["synodos, Python, local acceptors"]
    clients = results["synodos, Python, Python-written clients"]
    inline = results["synodos, Python, Python clients, inline_calls"]
    rust = results["synodos, Rust (same workload, in process)"]
    print(f"Python local / Rust:                          {local / rust:.2f}")
    cp = results.get("composable-paxos 1.0.0 (pure Python)")
    if cp:
        print(f"Python local / composable-paxos:              {local / cp:.1f}x")
        print(f"Python clients / composable-paxos:            {clients / cp:.2f}x")
        print(f"Python clients, inline / composable-paxos:    {inline / cp:.2f}x")


if __name__ == "__main__":
    main()
