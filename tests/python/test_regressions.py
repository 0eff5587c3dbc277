"""Regression tests for defects of the Python binding found by review (issue 12).

9. A ``KeyboardInterrupt`` or ``SystemExit`` raised in a client (or a log, or an id generator)
   became a per-acceptor ``TransportError`` and was swallowed when the others made a majority.
10. After ``os.fork()`` Python clients were never called in the child (the worker pool still
    counted the parent's parked workers as idle), so proposes there timed out.
11. A huge ``call_timeout`` or ``poll_interval`` (about 1e19 s) passed validation, then panicked
    in ``Instant::now() + d``.

And one found while looking into the issue's list: ``synodos.aio`` shared by two event loops.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any, List, Optional, Tuple, Type

import pytest

import synodos
import synodos.aio
from helpers import Forwarding
from synodos import Acceptor, Promise, Proposal, Request

# ---- 9. BaseExceptions that are not Exceptions stop the call ---------------------------------


class Interrupting(Forwarding):
    """A client that raises `exc` from prepare (as Ctrl-C would, inside a slow RPC)."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def prepare(self, request: Request) -> Promise:
        self.calls += 1
        raise self.exc


@pytest.mark.parametrize("inline", [True, False])
@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_a_base_exception_in_a_client_stops_the_propose(inline: bool, exc_type: Type[BaseException]) -> None:
    # The other two make a majority: before the fix the interrupt was a TransportError of one
    # acceptor, and propose returned as if nothing had happened.
    for position in range(3):
        clients: List[Any] = [Forwarding(), Forwarding(), Forwarding()]
        clients[position] = Interrupting(exc_type("stop"))
        p = synodos.Proposer(clients, ids=1, inline_calls=inline, max_attempts=1)
        with pytest.raises(exc_type) as info:
            p.propose(b"x")
        assert str(info.value) == "stop"
        # The proposer is usable afterwards.
        clients[position] = Forwarding()
        assert synodos.Proposer(clients, ids=2, inline_calls=inline).propose(b"y") in (b"x", b"y")


def test_a_base_exception_in_a_replicated_log_client_stops_append() -> None:
    clients: List[Any] = [Forwarding(), Interrupting(KeyboardInterrupt()), Forwarding()]
    log = synodos.ReplicatedLog(clients, ids=1, inline_calls=True)
    with pytest.raises(KeyboardInterrupt):
        log.append(b"x")


class InterruptingLog:
    """A Python log whose record raises KeyboardInterrupt once armed."""

    def __init__(self) -> None:
        self.inner = synodos.MemoryLog()
        self.armed = False

    def record(self, id: int, data: bytes) -> None:
        if self.armed:
            raise KeyboardInterrupt("in the log")
        self.inner.record(id, data)

    def last(self) -> Optional[Tuple[int, bytes]]:
        return self.inner.last()

    def range(self, start: int, stop: int) -> List[Tuple[int, bytes]]:
        return self.inner.range(start, stop)

    def trim(self, before: int) -> None:
        self.inner.trim(before)


def test_a_base_exception_in_a_log_reaches_the_caller() -> None:
    log = InterruptingLog()
    acceptor = Acceptor(log, None)
    log.armed = True
    # Directly: the KeyboardInterrupt itself, not a StorageError (an Exception) around it.
    with pytest.raises(KeyboardInterrupt):
        acceptor.prepare(Request(id=5, attempt=1))
    # Through a proposer whose other acceptors make a majority: the propose stops too.
    log2 = InterruptingLog()
    a2 = Acceptor(log2, None)
    log2.armed = True
    with pytest.raises(KeyboardInterrupt):
        synodos.Proposer([a2, Acceptor(), Acceptor()], ids=1).propose(b"x")


class InterruptingIds:
    def next(self) -> int:
        raise SystemExit(3)

    def observe(self, seen: int) -> None:
        pass


def test_a_base_exception_in_an_id_generator_reaches_the_caller() -> None:
    with pytest.raises(SystemExit):
        synodos.Proposer([Acceptor()], ids=InterruptingIds()).propose(b"x")


def test_ordinary_exceptions_are_still_per_acceptor() -> None:
    class Failing(Forwarding):
        def prepare(self, request: Request) -> Promise:
            raise ConnectionError("down")

    clients: List[Any] = [Failing(), Forwarding(), Forwarding()]
    assert synodos.Proposer(clients, ids=1, inline_calls=True).propose(b"v") == b"v"


# ---- 10. fork -------------------------------------------------------------------------------


