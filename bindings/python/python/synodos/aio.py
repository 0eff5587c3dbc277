"""synodos for asyncio: the same API with ``async def`` clients and ``await``.

How it works (and why): the Rust driver is the same as in the sync API. ``await
proposer.propose(v)`` runs it on an executor thread (``loop.run_in_executor``), with the GIL
released while Rust runs. Each call to one of your async clients is scheduled on *your* event
loop with ``asyncio.run_coroutine_threadsafe`` (by that executor thread itself: scheduling
never blocks); the ``concurrent.futures.Future`` it returns
goes back to Rust, which takes the answer from its done-callback (no thread blocks on it)
and cancels it when the proposer stops waiting: after ``call_timeout``, or once a majority
has answered. So your clients run on the loop that called ``propose`` (they may use its
sockets and locks), and a hung client cannot stall the loop or the proposer.

A client may also have plain (non-async) methods: they are called on the loop thread too,
and must not block. A ``synodos.Acceptor`` is passed straight to Rust (no loop, no thread).

Cancelling the task awaiting ``propose`` stops waiting for it, but the proposal already
sent may still be chosen (as with any lost network reply).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, AsyncIterator, Awaitable, Iterable, List, Optional, Protocol, Union

from . import _synodos
from ._synodos import Acceptor, CounterIdGenerator, Entry, HttpAcceptor, Promise, Proposal, Request, ServerIdGenerator

__all__ = ["AsyncAcceptorClient", "NodeClient", "Proposer", "ReplicatedLog"]


class AsyncAcceptorClient(Protocol):
    """An acceptor reached asynchronously (``observe`` is optional; the log reader needs it)."""

    def prepare(self, request: Request) -> Awaitable[Promise]: ...

    def accept(self, proposal: Proposal) -> Awaitable[Proposal]: ...


Ids = Union[int, CounterIdGenerator, ServerIdGenerator, Any]


async def _call(method: Any, arg: Any) -> Any:
    result = method(arg)
    if inspect.isawaitable(result):
        result = await result
    return result


class _OnLoop:
    """A client for the Rust driver that runs an async client's coroutines on a loop.

    Each method returns at once with a ``concurrent.futures.Future``; synodos takes the
    answer from its done-callback (no thread waits for it) and cancels it if the proposer
    stops waiting (the call timed out, or a majority answered first).
    """

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop

    def _run(self, name: str, arg: Any) -> "concurrent.futures.Future[Any]":
        return asyncio.run_coroutine_threadsafe(_call(getattr(self._client, name), arg), self._loop)

    def prepare(self, request: Request) -> "concurrent.futures.Future[Promise]":
        return self._run("prepare", request)

    def accept(self, proposal: Proposal) -> "concurrent.futures.Future[Proposal]":
        return self._run("accept", proposal)

    def observe(self, request: Request) -> "concurrent.futures.Future[List[Proposal]]":
        if not hasattr(self._client, "observe"):
            raise AttributeError(f"{type(self._client).__name__} has no observe method")
        return self._run("observe", request)


class _Bound:
    """Builds, per event loop, the sync object whose clients run on that loop."""

    def __init__(self, acceptors: Iterable[Any], ids: Ids, options: dict[str, Any]) -> None:
        if options.get("inline_calls"):
            raise TypeError("inline_calls is for the sync API: synodos.aio calls clients on the event loop")
        self._acceptors = list(acceptors)
        # One generator shared by every loop's driver: ballots never repeat.
        self._ids = CounterIdGenerator(ids) if isinstance(ids, int) else ids
        self._options = options
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._sync: Any = None
        self._lock = threading.Lock()

    def clients(self, loop: asyncio.AbstractEventLoop) -> List[Any]:
        return [a if isinstance(a, (Acceptor, HttpAcceptor)) else _OnLoop(a, loop) for a in self._acceptors]

    def get(self, kind: Any) -> Any:
        loop = asyncio.get_running_loop()
        # One object may be used from several event loops (threads) at once: the pair
        # (loop, driver) is read and replaced under a lock, and the driver returned is the
        # one made for this loop, never one another thread has just put in its place.
        with self._lock:
            sync = self._sync
            if self._loop is not loop or sync is None:
                # `_OnLoop` methods only schedule a coroutine and return its future: they
                # never block, so the executor thread running the driver calls them itself.
                sync = kind(self.clients(loop), self._ids, inline_calls=True, **self._options)
                self._sync = sync
                self._loop = loop
        return sync


class Proposer:
    """``synodos.Proposer`` for asyncio: clients are ``AsyncAcceptorClient``s or
    ``synodos.Acceptor``s; the options are the same."""

    def __init__(self, acceptors: Iterable[Union[AsyncAcceptorClient, Acceptor, HttpAcceptor]], ids: Ids, **options: Any) -> None:
        self._bound = _Bound(acceptors, ids, options)
        # Validate the arguments now, as the sync class does.
        _synodos.Proposer([Acceptor()], self._bound._ids, **options)

    async def propose(self, value: bytes) -> bytes:
        """Propose ``value`` for the single decree; returns the value chosen."""
        return await self.propose_at(0, value)

    async def propose_at(self, slot: int, value: bytes) -> bytes:
        """``propose`` for one slot of a log."""
        sync = self._bound.get(_synodos.Proposer)
        result: bytes = await asyncio.get_running_loop().run_in_executor(None, sync.propose_at, slot, value)
        return result


class ReplicatedLog:
    """``synodos.ReplicatedLog`` for asyncio."""

    def __init__(self, acceptors: Iterable[Union[AsyncAcceptorClient, Acceptor, HttpAcceptor]], ids: Ids, **options: Any) -> None:
        self._bound = _Bound(acceptors, ids, options)
        _synodos.ReplicatedLog([Acceptor()], self._bound._ids, **options)

    async def _run(self, method: str, *args: Any) -> Any:
        sync = self._bound.get(_synodos.ReplicatedLog)
        return await asyncio.get_running_loop().run_in_executor(None, getattr(sync, method), *args)

    async def append(self, value: bytes) -> Entry:
        """Append ``value`` at the first free slot; returns its entry."""
        entry: Entry = await self._run("append", value)
        return entry

    async def read(self, start: int = 0, max: int = 1000) -> List[Entry]:
        """The chosen entries from ``start`` on (up to the first slot not chosen yet)."""
        entries: List[Entry] = await self._run("read", start, max)
        return entries

    async def wait(self, start: int, max: int = 1000, timeout: float = 1.0) -> List[Entry]:
        """``read``, waiting up to ``timeout`` seconds for an entry at ``start``."""
        entries: List[Entry] = await self._run("wait", start, max, timeout)
        return entries

    async def entries(self, start: int = 0, *, follow: bool = False) -> AsyncIterator[Entry]:
        """The chosen entries from ``start`` on; with ``follow=True``, wait for more forever."""
        slot = start
        while True:
            batch = await (self.wait(slot, 1000, 0.2) if follow else self.read(slot))
            if not batch and not follow:
                return
            for entry in batch:
                slot = entry.slot + 1
                yield entry


class NodeClient:
    """``synodos.NodeClient`` for asyncio: the same calls, awaited.

    Each call runs the blocking client on an executor thread (the GIL is released while it
    waits on the network); ``follow`` is an async iterator.
    """

    def __init__(self, peers: Union[str, Iterable[str]], **options: Any) -> None:
        self._sync = _synodos.NodeClient(peers if isinstance(peers, str) else list(peers), **options)

    @property
    def peers(self) -> List[str]:
        return self._sync.peers

    async def _run(self, method: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, method, *args)

    async def append(self, value: bytes) -> Entry:
        """Append ``value``; the entry once chosen."""
        entry: Entry = await self._run(self._sync.append, value)
        return entry

    async def propose(self, value: bytes) -> bytes:
        """Decide the single decree; the value chosen."""
        chosen: bytes = await self._run(self._sync.propose, value)
        return chosen

    async def read(self, start: int = 0, max: int = 1000) -> List[Entry]:
        """Up to ``max`` chosen entries from ``start`` on."""
        entries: List[Entry] = await self._run(self._sync.read, start, max)
        return entries

    async def info(self) -> List[dict[str, Any]]:
        """Each node's ``/v1/info`` (or the error reaching it)."""
        info: List[dict[str, Any]] = await self._run(self._sync.info)
        return info

    async def follow(self, start: int = 0) -> AsyncIterator[Entry]:
        """The chosen entries from ``start`` on, then each new one (never ends by itself)."""
        stream = self._sync.follow(start)
        try:
            while True:
                entry = await self._run(_next_or_none, stream)
                if entry is None:
                    return
                yield entry
        finally:
            stream.close()


def _next_or_none(stream: Any) -> Optional[Entry]:
    return next(stream, None)
