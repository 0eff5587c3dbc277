"""Safety through the Python API: a restarted proposer that uses ``ids=<int>`` again, and
what an acceptor reports (hole 1 and hole 6 of the safety review)."""

from __future__ import annotations

from typing import Optional

import pytest

from synodos import (
    Acceptor,
    CounterIdGenerator,
    Promise,
    Proposal,
    Proposer,
    ReplicatedLog,
    Request,
    TrimmedError,
)


class Down:
    """A link that is down: every call fails."""

    def prepare(self, request: Request) -> Promise:
        raise ConnectionError("link down")

    def accept(self, proposal: Proposal) -> Proposal:
        raise ConnectionError("link down")


class NoFrontier:
    """A transport written for the ancestor's messages: it drops ``frontier``."""

    def __init__(self, acceptor: Acceptor) -> None:
        self.acceptor = acceptor

    def prepare(self, request: Request) -> Promise:
        p = self.acceptor.prepare(request)
        return Promise(id=p.id, slot=p.slot, accepted=p.accepted, promised=p.promised, trimmed=p.trimmed)

    def accept(self, proposal: Proposal) -> Proposal:
        return self.acceptor.accept(proposal)

    def observe(self, request: Request) -> list[Proposal]:
        return self.acceptor.observe(request)


def test_a_proposer_restarted_with_the_same_int_ids_cannot_choose_a_second_value() -> None:
    acceptors = [Acceptor() for _ in range(3)]
    # Node 1's first life: ballot B promised by all three, its accept of "old" reaches one.
    b = CounterIdGenerator(1).next()
    for a in acceptors:
        assert a.prepare(Request(id=b, attempt=1)).is_granted()
    acceptors[0].accept(Proposal(id=b, slot=0, value=b"old"))
    # Restarted with ids=1 again, it draws B again but reaches only the other two.
    restarted = Proposer([Down(), acceptors[1], acceptors[2]], ids=1, max_attempts=5)
    assert restarted.propose(b"new") == b"new"
    # A later proposer that reaches the acceptor holding "old" must learn "new" too.
    later = Proposer([acceptors[0], acceptors[1], Down()], ids=3, max_attempts=5)
    assert later.propose(b"later") == b"new"
    refused = acceptors[1].prepare(Request(id=b, attempt=1))
    assert not refused.is_granted() and refused.promised > b, "a ballot is granted once"


def test_a_promise_without_frontier_gives_no_lease() -> None:
    acceptors = [Acceptor() for _ in range(3)]
    leader = ReplicatedLog(acceptors, ids=1)
    for v in (b"a0", b"a1", b"a2"):
        leader.append(v)
    behind = ReplicatedLog([NoFrontier(a) for a in acceptors], ids=2)
    assert behind.append(b"b").slot == 3
    assert [e.value for e in ReplicatedLog(acceptors, ids=9).entries(0)] == [b"a0", b"a1", b"a2", b"b"]
    assert Promise(id=1).frontier is None


def test_a_new_handle_starts_where_the_trimmed_log_starts() -> None:
    acceptors = [Acceptor() for _ in range(3)]
    writer = ReplicatedLog(acceptors, ids=1)
    for i in range(5):
        writer.append(f"v{i}".encode())
    for a in acceptors:
        a.trim(3)
    fresh = ReplicatedLog(acceptors, ids=2)
    assert fresh.append(b"new").slot == 5
    with pytest.raises(TrimmedError, match="starts at slot 3"):
        fresh.read(0, 10)
    first: Optional[int] = None
    for e in fresh.read(3, 10):
        first = e.slot if first is None else first
    assert first == 3
