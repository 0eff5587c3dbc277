"""synodos: Paxos consensus with a Rust core.

Single decree::

    acceptors = [synodos.Acceptor() for _ in range(3)]
    proposer = synodos.Proposer(acceptors, ids=1)
    chosen = proposer.propose(b"hello")

An acceptor client is a ``synodos.Acceptor`` or any object with ``prepare(Request) ->
Promise`` and ``accept(Proposal) -> Proposal`` (see :class:`AcceptorClient`); a storage log
is a ``MemoryLog``, a ``FileLog`` or any object with ``record``, ``last``, ``range`` and
``trim`` (see :class:`Log`). ``synodos.aio`` has the same API for asyncio.
"""

from __future__ import annotations

# Imported here, on the importing thread, and not first by a synodos worker thread: the
# thread that first imports `threading` becomes its "main thread", and interpreter exit
# would then wait for that worker to end.
import concurrent.futures  # noqa: F401
import os as _os
import threading  # noqa: F401
from typing import Iterable, Optional, Protocol, Tuple, runtime_checkable

from ._synodos import (
    Acceptor,
    Batch,
    ClosedError,
    ConformanceError,
    CounterIdGenerator,
    Entry,
    HttpAcceptor,
    IdExhaustedError,
    InvalidArgumentError,
    InvalidMessageError,
    LogReader,
    ManualClock,
    MemoryLog,
    NodeClient,
    NodeFollow,
    NoQuorumError,
    Promise,
    Proposal,
    Proposer,
    ProtocolViolationError,
    RejectedError,
    ReplicatedLog,
    Request,
    Server,
    ServerIdGenerator,
    StorageError,
    SynodosError,
    SynodosTimeoutError,
    TransportError,
    TrimmedError,
    __version__,
    run_log_conformance,
    serve,
)

try:  # present when the extension was built with the durable file log
    from ._synodos import FileLog
except ImportError:  # pragma: no cover
    pass

# In the child of os.fork() only the forking thread exists: start with a new worker pool
# (the parent's workers are not there to take calls).
if hasattr(_os, "register_at_fork"):
    from ._synodos import _after_fork_in_child

    _os.register_at_fork(after_in_child=_after_fork_in_child)


@runtime_checkable
class AcceptorClient(Protocol):
    """How a proposer reaches one acceptor: implement it over your RPC.

    ``observe`` is needed only by ``ReplicatedLog.read``/``entries``/``wait``. An exception
    raised here is reported per acceptor; if it costs the quorum, the caller gets a
    ``NoQuorumError`` whose ``__cause__`` is your exception.
    """

    def prepare(self, request: Request) -> Promise: ...

    def accept(self, proposal: Proposal) -> Proposal: ...


@runtime_checkable
class Log(Protocol):
    """Acceptor storage: records with strictly increasing ids.

    ``record`` must be durable when it returns. ``range`` bounds are inclusive. An optional
    ``record_batch(records)`` writes several records at once.
    """

    def record(self, id: int, data: bytes) -> None: ...

    def last(self) -> Optional[Tuple[int, bytes]]: ...

    def range(self, start: int, stop: int) -> Iterable[Tuple[int, bytes]]: ...

    def trim(self, before: int) -> None: ...


__all__ = [
    "Acceptor",
    "Batch",
    "AcceptorClient",
    "ClosedError",
    "ProtocolViolationError",
    "TrimmedError",
    "ConformanceError",
    "CounterIdGenerator",
    "Entry",
    "HttpAcceptor",
    "IdExhaustedError",
    "InvalidArgumentError",
    "InvalidMessageError",
    "Log",
    "LogReader",
    "ManualClock",
    "MemoryLog",
    "NodeClient",
    "NodeFollow",
    "NoQuorumError",
    "Promise",
    "Proposal",
    "Proposer",
    "RejectedError",
    "ReplicatedLog",
    "Request",
    "Server",
    "ServerIdGenerator",
    "StorageError",
    "SynodosError",
    "SynodosTimeoutError",
    "TransportError",
    "__version__",
    "run_log_conformance",
    "serve",
]
if "FileLog" in globals():
    __all__.append("FileLog")
