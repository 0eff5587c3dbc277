"""The examples in bindings/python/examples run and print what they promise."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "bindings" / "python" / "examples"


@pytest.mark.parametrize("name", ["async_cluster.py", "file_log_cluster.py"])
def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    assert "chosen:" in out