class Slow(Forwarding):
    """A client whose calls take about a millisecond (a network round trip): synodos calls
    such clients on pool workers of their own."""

    def prepare(self, request: Request) -> Promise:
        time.sleep(0.001)
        return super().prepare(request)

    def accept(self, proposal: Proposal) -> Proposal:
        time.sleep(0.001)
        return super().accept(proposal)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_python_clients_work_in_a_forked_child() -> None:
    # Use the worker pool in the parent first, from several threads at once (slow clients go
    # to workers of their own), so that it has a dozen workers, parked or looking for work,
    # when the process forks. None of them exists in the child.
    proposers = [
        synodos.Proposer([Slow() for _ in range(3)], ids=k + 1, call_timeout=1.0, max_attempts=2) for k in range(8)
    ]

    def load(p: synodos.Proposer) -> None:
        for slot in range(10):
            assert p.propose_at(slot, b"parent") == b"parent"

    threads = [threading.Thread(target=load, args=(p,)) for p in proposers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p = proposers[0]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave without running the parent's cleanup
        code = 1
        try:
            os.close(r)
            got = p.propose_at(10, b"child")
            os.write(w, got)
            code = 0 if got == b"child" else 2
        except BaseException as e:  # noqa: B036 - report anything to the parent
            os.write(w, repr(e).encode()[:500])
        finally:
            os._exit(code)
    os.close(w)
    report = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        report += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report.decode(errors="replace")
    assert report == b"child"
    # The parent's pool is unaffected.
    assert p.propose_at(11, b"parent again") == b"parent again"


# ---- 11. huge durations ------------------------------------------------------------------------


@pytest.mark.parametrize("inline", [True, False])
def test_huge_durations_mean_no_limit(inline: bool) -> None:
    acceptors = [Acceptor() for _ in range(3)]
    clients = [Forwarding(a) for a in acceptors]
    for huge in (1e19, 1e300, float("inf")):
        p = synodos.Proposer(clients, ids=1, call_timeout=huge, poll_interval=huge, backoff_max=huge, backoff_min=huge,
                             inline_calls=inline)
        assert p.propose(b"v") == b"v"
        log = synodos.ReplicatedLog(clients, ids=2, call_timeout=huge, poll_interval=huge, inline_calls=inline)
        # Slot 0 is chosen already, so a wait with a huge timeout returns at once.
        assert [e.value for e in log.wait(0, 10, timeout=huge)] == [b"v"]


@pytest.mark.parametrize("name", ["call_timeout", "backoff_min", "backoff_max", "poll_interval"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("-inf"), -1e-300])
def test_negative_or_nan_durations_are_refused_by_name(name: str, bad: float) -> None:
    options: dict[str, Any] = {name: bad}
    with pytest.raises(synodos.InvalidArgumentError, match=name):
        synodos.Proposer([Acceptor()], ids=1, **options)
    log = synodos.ReplicatedLog([Acceptor()], ids=1)
    with pytest.raises(synodos.InvalidArgumentError, match="timeout"):
        log.wait(0, 1, timeout=bad)


# ---- synodos.aio: one proposer shared by two event loops -------------------------------------


class LoopRecorder:
    """An async client that records, per slot parity, the loops its calls ran on."""

    def __init__(self, acceptor: Acceptor) -> None:
        self.acceptor = acceptor
        self.loops: dict[int, set[int]] = {0: set(), 1: set()}

    async def prepare(self, request: Request) -> Promise:
        self.loops[request.slot % 2].add(id(asyncio.get_running_loop()))
        return self.acceptor.prepare(request)

    async def accept(self, proposal: Proposal) -> Proposal:
        self.loops[proposal.slot % 2].add(id(asyncio.get_running_loop()))
        return self.acceptor.accept(proposal)


def test_an_aio_proposer_shared_by_two_loops_runs_each_call_on_its_callers_loop() -> None:
    # Two threads, each with its own event loop, share one aio.Proposer; thread k proposes at
    # slots of parity k. Every client call for a slot must run on the loop of the thread that
    # proposed there. Before the fix, `_Bound.get` kept one (loop, driver) pair in two
    # attributes written without a lock, so one thread could get the driver made for the
    # other's loop (its clients' coroutines then ran on the wrong loop, or on a finished one).
    acceptors = [Acceptor() for _ in range(3)]
    clients = [LoopRecorder(a) for a in acceptors]
    proposer = synodos.aio.Proposer(clients, ids=1, call_timeout=5.0)
    loops: dict[int, int] = {}
    errors: List[BaseException] = []
    start = threading.Barrier(2)
    rounds = 300
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the two threads as much as possible

    def run(parity: int) -> None:
        async def main() -> None:
            loops[parity] = id(asyncio.get_running_loop())
            start.wait()
            for i in range(rounds):
                assert await proposer.propose_at(parity + 2 * i, b"v") == b"v"

        try:
            asyncio.run(main())
        except BaseException as e:  # noqa: B036 - reported below
            errors.append(e)

    try:
        threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    for c in clients:
        for parity in (0, 1):
            assert c.loops[parity] <= {loops[parity]}, f"slot parity {parity} ran on another loop"
