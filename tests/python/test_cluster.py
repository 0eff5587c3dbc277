"""In-process clusters: local acceptors, Python-written clients, the replicated log."""

from __future__ import annotations

import threading
from typing import Any, List

import pytest

import synodos
from helpers import Forwarding
from synodos import Acceptor, CounterIdGenerator, Entry, ManualClock, Proposer, ReplicatedLog, ServerIdGenerator


@pytest.mark.parametrize("n", [3, 5])
def test_single_decree_with_local_acceptors(n: int) -> None:
    acceptors = [Acceptor() for _ in range(n)]
    alice = Proposer(acceptors, ids=1)
    bob = Proposer(acceptors, ids=CounterIdGenerator(2))
    assert alice.propose(b"alice") == b"alice"
    # Once chosen, every later proposal returns the chosen value.
    assert bob.propose(b"bob") == b"alice"
    assert alice.acceptors == n
    accepted = [a.accepted(0) for a in acceptors]
    assert sum(1 for p in accepted if p is not None and p.value == b"alice") >= n // 2 + 1


@pytest.mark.parametrize("n", [3, 5])
def test_single_decree_with_python_clients(n: int) -> None:
    clients = [Forwarding() for _ in range(n)]
    p = Proposer(clients, ids=ServerIdGenerator(3, ManualClock(1_000)))
    assert p.propose(b"v") == b"v"
    assert Proposer(clients, ids=4).propose(b"w") == b"v"
    assert sum(1 for c in clients if c.calls > 0) >= n // 2 + 1


@pytest.mark.parametrize("n", [3, 5])
def test_inline_calls_decide_and_log(n: int) -> None:
    acceptors = [Acceptor() for _ in range(n)]
    clients = [Forwarding(a) for a in acceptors]
    p = Proposer(clients, ids=1, inline_calls=True)
    assert [p.propose_at(s, b"x%d" % s) for s in range(10)] == [b"x%d" % s for s in range(10)]
    # Another proposer on the same acceptors (threaded calls) learns the same values.
    assert Proposer([Forwarding(a) for a in acceptors], ids=2).propose_at(7, b"other") == b"x7"
    log = ReplicatedLog(clients, ids=3, inline_calls=True)
    assert log.append(b"tail").slot == 10
    assert [e.value for e in log.read(8)] == [b"x8", b"x9", b"tail"]


def test_inline_calls_are_made_on_the_calling_thread() -> None:
    seen: List[int] = []

    class Recording(Forwarding):
        def prepare(self, request: synodos.Request) -> synodos.Promise:
            seen.append(threading.get_ident())
            return super().prepare(request)

    Proposer([Recording() for _ in range(3)], ids=1, inline_calls=True).propose(b"v")
    assert seen and set(seen) == {threading.get_ident()}
    seen.clear()
    Proposer([Recording() for _ in range(3)], ids=1).propose(b"v")
    assert seen and threading.get_ident() not in seen  # by default, on synodos' workers


def test_mixed_clients_and_slots() -> None:
    acceptors = [Acceptor() for _ in range(3)]
    clients: List[Any] = [acceptors[0], Forwarding(acceptors[1]), Forwarding(acceptors[2])]
    p = Proposer(clients, ids=1)
    assert [p.propose_at(s, b"x%d" % s) for s in range(5)] == [b"x%d" % s for s in range(5)]
    assert Proposer(acceptors, ids=2).propose_at(3, b"other") == b"x3"


def test_competing_proposers_in_threads_agree() -> None:
    acceptors = [Acceptor() for _ in range(5)]
    clients: List[Any] = [acceptors[0], acceptors[1], Forwarding(acceptors[2]), Forwarding(acceptors[3]), acceptors[4]]
    results: List[bytes] = []
    errors: List[BaseException] = []
    start = threading.Barrier(6)

    def run(node: int) -> None:
        try:
            p = Proposer(clients, ids=node, seed=node)
            start.wait()
            for slot in range(20):
                results.append(slot.to_bytes(2, "big") + p.propose_at(slot, b"node%d" % node))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i + 1,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    by_slot: dict[bytes, set[bytes]] = {}
    for r in results:
        by_slot.setdefault(r[:2], set()).add(r[2:])
    assert len(by_slot) == 20
    for values in by_slot.values():
        assert len(values) == 1, values  # every proposer learned the same value per slot
        assert values.pop().startswith(b"node")


def test_replicated_log_append_read_and_iterate() -> None:
    acceptors = [Acceptor() for _ in range(3)]
    writer = ReplicatedLog(acceptors, ids=1)
    assert writer.append(b"first") == Entry(0, b"first")
    assert writer.append(b"second").slot == 1
    other = ReplicatedLog([Forwarding(a) for a in acceptors], ids=2)
    assert other.append(b"third").slot == 2
    assert [e.value for e in other.read(0)] == [b"first", b"second", b"third"]
    assert [e.slot for e in writer.entries(1)] == [1, 2]
    assert writer.read(3) == []
    assert writer.wait(3, timeout=0.05) == []
    assert other.next_slot == 3
    reader = writer.entries(0, follow=True)
    got = [next(reader) for _ in range(3)]
    done = threading.Event()

    def late_writer() -> None:
        other.append(b"fourth")
        done.set()

    t = threading.Thread(target=late_writer)
    t.start()
    fourth = next(reader)  # waits for the entry appended by the other thread
    t.join()
    assert done.is_set()
    assert [e.value for e in got] == [b"first", b"second", b"third"] and fourth == Entry(3, b"fourth")


def test_id_generators() -> None:
    clock = ManualClock(0x17C96370C09)
    ids = ServerIdGenerator(7, clock)
    # millis << 16 | server id: the layout every generator shares, so kinds never collide.
    assert ids.next() == 0x17C96370C09 << 16 | 7
    assert ids.next() == 0x17C96370C0A << 16 | 7
    clock.set(1)
    assert ids.next() > 0x17C96370C0A << 16 | 7
    c = CounterIdGenerator(1)
    assert c.next() == 1 << 16 | 1
    c.observe(10 << 16)
    assert c.next() == 11 << 16 | 1


def test_python_id_generator() -> None:
    class Ids:
        def __init__(self) -> None:
            self.n = 0

        def next(self) -> int:
            self.n += 1
            return self.n << 8 | 9

        def observe(self, seen: int) -> None:
            self.n = max(self.n, seen >> 8)

    ids = Ids()
    assert Proposer([Acceptor() for _ in range(3)], ids=ids).propose(b"v") == b"v"
    assert ids.n == 1


def test_invalid_arguments() -> None:
    with pytest.raises(synodos.InvalidArgumentError):
        Proposer([], ids=1)
    with pytest.raises(synodos.InvalidArgumentError):
        Proposer([Acceptor()], ids=1, call_timeout=-1.0)
    with pytest.raises(synodos.InvalidArgumentError):
        Proposer([Acceptor()], ids=1, max_attempts=0)
    with pytest.raises(TypeError):
        Proposer([object()], ids=1)
    with pytest.raises(TypeError):
        Proposer([Acceptor()], ids="one")
