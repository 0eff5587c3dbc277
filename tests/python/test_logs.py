"""Storage: the conformance kit from Python, MemoryLog, logs written in Python."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

import synodos
from helpers import DictLog
from synodos import Acceptor, MemoryLog, Proposal, Request


def test_a_python_log_passes_the_conformance_kit() -> None:
    store: Dict[str, Dict[int, bytes]] = {}
    checks = synodos.run_log_conformance(lambda name: DictLog(store.setdefault(name, {})))
    assert len(checks) >= 9 and "reopen keeps every record" in checks


def test_memory_log_passes_the_conformance_kit() -> None:
    store: Dict[str, MemoryLog] = {}
    assert len(synodos.run_log_conformance(lambda name: store.setdefault(name, MemoryLog()))) >= 9


def test_the_kit_catches_a_broken_python_log() -> None:
    class NoOrderCheck(DictLog):
        def record(self, id: int, data: bytes) -> None:
            self.records[id] = data

    store: Dict[str, Dict[int, bytes]] = {}
    with pytest.raises(synodos.ConformanceError) as info:
        synodos.run_log_conformance(lambda name: NoOrderCheck(store.setdefault(name, {})))
    assert info.value.check == "duplicate and lower ids are refused"
    with pytest.raises(synodos.ConformanceError) as forgetful:
        synodos.run_log_conformance(lambda name: DictLog({}))
    assert forgetful.value.check == "empty and large values"


def test_memory_log_api() -> None:
    log = MemoryLog()
    log.record(1, b"one")
    log.record_batch([(3, b"three"), (5, b"")])
    assert log.last() == (5, b"")
    assert log.range(2, 5) == [(3, b"three"), (5, b"")]
    with pytest.raises(synodos.InvalidArgumentError):
        log.record(5, b"again")
    log.trim(3)
    assert len(log) == 2


def test_an_acceptor_over_python_logs_recovers_after_restart() -> None:
    promises: Dict[int, bytes] = {}
    accepts: Dict[int, bytes] = {}
    a = Acceptor(DictLog(promises), DictLog(accepts))
    assert a.prepare(Request(id=9, attempt=1)).is_granted()
    assert a.accept(Proposal(id=9, value=b"x")).is_accepted()
    again = Acceptor(DictLog(promises), DictLog(accepts))
    assert again.promised == 9
    promise = again.prepare(Request(id=10, attempt=1))
    assert promise.accepted == Proposal(id=9, value=b"x")
    rejected = again.prepare(Request(id=3, attempt=1))
    assert not rejected.is_granted() and rejected.promised == 10


def test_shared_memory_logs_see_the_acceptors_writes() -> None:
    promises, accepts = MemoryLog(), MemoryLog()
    a = Acceptor(promises, accepts)
    synodos.Proposer([a], ids=1).propose(b"v")
    assert len(promises) == 1 and len(accepts) == 1
    restarted = Acceptor(promises, accepts)
    assert restarted.accepted(0) == Proposal(id=a.promised, value=b"v")


def test_a_log_with_record_batch_and_a_generator_range() -> None:
    class Batching(DictLog):
        batches = 0

        def record_batch(self, records: Any) -> None:
            Batching.batches += 1
            last = self.last()
            ids = [i for i, _ in records]
            if ids != sorted(set(ids)) or (ids and last is not None and ids[0] <= last[0]):
                raise ValueError("batch ids must increase")  # all or nothing
            for id, data in records:
                self.record(id, data)

        def range(self, start: int, stop: int) -> Iterator[Tuple[int, bytes]]:
            yield from super().range(start, stop)

        def last(self) -> Optional[Tuple[int, bytes]]:
            return super().last()

    store: Dict[str, Dict[int, bytes]] = {}
    synodos.run_log_conformance(lambda name: Batching(store.setdefault(name, {})))
    assert Batching.batches > 0
