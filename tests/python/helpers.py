"""Python-written acceptor clients and logs used by the tests."""

from __future__ import annotations

import threading
from typing import Dict, Iterator, List, Optional, Tuple

import synodos
from synodos import Acceptor, Promise, Proposal, Request


class Forwarding:
    """A blocking Python client in front of an in-process acceptor (as an RPC stub would be)."""

    def __init__(self, acceptor: Optional[Acceptor] = None) -> None:
        self.acceptor = acceptor if acceptor is not None else Acceptor()
        self.calls = 0

    def prepare(self, request: Request) -> Promise:
        self.calls += 1
        return self.acceptor.prepare(request)

    def accept(self, proposal: Proposal) -> Proposal:
        self.calls += 1
        return self.acceptor.accept(proposal)

    def observe(self, request: Request) -> List[Proposal]:
        return self.acceptor.observe(request)


class Hanging:
    """A client whose calls block until `release` is set (a dead acceptor)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.entered = threading.Event()

    def prepare(self, request: Request) -> Promise:
        self.entered.set()
        self.release.wait()
        raise ConnectionError("released")

    def accept(self, proposal: Proposal) -> Proposal:
        self.entered.set()
        self.release.wait()
        raise ConnectionError("released")


class Raising(Forwarding):
    """Raises `error` on its first `failures` calls (all calls when None), then forwards."""

    def __init__(self, error: Exception, failures: Optional[int] = None) -> None:
        super().__init__()
        self.error = error
        self.failures = failures

    def _maybe_raise(self) -> None:
        if self.failures is None or self.failures > 0:
            if self.failures is not None:
                self.failures -= 1
            raise self.error

    def prepare(self, request: Request) -> Promise:
        self._maybe_raise()
        return super().prepare(request)

    def accept(self, proposal: Proposal) -> Proposal:
        self._maybe_raise()
        return super().accept(proposal)


class DictLog:
    """A storage log written in Python, over a dict shared by name (so a reopen sees it)."""

    def __init__(self, records: Dict[int, bytes]) -> None:
        self.records = records

    def record(self, id: int, data: bytes) -> None:
        last = self.last()
        if last is not None and id <= last[0]:
            raise ValueError(f"id {id} is not above {last[0]}")
        self.records[id] = bytes(data)

    def last(self) -> Optional[Tuple[int, bytes]]:
        if not self.records:
            return None
        top = max(self.records)
        return top, self.records[top]

    def range(self, start: int, stop: int) -> Iterator[Tuple[int, bytes]]:
        for id in sorted(self.records):
            if start <= id <= stop:
                yield id, self.records[id]

    def trim(self, before: int) -> None:
        for id in [i for i in self.records if i < before]:
            del self.records[id]


class FailingLog(DictLog):
    """A log whose `record` raises once `fail` is set."""

    def __init__(self) -> None:
        super().__init__({})
        self.fail = False

    def record(self, id: int, data: bytes) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        super().record(id, data)


def is_synodos_error(e: BaseException) -> bool:
    return isinstance(e, synodos.SynodosError) and isinstance(e, Exception)
