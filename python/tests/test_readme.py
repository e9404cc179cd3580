"""The Python examples in the README run: every ```python block of the
top-level README.md and of python/README.md is executed."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "python" / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
BLOCKS = [(readme, i, code) for readme in READMES for i, code in enumerate(BLOCK.findall(readme.read_text()))]


def test_the_readmes_have_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("readme,index,code", BLOCKS, ids=[f"{r.parent.name}/{r.name}#{i}" for r, i, _ in BLOCKS])
def test_readme_example_runs(readme: pathlib.Path, index: int, code: str) -> None:
    exec(compile(code, f"{readme}#{index}", "exec"), {"__name__": "readme_example"})
