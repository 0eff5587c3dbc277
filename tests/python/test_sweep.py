"""The argument sweep: every public function and constructor called with boundary and hostile
values (negative, too large, fractional, NaN, infinite, huge, wrong type, None, objects whose
every conversion or attribute raises, re-entrant callbacks), with hypothesis.

Each call must either work or raise a clean error of the right kind: ``TypeError`` /
``OverflowError`` / ``ValueError`` for a value of the wrong type or range (as Python does),
``synodos.SynodosError`` for one synodos refuses, or the user's own exception when the user's
object raised it. Afterwards the objects involved must still work, and no Rust panic may have
happened (conftest.py checks the panic count around every test).
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synodos
import synodos.aio
from helpers import Forwarding
from synodos import Acceptor, Entry, Promise, Proposal, Request


class Boom(Exception):
    """What the hostile objects raise."""


class Hostile:
    """An object whose every conversion, attribute and protocol method raises."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # leave Python's and hypothesis' own probes alone
            raise AttributeError(name)
        raise Boom(f"getattr {name}")

    def __index__(self) -> int:
        raise Boom("index")

    def __int__(self) -> int:
        raise Boom("int")

    def __float__(self) -> float:
        raise Boom("float")

    def __bytes__(self) -> bytes:
        raise Boom("bytes")

    def __iter__(self) -> Any:
        raise Boom("iter")

    def __len__(self) -> int:
        raise Boom("len")

    def __bool__(self) -> bool:
        raise Boom("bool")

    def __str__(self) -> str:
        raise Boom("str")

    def __repr__(self) -> str:
        return "Hostile()"


CLEAN = (TypeError, OverflowError, ValueError, synodos.SynodosError, Boom)

ints = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**53 + 1, 65535, 65536, 255, 256, 2**32]),
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e19, 1e300, -1e-300, 5e-324, 1.5, float("nan"), float("inf"), float("-inf")]),
)
hostile = st.one_of(
    ints,
    floats,
    st.none(),
    st.booleans(),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.just(Hostile()),
    st.lists(st.integers(), max_size=3),
    st.builds(object),
)

SWEEP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def clean(f: Callable[[], Any]) -> Any:
    """Call `f`; it must work or raise a clean error. Returns its result (None if it raised)."""
    try:
        return f()
    except CLEAN:
        return None


def working_acceptor(a: Acceptor, ballot: int = 2**40) -> None:
    """`a` still answers (a high ballot, the last slot, 2**64 - 2: never trimmed, never in the way)."""
    p = a.prepare(Request(id=ballot, attempt=1, slot=2**64 - 2))
    assert p.id == ballot


# ---- messages -----------------------------------------------------------------------------


@SWEEP
@given(hostile, hostile, hostile, hostile, hostile)
def test_message_constructors(a: Any, b: Any, c: Any, d: Any, e: Any) -> None:
    for make in (
        lambda: Request(a, b, c),
        lambda: Request(id=a, slot=b),
        lambda: Proposal(a, b, c, d),
        lambda: Proposal(id=a, value=b),
        lambda: Promise(a, b, c, d, e),
        lambda: Promise(id=a, accepted=b),
        lambda: Entry(a, b),
    ):
        m = clean(make)
        if m is not None and not isinstance(m, Entry):
            assert type(m).from_json(m.to_json()) == m
            hash(m)
            repr(m)


@SWEEP
@given(st.one_of(st.text(max_size=40), hostile))
def test_message_from_json(text: Any) -> None:
    for cls in (Request, Proposal, Promise):
        clean(lambda: cls.from_json(text))
    for text2 in ['{"id": -1}', '{"id": 1.5}', '{"id": 18446744073709551616}', "[" * 5000, '{"value": "!!"}']:
        with pytest.raises(synodos.InvalidMessageError):
            Proposal.from_json(text2)


# ---- logs ---------------------------------------------------------------------------------


@SWEEP
@given(hostile, hostile, hostile)
def test_memory_log(a: Any, b: Any, c: Any) -> None:
    log = synodos.MemoryLog()
    log.record(5, b"five")
    clean(lambda: log.record(a, b))
    clean(lambda: log.record_batch(a))
    clean(lambda: log.record_batch([(a, b), (c, b"x")]))
    clean(lambda: log.range(a, b))
    clean(lambda: log.trim(a))
    clean(lambda: log.trim(c))
    # Still a log: appends above its last id, reads back.
    last = log.last()
    top = last[0] if last is not None else 0
    if top < 2**64 - 1:
        log.record(top + 1, b"more")
        assert log.last() == (top + 1, b"more")
    assert len(log) >= 0


