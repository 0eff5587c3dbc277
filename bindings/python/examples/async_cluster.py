"""Three acceptors behind async clients (as over an async RPC), two competing proposers.

Run: python bindings/python/examples/async_cluster.py
"""

from __future__ import annotations

import asyncio
import random

import synodos
from synodos import aio


class SlowLink:
    """An async client with network-like delays in front of an in-process acceptor."""

    def __init__(self, acceptor: synodos.Acceptor, rng: random.Random) -> None:
        self.acceptor = acceptor
        self.rng = rng

    async def prepare(self, request: synodos.Request) -> synodos.Promise:
        await asyncio.sleep(self.rng.uniform(0.001, 0.01))
        return self.acceptor.prepare(request)

    async def accept(self, proposal: synodos.Proposal) -> synodos.Proposal:
        await asyncio.sleep(self.rng.uniform(0.001, 0.01))
        return self.acceptor.accept(proposal)


async def main() -> None:
    rng = random.Random(1)
    links = [SlowLink(synodos.Acceptor(), rng) for _ in range(3)]
    alice = aio.Proposer(links, ids=1)
    bob = aio.Proposer(links, ids=2)
    a, b = await asyncio.gather(alice.propose(b"alice"), bob.propose(b"bob"))
    assert a == b
    print("chosen:", a.decode())


if __name__ == "__main__":
    asyncio.run(main())
