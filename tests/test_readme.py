"""The README's Python example runs as written (writing its report into a temporary directory)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def test_it_runs_the_readme_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    block = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(README), "exec"), {})
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert capsys.readouterr().out.strip() in ("supported", "same direction, not significant")
    assert os.getcwd() == str(tmp_path)


def test_it_names_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "python3 -m pip install -e . && lacrima demo" in text
    assert "scripts/test" in text and (README.parent / "scripts" / "test").exists()
    assert "scripts/test" in (README.parent / ".ci" / "run").read_text(encoding="utf-8")
