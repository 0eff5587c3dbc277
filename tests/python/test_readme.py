"""The README's Python quick start, run verbatim."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_quick_start() -> str:
    text = README.read_text()
    section = text.split("## Python quick start", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Python quick start has exactly one python block"
    return blocks[0]


def test_readme_python_example_runs() -> None:
    code = python_quick_start()
    assert "import synodos" in code
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_readme_network_example_runs() -> None:
    text = README.read_text()
    section = text.split("## Over the network", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the network section has exactly one python block"
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "__readme__"})
