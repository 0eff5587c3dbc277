"""The durable FileLog: survives close and reopen, locks its directory, passes the kit."""

from __future__ import annotations

from pathlib import Path

import pytest

import synodos
from synodos import Acceptor, FileLog, Proposal, Proposer, Request


def test_file_log_passes_the_conformance_kit(tmp_path: Path) -> None:
    checks = synodos.run_log_conformance(lambda name: FileLog(tmp_path / name))
    assert "reopen keeps every record" in checks


def test_records_survive_close_and_reopen(tmp_path: Path) -> None:
    with FileLog(tmp_path / "log") as log:
        log.record(1, b"one")
        log.record_batch([(2, b"two"), (7, b"")])
        assert len(log) == 3
    assert log.closed
    with pytest.raises(synodos.ClosedError):
        log.record(8, b"late")
    again = FileLog(str(tmp_path / "log"))
    assert again.last() == (7, b"")
    assert again.range(0, 2**64 - 1) == [(1, b"one"), (2, b"two"), (7, b"")]
    again.close()


def test_a_second_opener_is_locked_out(tmp_path: Path) -> None:
    first = FileLog(tmp_path / "log")
    with pytest.raises(synodos.StorageError):
        FileLog(tmp_path / "log")
    first.close()
    FileLog(tmp_path / "log").close()


def test_an_acceptor_over_file_logs_survives_a_restart(tmp_path: Path) -> None:
    dirs = [(tmp_path / f"a{i}" / "promises", tmp_path / f"a{i}" / "accepts") for i in range(3)]
    logs = [(FileLog(p), FileLog(a)) for p, a in dirs]
    acceptors = [Acceptor(p, a) for p, a in logs]
    assert Proposer(acceptors, ids=1).propose(b"durable") == b"durable"
    ballot = acceptors[0].promised
    for p, a in logs:
        p.close()
        a.close()
    with pytest.raises(synodos.SynodosError):  # closed logs: the acceptor refuses
        acceptors[0].prepare(Request(id=ballot + 1, attempt=1))
    del acceptors, logs

    restarted = [Acceptor(FileLog(p), FileLog(a)) for p, a in dirs]
    # A majority (at least) promised and accepted before the restart, and remember it.
    assert sum(1 for r in restarted if r.promised == ballot) >= 2
    assert sum(1 for r in restarted if r.accepted(0) == Proposal(id=ballot, value=b"durable")) >= 2
    assert Proposer(restarted, ids=2).propose(b"other") == b"durable"
