"""Smoke test of an installed synodos wheel (scripts/wheel-smoke.sh runs it on each CPython)."""

from __future__ import annotations

import os
import sys
import tempfile

import synodos

assert "site-packages" in synodos.__file__, f"imported {synodos.__file__}, not the installed wheel"
token = "0123456789abcdef0123456789abcdef"
with tempfile.TemporaryDirectory() as d:
    durable = synodos.Acceptor(synodos.FileLog(os.path.join(d, "p")), synodos.FileLog(os.path.join(d, "a")))
    servers = [synodos.serve(a, token=token, id=i + 1, cluster="wheel")
               for i, a in enumerate([durable, synodos.Acceptor(), synodos.Acceptor()])]
    try:
        log = synodos.ReplicatedLog([synodos.HttpAcceptor(s.url, token=token, cluster="wheel") for s in servers], ids=1)
        assert [log.append(b"x%d" % i).slot for i in range(3)] == [0, 1, 2]
        try:
            synodos.HttpAcceptor(servers[0].url, token="w" * 32).info()
            raise AssertionError("a wrong token was let in")
        except synodos.TransportError as e:
            assert e.status == 401, e.status
    finally:
        for s in servers:
            s.close()
print(f"wheel-smoke: CPython {sys.version.split()[0]}: ok ({synodos.__version__})")
