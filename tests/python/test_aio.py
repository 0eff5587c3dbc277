"""synodos.aio: async clients on the caller's event loop."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, List

import pytest

import synodos
from synodos import Acceptor, NoQuorumError, Promise, Proposal, Request, aio


class AsyncClient:
    """An async client with random delays in front of an in-process acceptor."""

    def __init__(self, rng: random.Random, acceptor: Acceptor | None = None) -> None:
        self.acceptor = acceptor if acceptor is not None else Acceptor()
        self.rng = rng
        self.loop: asyncio.AbstractEventLoop | None = None

    async def prepare(self, request: Request) -> Promise:
        self.loop = asyncio.get_running_loop()
        await asyncio.sleep(self.rng.uniform(0, 0.01))
        return self.acceptor.prepare(request)

    async def accept(self, proposal: Proposal) -> Proposal:
        await asyncio.sleep(self.rng.uniform(0, 0.01))
        return self.acceptor.accept(proposal)

    async def observe(self, request: Request) -> List[Proposal]:
        await asyncio.sleep(self.rng.uniform(0, 0.01))
        return self.acceptor.observe(request)


@pytest.mark.parametrize("n", [3, 5])
def test_async_clients_with_random_delays(n: int) -> None:
    async def main() -> None:
        rng = random.Random(n)
        clients = [AsyncClient(rng) for _ in range(n)]
        p = aio.Proposer(clients, ids=1)
        assert await p.propose(b"v") == b"v"
        assert await aio.Proposer(clients, ids=2).propose(b"w") == b"v"
        # The clients ran on this loop.
        assert all(c.loop is None or c.loop is asyncio.get_running_loop() for c in clients)
        assert any(c.loop is asyncio.get_running_loop() for c in clients)

    asyncio.run(main())


def test_competing_async_proposers_agree() -> None:
    async def main() -> None:
        rng = random.Random(7)
        acceptors = [Acceptor() for _ in range(5)]
        clients = [AsyncClient(rng, a) for a in acceptors]
        proposers = [aio.Proposer(clients, ids=i + 1, seed=i) for i in range(4)]
        for slot in range(5):
            got = await asyncio.gather(*(p.propose_at(slot, b"p%d" % i) for i, p in enumerate(proposers)))
            assert len(set(got)) == 1 and got[0] in {b"p0", b"p1", b"p2", b"p3"}

    asyncio.run(main())


def test_a_hung_async_client_is_cancelled_and_cut_off() -> None:
    cancelled = []

    class Hung:
        async def prepare(self, request: Request) -> Promise:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(request)
                raise
            raise AssertionError("unreachable")

        async def accept(self, proposal: Proposal) -> Proposal:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    async def main() -> None:
        rng = random.Random(1)
        ok = aio.Proposer([Hung(), AsyncClient(rng), AsyncClient(rng)], ids=1, call_timeout=30.0)
        start = time.monotonic()
        assert await ok.propose(b"v") == b"v"
        assert time.monotonic() - start < 5.0
        bad = aio.Proposer([Hung(), Hung(), AsyncClient(rng)], ids=2, call_timeout=0.2, max_attempts=1)
        with pytest.raises(NoQuorumError):
            await bad.propose(b"w")
        # The loop stayed responsive and the hung coroutine was cancelled at the timeout.
        for _ in range(100):
            if cancelled:
                break
            await asyncio.sleep(0.01)
        assert cancelled

    asyncio.run(main())


def test_an_async_client_exception_is_the_cause() -> None:
    boom = KeyError("boom")

    class Raising:
        async def prepare(self, request: Request) -> Promise:
            raise boom

        async def accept(self, proposal: Proposal) -> Proposal:
            raise boom

    async def main() -> None:
        p = aio.Proposer([Raising(), Raising(), Acceptor()], ids=1, max_attempts=1)
        with pytest.raises(synodos.NoQuorumError) as info:
            await p.propose(b"v")
        assert info.value.__cause__ is boom

    asyncio.run(main())


def test_async_replicated_log() -> None:
    async def main() -> None:
        rng = random.Random(3)
        acceptors = [Acceptor() for _ in range(3)]
        clients: List[Any] = [AsyncClient(rng, acceptors[0]), acceptors[1], AsyncClient(rng, acceptors[2])]
        log = aio.ReplicatedLog(clients, ids=1)
        assert (await log.append(b"a")).slot == 0
        assert (await log.append(b"b")).slot == 1
        assert [e.value for e in await log.read()] == [b"a", b"b"]
        assert [e.slot async for e in log.entries(1)] == [1]
        assert await log.wait(2, timeout=0.05) == []

    asyncio.run(main())