@SWEEP
@given(hostile)
def test_file_log(tmp_path_factory: pytest.TempPathFactory, a: Any) -> None:
    directory = tmp_path_factory.mktemp("log")
    # A hostile path may be a valid relative one: open it inside a scratch directory.
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        clean(lambda: synodos.FileLog(a))
    finally:
        os.chdir(cwd)
    with synodos.FileLog(directory) as log:
        clean(lambda: log.record(a, a))
        clean(lambda: log.range(a, a))
        clean(lambda: log.trim(a))
        log.record(2**64 - 1, b"last")
        with pytest.raises(synodos.SynodosError):
            log.record(2**64 - 1, b"again")
        assert log.last() == (2**64 - 1, b"last")
    with pytest.raises(synodos.ClosedError):
        log.record(1, b"closed")
    with pytest.raises(synodos.InvalidArgumentError):
        synodos.FileLog("")


class BadLog:
    """A Python log whose `mode` selects how it misbehaves."""

    def __init__(self, mode: str, acceptor: Optional[List[Acceptor]] = None) -> None:
        self.mode = mode
        self.inner = synodos.MemoryLog()
        self.owner = acceptor

    def record(self, id: int, data: bytes) -> None:
        if self.mode == "record raises":
            raise Boom("record")
        if self.mode == "re-entrant" and self.owner:
            self.owner[0].prepare(Request(id=id + 10**9, attempt=1))
        self.inner.record(id, data)

    def last(self) -> Any:
        if self.mode == "last garbage":
            return Hostile()
        if self.mode == "last wrong shape":
            return (1, 2, 3)
        if self.mode == "last huge id":
            return (2**64, b"")
        return self.inner.last()

    def range(self, start: int, stop: int) -> Any:
        if self.mode == "range garbage":
            return [Hostile()]
        if self.mode == "range not iterable":
            return 5
        return self.inner.range(start, stop)

    def trim(self, before: int) -> None:
        self.inner.trim(before)


MODES = ["record raises", "re-entrant", "last garbage", "last wrong shape", "last huge id", "range garbage",
         "range not iterable", "fine"]


@pytest.mark.parametrize("mode", MODES)
def test_acceptor_over_bad_logs(mode: str) -> None:
    owner: List[Acceptor] = []
    for role in ("promise", "accept"):
        log = BadLog(mode, owner)
        a = clean(lambda: Acceptor(log, None) if role == "promise" else Acceptor(None, log))
        if a is None:
            continue
        owner[:] = [a]
        clean(lambda: a.prepare(Request(id=3, attempt=1)))
        clean(lambda: a.accept(Proposal(id=3, value=b"v")))
        clean(lambda: a.observe(Request()))
        clean(lambda: a.trim(1))
        clean(lambda: a.promised)
    # The same MemoryLog for both roles is allowed (handles share it).
    shared = synodos.MemoryLog()
    a = Acceptor(shared, shared)
    working_acceptor(a)


@SWEEP
@given(hostile, hostile)
def test_acceptor_arguments(a: Any, b: Any) -> None:
    acc = Acceptor()
    clean(lambda: Acceptor(a, b))
    clean(lambda: acc.prepare(a))
    clean(lambda: acc.accept(a))
    clean(lambda: acc.observe(a))
    clean(lambda: acc.trim(a))
    clean(lambda: acc.accepted(a))
    working_acceptor(acc)


def test_acceptor_trim_extremes() -> None:
    acc = Acceptor()
    acc.trim(2**64 - 1)
    # A trimmed slot: the prepare is refused with where the log starts, the accept raises.
    refused = acc.prepare(Request(id=1, attempt=1, slot=5))
    assert not refused.is_granted() and refused.trimmed == 2**64 - 1
    with pytest.raises(synodos.TrimmedError):
        acc.accept(Proposal(id=1, slot=5, value=b"x"))
    bad: Any
    for bad in (-1, 2**64, 1.5, float("nan")):
        with pytest.raises((OverflowError, TypeError)):
            acc.trim(bad)


# ---- ids and clocks -------------------------------------------------------------------------


