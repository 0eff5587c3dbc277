"""Every test fails if a Rust panic happened while it ran, anywhere in the process (a worker
thread included), even when the panic was turned into a ``SynodosError`` or swallowed by a
worker: "no input path can panic" is checked by every test, not only by the sweep. A test
that panics on purpose says how often with ``@pytest.mark.expect_panics(n)``."""

from __future__ import annotations

from typing import Iterator

import pytest

from synodos import _synodos


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "expect_panics(n): the test makes n Rust panics on purpose")


@pytest.fixture(autouse=True)
def no_rust_panic(request: pytest.FixtureRequest) -> Iterator[None]:
    before = _synodos._panic_count()
    yield
    marker = request.node.get_closest_marker("expect_panics")
    expected = marker.args[0] if marker is not None else 0
    happened = _synodos._panic_count() - before
    assert happened == expected, f"{happened} Rust panic(s) during this test (expected {expected}): a bug in synodos"
