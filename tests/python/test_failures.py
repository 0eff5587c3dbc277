"""Clients that raise or hang, logs that fail: errors, causes, timeouts, recovery."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Set

import pytest

import synodos
from helpers import FailingLog, Forwarding, Hanging, Raising
from synodos import Acceptor, NoQuorumError, Proposal, Proposer, Request


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let hung workers finish


def test_one_raising_client_does_not_stop_a_majority() -> None:
    clients: List[Any] = [Raising(ValueError("boom")), Forwarding(), Forwarding()]
    assert Proposer(clients, ids=1).propose(b"v") == b"v"


def test_a_client_exception_is_the_cause() -> None:
    boom = ValueError("boom")
    clients: List[Any] = [Raising(boom), Raising(boom), Forwarding()]
    with pytest.raises(NoQuorumError) as info:
        Proposer(clients, ids=1, max_attempts=2, backoff_min=0.0).propose(b"v")
    err = info.value
    assert isinstance(err, synodos.SynodosError) and isinstance(err, Exception)
    assert err.code == "NO_QUORUM"
    assert err.__cause__ is boom
    assert "boom" in str(err)
    failed = {i for i, _ in err.failures}
    assert failed == {0, 1}
    assert all(isinstance(e, synodos.TransportError) and e.__cause__ is boom for _, e in err.failures)


def test_objects_keep_working_after_an_exception() -> None:
    clients: List[Any] = [Raising(RuntimeError("once"), failures=1) for _ in range(3)]
    p = Proposer(clients, ids=1, max_attempts=1)
    with pytest.raises(NoQuorumError):
        p.propose(b"v")
    assert p.propose(b"v") == b"v"


def test_a_wrong_answer_type_is_a_transport_error() -> None:
    class Wrong:
        def prepare(self, request: Request) -> str:
            return "not a promise"

        def accept(self, proposal: Proposal) -> str:
            return "no"

    with pytest.raises(NoQuorumError) as info:
        Proposer([Wrong(), Wrong(), Forwarding()], ids=1, max_attempts=1).propose(b"v")
    assert isinstance(info.value.__cause__, TypeError)


def test_a_hung_client_does_not_delay_the_majority(release: threading.Event) -> None:
    hung = Hanging(release)
    clients: List[Any] = [hung, Forwarding(), Forwarding()]
    p = Proposer(clients, ids=1, call_timeout=30.0)
    start = time.monotonic()
    assert p.propose(b"v") == b"v"
    assert time.monotonic() - start < 5.0  # far below the 30 s call timeout
    assert hung.entered.is_set()  # it was asked, concurrently


def test_a_hung_client_caught_in_the_second_phase(release: threading.Event) -> None:
    class HangsOnAccept(Forwarding):
        def __init__(self) -> None:
            super().__init__()
            self.entered = threading.Event()

        def accept(self, proposal: Proposal) -> Proposal:
            self.entered.set()
            release.wait()
            return super().accept(proposal)

    hung = HangsOnAccept()
    p = Proposer([hung, Forwarding(), Forwarding()], ids=1, call_timeout=30.0)
    start = time.monotonic()
    assert [p.propose_at(s, b"v") for s in range(3)] == [b"v"] * 3
    assert time.monotonic() - start < 5.0
    assert hung.entered.is_set()


def test_a_hung_majority_times_out(release: threading.Event) -> None:
    clients: List[Any] = [Hanging(release), Hanging(release), Forwarding()]
    p = Proposer(clients, ids=1, call_timeout=0.2, max_attempts=2, backoff_min=0.0, backoff_max=0.0)
    start = time.monotonic()
    with pytest.raises(NoQuorumError) as info:
        p.propose(b"v")
    elapsed = time.monotonic() - start
    assert 0.3 < elapsed < 3.0
    kinds = {type(e) for _, e in info.value.failures}
    assert kinds == {synodos.SynodosTimeoutError}


def test_slow_clients_are_called_concurrently_and_the_gil_is_released() -> None:
    class Slow(Forwarding):
        def prepare(self, request: Request) -> synodos.Promise:
            time.sleep(0.3)
            return super().prepare(request)

        def accept(self, proposal: Proposal) -> Proposal:
            time.sleep(0.3)
            return super().accept(proposal)

    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    start = time.monotonic()
    try:
        assert Proposer([Slow() for _ in range(5)], ids=1, call_timeout=5.0).propose(b"v") == b"v"
    finally:
        stop.set()
        counter.join()
    elapsed = time.monotonic() - start
    # Called one after another, 5 acceptors x 2 phases x 0.3 s would take 3 s (or 1.8 s for
    # a majority); concurrently, about 0.6 s.
    assert elapsed < 1.5
    assert ticks > 10_000  # Python code ran in another thread while propose waited


def test_inline_client_errors() -> None:
    boom = ValueError("boom")
    clients: List[Any] = [Raising(boom), Raising(boom), Forwarding()]
    p = Proposer(clients, ids=1, max_attempts=1, inline_calls=True)
    with pytest.raises(NoQuorumError) as info:
        p.propose(b"v")
    assert info.value.__cause__ is boom

    class Async(Forwarding):
        async def prepare(self, request: Request) -> synodos.Promise:  # type: ignore[override]
            return super().prepare(request)

    with pytest.raises(NoQuorumError) as info:
        Proposer([Async(), Async(), Forwarding()], ids=1, max_attempts=1, inline_calls=True).propose(b"v")
    assert isinstance(info.value.__cause__, TypeError)
    assert "synodos.aio" in str(info.value.__cause__)
    # A majority of good inline clients still decides, and the proposer keeps working.
    assert Proposer([Raising(boom), Forwarding(), Forwarding()], ids=2, inline_calls=True).propose(b"w") == b"w"


def test_the_interpreter_exits_at_once_after_python_clients_ran(tmp_path: Any) -> None:
    # The first import of `threading` must not happen on a synodos worker: that worker would
    # become threading's "main thread", and the interpreter would wait at exit for it to
    # retire (20 s). `import synodos` imports it first.
    script = tmp_path / "exit.py"
    script.write_text(
        "import synodos\n"
        "class C:\n"
        "    def __init__(self): self.a = synodos.Acceptor()\n"
        "    def prepare(self, r):\n"
        "        import threading  # first imported here, on a worker\n"
        "        return self.a.prepare(r)\n"
        "    def accept(self, p): return self.a.accept(p)\n"
        "assert synodos.Proposer([C(), C(), C()], ids=1).propose(b'v') == b'v'\n"
    )
    start = time.monotonic()
    subprocess.run([sys.executable, str(script)], check=True, timeout=15, capture_output=True)
    assert time.monotonic() - start < 10.0


def test_exit_while_a_client_call_still_runs_does_not_crash(tmp_path: Any) -> None:
    # On Python < 3.14 the interpreter ends a thread that wants the GIL during finalization
    # with a forced unwind; through a synodos worker's frames that used to abort the process.
    script = tmp_path / "busy.py"
    script.write_text(
        "import time, synodos\n"
        "class Busy:\n"
        "    def __init__(self): self.a = synodos.Acceptor()\n"
        "    def prepare(self, r):\n"
        "        while True:\n"
        "            time.sleep(0.001)  # lets go of the GIL and takes it back, for ever\n"
        "    def accept(self, p): return self.a.accept(p)\n"
        "class C:\n"
        "    def __init__(self): self.a = synodos.Acceptor()\n"
        "    def prepare(self, r): return self.a.prepare(r)\n"
        "    def accept(self, p): return self.a.accept(p)\n"
        "p = synodos.Proposer([Busy(), C(), C()], ids=1, call_timeout=0.5)\n"
        "assert p.propose(b'v') == b'v'\n"
    )
    for _ in range(3):
        done = subprocess.run([sys.executable, str(script)], timeout=30, capture_output=True)
        assert done.returncode == 0, done.stderr.decode(errors="replace")


def test_a_hung_client_does_not_exhaust_the_workers(release: threading.Event) -> None:
    # Every decision asks the hung client again; each call to it catches a worker thread
    # until it returns, but only up to a bound, and the decisions go on without it.
    acceptors = [Acceptor() for _ in range(4)]
    clients: List[Any] = [Hanging(release)] + [Forwarding(a) for a in acceptors]
    errors: List[BaseException] = []
    chosen: Dict[int, Set[bytes]] = {}

    def run(node: int) -> None:
        p = Proposer(clients, ids=node, call_timeout=0.2, seed=node)
        try:
            for slot in range(60):
                chosen.setdefault(slot, set()).add(p.propose_at(slot, b"n%d" % node))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i + 1,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(chosen) == list(range(60))
    assert all(len(values) == 1 for values in chosen.values())  # every proposer learned the same


def test_a_failing_log_is_a_storage_error_then_closed() -> None:
    log = FailingLog()
    acceptor = Acceptor(promise_log=log, accept_log=synodos.MemoryLog())
    assert acceptor.prepare(Request(id=1, attempt=1)).is_granted()
    log.fail = True
    with pytest.raises(synodos.StorageError) as info:
        acceptor.prepare(Request(id=2, attempt=1))
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == 28
    with pytest.raises(synodos.ClosedError):
        acceptor.prepare(Request(id=3, attempt=1))


def test_a_log_calling_back_into_its_acceptor_gets_an_error_not_a_deadlock() -> None:
    holder: List[Acceptor] = []

    class Reentrant(FailingLog):
        def record(self, id: int, data: bytes) -> None:
            holder[0].observe(Request())

    acceptor = Acceptor(promise_log=Reentrant())
    holder.append(acceptor)
    with pytest.raises(synodos.StorageError) as info:
        acceptor.prepare(Request(id=1, attempt=1))
    assert isinstance(info.value.__cause__, synodos.InvalidArgumentError)


def test_a_bad_log_object_is_refused() -> None:
    with pytest.raises(TypeError):
        Acceptor(promise_log=object())


def test_an_async_client_in_the_sync_api_is_a_clear_error() -> None:
    class Async:
        async def prepare(self, request: Request) -> synodos.Promise:
            raise AssertionError("never awaited")

        async def accept(self, proposal: Proposal) -> Proposal:
            raise AssertionError("never awaited")

    with pytest.raises(NoQuorumError) as info:
        Proposer([Async(), Async(), Forwarding()], ids=1, max_attempts=1).propose(b"v")
    assert isinstance(info.value.__cause__, TypeError)
    assert "synodos.aio" in str(info.value.__cause__)


@pytest.mark.parametrize("inline_calls", [False, True])
def test_a_client_may_answer_with_a_concurrent_future(inline_calls: bool) -> None:
    import concurrent.futures

    executor = concurrent.futures.ThreadPoolExecutor(max_workers=4)

    class Deferred(Forwarding):
        def prepare(self, request: Request) -> "concurrent.futures.Future[synodos.Promise]":  # type: ignore[override]
            return executor.submit(self.acceptor.prepare, request)

        def accept(self, proposal: Proposal) -> "concurrent.futures.Future[Proposal]":  # type: ignore[override]
            return executor.submit(self.acceptor.accept, proposal)

    try:
        p = Proposer([Deferred() for _ in range(3)], ids=1, inline_calls=inline_calls)
        assert p.propose(b"v") == b"v"
        # A future that never completes is cut off by the call timeout, and cancelled.
        never: "concurrent.futures.Future[synodos.Promise]" = concurrent.futures.Future()
        ended = threading.Event()
        never.add_done_callback(lambda _: ended.set())  # called on cancel too

        class Stuck(Forwarding):
            def prepare(self, request: Request) -> "concurrent.futures.Future[synodos.Promise]":  # type: ignore[override]
                return never

        clients: List[Any] = [Stuck(), Deferred(), Deferred()]
        assert Proposer(clients, ids=2, call_timeout=0.2, inline_calls=inline_calls).propose_at(1, b"w") == b"w"
        # The cancel is handed to a synodos worker: wait for it (bounded), then check.
        assert ended.wait(timeout=10.0)
        assert never.cancelled()
    finally:
        executor.shutdown()


@pytest.mark.expect_panics(1)
def test_a_rust_panic_is_a_synodos_error_not_a_panic_exception() -> None:
    from synodos import _synodos

    before = _synodos._panic_count()
    with pytest.raises(synodos.SynodosError) as info:
        _synodos._test_panic()
    assert "deliberate panic" in str(info.value)
    assert type(info.value) is synodos.SynodosError
    # The hook saw it (conftest.py checks this count around every test).
    assert _synodos._panic_count() == before + 1


def test_the_exception_hierarchy() -> None:
    for cls in [
        synodos.NoQuorumError,
        synodos.SynodosTimeoutError,
        synodos.RejectedError,
        synodos.StorageError,
        synodos.TransportError,
        synodos.InvalidMessageError,
        synodos.InvalidArgumentError,
        synodos.IdExhaustedError,
        synodos.ClosedError,
        synodos.ConformanceError,
    ]:
        assert issubclass(cls, synodos.SynodosError) and issubclass(cls, Exception)
        assert cls.__module__ == "synodos"
    assert synodos.SynodosTimeoutError.__name__ != TimeoutError.__name__  # no shadowing


def test_an_id_generator_exception_is_the_cause() -> None:
    boom = RuntimeError("no ids today")

    class BrokenIds:
        def next(self) -> int:
            raise boom

        def observe(self, seen: int) -> None:
            pass

    with pytest.raises(synodos.SynodosError) as info:
        Proposer([Acceptor() for _ in range(3)], ids=BrokenIds()).propose(b"v")
    assert info.value.__cause__ is boom
    assert "ids.next()" in str(info.value)