@SWEEP
@given(hostile, hostile)
def test_ids_and_clocks(a: Any, b: Any) -> None:
    clock = synodos.ManualClock(5)
    clean(lambda: synodos.ManualClock(a))
    clean(lambda: clock.advance(a))
    clean(lambda: clock.set(b))
    clock.now_millis()
    for make in (lambda: synodos.ServerIdGenerator(a), lambda: synodos.ServerIdGenerator(1, a),
                 lambda: synodos.CounterIdGenerator(a)):
        clean(make)
    for g in (synodos.CounterIdGenerator(7), synodos.ServerIdGenerator(7, clock)):
        first = g.next()
        clean(lambda: g.observe(a))
        nxt = clean(g.next)  # may be exhausted after observe(2**64 - 1)
        assert nxt is None or nxt > first


# ---- proposers and logs -------------------------------------------------------------------

OPTIONS = ["call_timeout", "max_attempts", "backoff_min", "backoff_max", "poll_interval", "seed", "inline_calls"]


@SWEEP
@given(st.sampled_from(OPTIONS), hostile)
def test_proposer_options(option: str, value: Any) -> None:
    acceptors = [Acceptor() for _ in range(3)]
    opts = {option: value}
    # Each its own node id (a second proposer with one id is a restart of the first, whose
    # first ballot is refused: with max_attempts=1 it would rightly fail).
    for node, cls in ((1, synodos.Proposer), (2, synodos.ReplicatedLog)):
        obj = clean(lambda: cls(acceptors, node, **opts))
        if obj is None:
            continue
        # Built: it works, whatever the option was (local acceptors answer at once, so no
        # timeout or backoff is ever waited for).
        if isinstance(obj, synodos.Proposer):
            assert obj.propose(b"v") == b"v"
        else:
            assert obj.append(b"e").value == b"e"


@SWEEP
@given(hostile, hostile)
def test_proposer_arguments(acceptors: Any, ids: Any) -> None:
    clean(lambda: synodos.Proposer(acceptors, ids))
    clean(lambda: synodos.Proposer([acceptors], 1))
    clean(lambda: synodos.Proposer([Acceptor()], ids))
    clean(lambda: synodos.ReplicatedLog([Acceptor(), acceptors], ids))


@SWEEP
@given(hostile, hostile, hostile)
def test_propose_and_log_calls(slot: Any, value: Any, other: Any) -> None:
    acceptors = [Acceptor() for _ in range(3)]
    p = synodos.Proposer(acceptors, ids=1)
    log = synodos.ReplicatedLog(acceptors, ids=2)
    clean(lambda: p.propose(value))
    clean(lambda: p.propose_at(slot, value))
    clean(lambda: log.append(value))
    clean(lambda: log.read(slot, other))
    clean(lambda: log.wait(slot, 1, 0.0))
    clean(lambda: log.wait(0, other, 0.0))
    # A hostile timeout, unless it is a real wait (nothing may be chosen at slot 5000).
    waits = isinstance(other, (int, float)) and not isinstance(other, bool) and other > 0
    clean(lambda: log.wait(5000, 1, 0.0 if waits else other))
    clean(lambda: list(log.entries(slot)))
    # Both still work.
    assert log.append(b"ok").value == b"ok"
    assert p.propose_at(10**6, b"x") == b"x"


def test_extreme_slots() -> None:
    acceptors = [Acceptor() for _ in range(3)]
    p = synodos.Proposer(acceptors, ids=1)
    # 2**64 - 1 is reserved: the last slot is 2**64 - 2.
    assert p.propose_at(2**64 - 2, b"top") == b"top"
    log = synodos.ReplicatedLog(acceptors, ids=2)
    assert log.read(2**64 - 2, 10) == [Entry(2**64 - 2, b"top")]
    assert log.read(2**64 - 1, 10) == []
    assert log.read(0, 0) == []
    with pytest.raises(synodos.InvalidArgumentError, match="reserved"):
        p.propose_at(2**64 - 1, b"x")
    for bad in (-1, 2**64):
        with pytest.raises(OverflowError):
            p.propose_at(bad, b"x")


# ---- hostile and re-entrant clients ---------------------------------------------------------


class PropertyRaises:
    @property
    def prepare(self) -> Any:
        raise Boom("prepare property")

    @property
    def accept(self) -> Any:
        raise Boom("accept property")


class AnswersGarbage(Forwarding):
    def __init__(self, garbage: Any) -> None:
        super().__init__()
        self.garbage = garbage

    def prepare(self, request: Request) -> Any:
        return self.garbage

    def accept(self, proposal: Proposal) -> Any:
        return self.garbage


