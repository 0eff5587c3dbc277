"""Objects release the Python callbacks they hold when dropped."""

from __future__ import annotations

import gc
import weakref

from helpers import DictLog, Forwarding
from synodos import Acceptor, Proposer, ReplicatedLog


def test_a_dropped_proposer_releases_its_clients() -> None:
    # One acceptor: its calls must all finish before propose returns (with more, a call
    # still in flight after the majority answered holds its client until it returns).
    clients = [Forwarding()]
    refs = [weakref.ref(c) for c in clients]
    p = Proposer(clients, ids=1)
    assert p.propose(b"v") == b"v"
    del clients
    gc.collect()
    assert all(r() is not None for r in refs)  # still held by the proposer
    del p
    gc.collect()
    assert all(r() is None for r in refs)


def test_a_dropped_log_handle_releases_its_clients() -> None:
    client = Forwarding()
    ref = weakref.ref(client)
    log = ReplicatedLog([client], ids=1)
    log.append(b"x")
    del client, log
    gc.collect()
    assert ref() is None


def test_a_dropped_acceptor_releases_its_logs() -> None:
    promises, accepts = DictLog({}), DictLog({})
    refs = [weakref.ref(promises), weakref.ref(accepts)]
    a = Acceptor(promises, accepts)
    Proposer([a], ids=1).propose(b"v")
    del promises, accepts, a
    gc.collect()
    assert all(r() is None for r in refs)
