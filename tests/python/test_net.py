"""synodos over the network from Python: `serve` (any Acceptor, a Python-written log too),
`HttpAcceptor` (Rust-native: concurrent calls without the GIL), `NodeClient` against
`synodos serve --peers` nodes, `python -m synodos serve`, TLS and tokens, and clean stops.

All traffic is on 127.0.0.1. Every process a test starts is stopped by its pid in a
`finally`, also when the test fails; readiness is a ready line, never a sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import AsyncIterator, Dict, Iterator, List

import pytest

import synodos
import synodos.aio
from helpers import DictLog

ROOT = Path(__file__).resolve().parents[2]
SYNODOS = Path(os.environ.get("SYNODOS_BIN", ROOT / "target" / "release" / "synodos"))
TOKEN = "0123456789abcdef0123456789abcdef"

# `make test-python` builds it first (build-net); run alone, build it with `make build-net`.


class Process:
    """A child started with a ready line (`... <url>` as its first stdout line), stopped by pid."""

    def __init__(self, args: List[str], env: Dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env
        )
        line = self._ready_line(10.0)
        self.url = line.split()[-1]
        self.stderr = ""

    def _ready_line(self, timeout: float) -> str:
        got: List[str] = []
        reader = threading.Thread(target=lambda: got.append(self.proc.stdout.readline() if self.proc.stdout else ""))
        reader.start()
        reader.join(timeout)
        if not got or not got[0].strip():
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.kill()
            raise AssertionError(f"{self.proc.args!r} gave no ready line in {timeout} s; stderr: {err}")
        return got[0].strip()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(10)
            self.stderr = self.proc.stderr.read() if self.proc.stderr else ""
            return code
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def served() -> Iterator[List[synodos.Server]]:
    """Three served in-process acceptors with a token: one over a Python-written log."""
    logs = [synodos.Acceptor(DictLog({}), DictLog({})), synodos.Acceptor(), synodos.Acceptor()]
    servers = [synodos.serve(a, token=TOKEN, id=i + 1, cluster="py") for i, a in enumerate(logs)]
    try:
        yield servers
    finally:
        for s in servers:
            s.close()


def http(servers: List[synodos.Server], token: str = TOKEN) -> List[synodos.HttpAcceptor]:
    return [synodos.HttpAcceptor(s.url, token=token, cluster="py") for s in servers]


def test_a_log_over_served_acceptors_and_a_wrong_token(served: List[synodos.Server]) -> None:
    log = synodos.ReplicatedLog(http(served), ids=1)
    slots = [log.append(f"v{i}".encode()).slot for i in range(10)]
    assert slots == list(range(10))
    assert [e.value for e in log.read(0)] == [f"v{i}".encode() for i in range(10)]

    # Another proposer over the same acceptors sees the same log.
    other = synodos.ReplicatedLog(http(served), ids=2)
    assert other.append(b"second writer").slot == 10
    assert [e.value for e in other.read(0)][-1] == b"second writer"

    bad = synodos.HttpAcceptor(served[0].url, token="wrong-token-wrong-token", cluster="py")
    with pytest.raises(synodos.TransportError) as caught:
        bad.prepare(synodos.Request(id=99, attempt=1, slot=0))
    assert caught.value.status == 401
    assert caught.value.code == "TRANSPORT"
    assert caught.value.server_code == "UNAUTHORIZED"
    assert "token" in (caught.value.server_message or "").lower()


def test_serving_shares_the_acceptor_with_the_process() -> None:
    acceptor = synodos.Acceptor(DictLog({}), DictLog({}))
    with synodos.serve(acceptor, cluster="py") as server:
        remote = synodos.HttpAcceptor(server.url, cluster="py")
        assert remote.prepare(synodos.Request(id=5, attempt=1, slot=0)).is_granted()
        assert acceptor.promised == 5, "a promise made over HTTP is the in-process acceptor's"
        assert acceptor.accept(synodos.Proposal(id=7, slot=2, value=b"local")).is_accepted()
        assert [p.value for p in remote.observe(synodos.Request(id=0, attempt=0, slot=0))] == [b"local"]
        assert remote.info()["promised"] == 7
    assert server.closed
    server.close()  # twice is fine


def test_http_acceptor_calls_run_concurrently_without_the_gil(served: List[synodos.Server]) -> None:
    errors: List[BaseException] = []
    logs = [synodos.ReplicatedLog(http(served), ids=10 + i) for i in range(4)]

    def writer(log: synodos.ReplicatedLog, tag: int) -> None:
        try:
            for i in range(10):
                log.append(f"{tag}-{i}".encode())
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(log, i)) for i, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    values = [e.value for e in logs[0].read(0)]
    assert sorted(values) == sorted(f"{t}-{i}".encode() for t in range(4) for i in range(10))


def test_aio_proposer_over_http_acceptors(served: List[synodos.Server]) -> None:
    async def main() -> List[int]:
        log = synodos.aio.ReplicatedLog(http(served), ids=20)
        return [(await log.append(f"a{i}".encode())).slot for i in range(3)]

    assert asyncio.run(main()) == [0, 1, 2]


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        synodos.HttpAcceptor("ftp://127.0.0.1:1")
    with pytest.raises(TypeError, match="synodos.Acceptor"):
        synodos.serve(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TLS|tls|token"):
        synodos.serve(synodos.Acceptor(), "0.0.0.0:0")
    with pytest.raises(OSError, match="ca"):
        synodos.HttpAcceptor("https://127.0.0.1:1", ca=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="token"):
        synodos.serve(synodos.Acceptor(), token="short")
    with pytest.raises(ValueError, match="peers|URL"):
        synodos.NodeClient([])


def test_an_unclosed_server_warns() -> None:
    server = synodos.serve(synodos.Acceptor())
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        del server
        import gc

        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in seen), [str(w.message) for w in seen]


def test_a_down_acceptor_is_a_transport_error_with_status_0() -> None:
    server = synodos.serve(synodos.Acceptor())
    url = server.url
    server.close()
    with pytest.raises(synodos.TransportError) as caught:
        synodos.HttpAcceptor(url, timeout=2.0).prepare(synodos.Request(id=1, attempt=1, slot=0))
    assert caught.value.status == 0


def make_tls(dir: Path) -> Dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1, made with openssl."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=dir)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=synodos test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (dir / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": dir / "ca.pem", "cert": dir / "server.pem", "key": dir / "server.key"}


def test_tls_and_token_both_ways(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    with synodos.serve(synodos.Acceptor(), token=TOKEN, tls=(tls["cert"], tls["key"]), cluster="py") as server:
        assert server.url.startswith("https://")
        ok = synodos.HttpAcceptor(server.url, token=TOKEN, ca=tls["ca"], cluster="py")
        assert ok.prepare(synodos.Request(id=3, attempt=1, slot=0)).is_granted()
        # PEM bytes work as well as paths.
        same = synodos.HttpAcceptor(server.url, token=TOKEN, ca=tls["ca"].read_bytes(), cluster="py")
        assert same.info()["promised"] == 3
        with pytest.raises(synodos.TransportError) as caught:
            synodos.HttpAcceptor(server.url, token="x" * 32, ca=tls["ca"], cluster="py").info()
        assert caught.value.status == 401


def test_against_synodos_serve_with_tls_and_a_token(tmp_path: Path, token_file: Path) -> None:
    tls = make_tls(tmp_path)
    procs: List[Process] = []
    try:
        for i in range(3):
            procs.append(Process([str(SYNODOS), "serve", "--id", str(i + 1), "--cluster", "py",
                                  "--listen", "127.0.0.1:0", "--data", str(tmp_path / f"a{i}"),
                                  "--token-file", str(token_file), "--tls-cert", str(tls["cert"]),
                                  "--tls-key", str(tls["key"]), "--log-level", "warn"]))
        acceptors = [synodos.HttpAcceptor(p.url, token=TOKEN, ca=tls["ca"], cluster="py") for p in procs]
        log = synodos.ReplicatedLog(acceptors, ids=1)
        assert [log.append(f"r{i}".encode()).slot for i in range(5)] == [0, 1, 2, 3, 4]
        with pytest.raises(synodos.TransportError) as caught:
            synodos.HttpAcceptor(procs[0].url, token="y" * 32, ca=tls["ca"], cluster="py").info()
        assert caught.value.status == 401
        for p in procs:
            assert p.stop() == 0
    finally:
        for p in procs:
            p.kill()


def test_node_client_against_three_nodes(tmp_path: Path, token_file: Path) -> None:
    import socket

    socks = [socket.socket() for _ in range(3)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    urls = [f"http://127.0.0.1:{s.getsockname()[1]}" for s in socks]
    for s in socks:
        s.close()
    procs: List[Process] = []
    try:
        for i, url in enumerate(urls):
            procs.append(Process([str(SYNODOS), "serve", "--id", str(i + 1), "--cluster", "nodes",
                                  "--listen", url.removeprefix("http://"), "--data", str(tmp_path / f"n{i}"),
                                  "--token-file", str(token_file), "--peers", ",".join(urls), "--log-level", "warn"]))
        client = synodos.NodeClient(",".join(urls), token=TOKEN)
        assert client.propose(b"the decree") == b"the decree"
        entries = [client.append(f"n{i}".encode()) for i in range(5)]
        assert [e.value for e in entries] == [f"n{i}".encode() for i in range(5)]
        # Another node serves them from its learner once it has them: following waits for that.
        third = synodos.NodeClient(urls[2:], token=TOKEN).follow(entries[0].slot)
        assert [next(third) for _ in range(5)] == entries
        third.close()
        # A read through the leader is at least that far.
        assert client.read(entries[0].slot, 5) == entries
        infos = client.info()
        assert len(infos) == 3 and all("info" in i for i in infos), infos

        follow = client.follow(entries[0].slot)
        assert [next(follow).value for _ in range(5)] == [e.value for e in entries]
        later = client.append(b"while following")
        assert next(follow) == later
        follow.close()

        async def aio() -> bytes:
            c = synodos.aio.NodeClient(urls, token=TOKEN)
            e = await c.append(b"from asyncio")
            got = [x async for x in _take(c.follow(e.slot), 1)]
            return got[0].value

        assert asyncio.run(aio()) == b"from asyncio"

        with pytest.raises(synodos.TransportError) as caught:
            synodos.NodeClient(urls, token="z" * 32).append(b"refused")
        assert caught.value.status == 401
    finally:
        for p in procs:
            p.kill()


async def _take(it: AsyncIterator[synodos.Entry], n: int) -> AsyncIterator[synodos.Entry]:
    async for x in it:
        yield x
        n -= 1
        if n == 0:
            return


def test_python_m_synodos_serve(tmp_path: Path, token_file: Path) -> None:
    env = dict(os.environ, PYTHONWARNINGS="error::ResourceWarning")
    args = [sys.executable, "-m", "synodos", "serve", "--dir", str(tmp_path / "d"), "--token-file", str(token_file),
            "--id", "4", "--cluster", "py"]
    p = Process(args, env=env)
    try:
        remote = synodos.HttpAcceptor(p.url, token=TOKEN, cluster="py")
        assert remote.accept(synodos.Proposal(id=3, slot=0, value=b"durable")).is_accepted()
        assert p.stop(signal.SIGTERM) == 0
        assert "Warning" not in p.stderr, p.stderr
        # Restarted on the same directory: the accept is still there.
        p = Process(args, env=env)
        remote = synodos.HttpAcceptor(p.url, token=TOKEN, cluster="py")
        assert [x.value for x in remote.observe(synodos.Request(id=0, attempt=0, slot=0))] == [b"durable"]
        assert p.stop(signal.SIGINT) == 0
    finally:
        p.kill()