class ReentrantClient(Forwarding):
    """Calls back into the proposer that is calling it (once)."""

    target: Any = None

    def prepare(self, request: Request) -> Promise:
        if self.target is not None:
            target, self.target = self.target, None
            target.propose_at(request.slot + 1, b"inner")
        return super().prepare(request)


class ReentrantIds:
    def __init__(self) -> None:
        self.inner = synodos.CounterIdGenerator(9)
        self.target: Any = None

    def next(self) -> int:
        if self.target is not None:
            target, self.target = self.target, None
            target.propose_at(77, b"from ids")
        return self.inner.next()

    def observe(self, seen: int) -> None:
        self.inner.observe(seen)


@SWEEP
@given(hostile, st.booleans())
def test_hostile_clients(garbage: Any, inline: bool) -> None:
    acceptors = [Acceptor() for _ in range(3)]
    with pytest.raises(Boom):
        synodos.Proposer([PropertyRaises(), Forwarding(acceptors[1]), Forwarding(acceptors[2])], ids=1,
                         inline_calls=inline)
    clients: List[Any] = [AnswersGarbage(garbage), AnswersGarbage(garbage), Forwarding(acceptors[2])]
    p = synodos.Proposer(clients, ids=1, inline_calls=inline, max_attempts=2, backoff_min=0.0, backoff_max=0.0,
                         call_timeout=1.0)
    with pytest.raises(synodos.NoQuorumError) as info:
        p.propose(b"v")
    assert all(isinstance(e, synodos.TransportError) for _, e in info.value.failures)
    working_acceptor(acceptors[2])


@pytest.mark.parametrize("inline", [True, False])
def test_reentrant_clients_and_ids(inline: bool) -> None:
    acceptors = [Acceptor() for _ in range(3)]
    clients = [ReentrantClient(a) for a in acceptors]
    p = synodos.Proposer(clients, ids=1, inline_calls=inline, call_timeout=5.0)
    clients[0].target = p
    assert p.propose_at(0, b"outer") == b"outer"
    assert synodos.Proposer(acceptors, ids=3).propose_at(1, b"late") == b"inner"
    ids = ReentrantIds()
    q = synodos.Proposer(acceptors, ids=ids, inline_calls=inline)
    ids.target = q
    assert q.propose_at(5, b"five") == b"five"
    assert synodos.Proposer(acceptors, ids=4).propose_at(77, b"late") == b"from ids"


def test_an_acceptor_whose_log_calls_it_back_refuses() -> None:
    owner: List[Acceptor] = []
    log = BadLog("re-entrant", owner)
    a = Acceptor(log, None)
    owner.append(a)
    with pytest.raises(synodos.StorageError) as info:
        a.prepare(Request(id=3, attempt=1))
    assert isinstance(info.value.__cause__, synodos.InvalidArgumentError)
    assert "re-entrant" in str(info.value.__cause__)


# ---- the conformance kit ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_conformance_with_bad_logs(mode: str) -> None:
    logs: dict[str, BadLog] = {}

    def open_log(name: str) -> BadLog:
        return logs.setdefault(name, BadLog(mode))

    result = clean(lambda: synodos.run_log_conformance(open_log))
    # Without an acceptor to call back into, the re-entrant log is a fine log.
    assert (result is not None) == (mode in ("fine", "re-entrant"))
    not_callable: Any = Hostile()
    clean(lambda: synodos.run_log_conformance(not_callable))
    clean(lambda: synodos.run_log_conformance(lambda name: Hostile()))
    clean(lambda: synodos.run_log_conformance(lambda name: None))


# ---- asyncio ----------------------------------------------------------------------------------


@SWEEP
@given(st.sampled_from(OPTIONS), hostile)
def test_aio_options(option: str, value: Any) -> None:
    opts = {option: value}
    for cls in (synodos.aio.Proposer, synodos.aio.ReplicatedLog):
        clean(lambda: cls([Acceptor()], 1, **opts))


def test_values_must_be_bytes() -> None:
    p = synodos.Proposer([Acceptor()], ids=1)
    bad: Any
    for bad in (None, "text", 5, [1, 2], Hostile(), bytearray(b"x"), memoryview(b"x")):
        with pytest.raises(TypeError):
            p.propose(bad)
    assert p.propose(b"") == b""

