"""The examples of docs/importing.md run as written: every Python block and every ``lacrima import`` command,
in the order of the guide (later examples read what earlier ones wrote), from the repository root, with
``/tmp/lacrima-demo`` replaced by a temporary folder."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lacrima.cli import app

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "importing.md"
STEPS = re.findall(r"```(python|console)\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_it_finds_examples_for_every_source_tool() -> None:
    text = DOC.read_text(encoding="utf-8")
    for section in ("## REDCap", "## Qualtrics", "## SPSS", "## Excel", "## CSV"):
        assert section in text
    commands = [line for kind, block in STEPS if kind == "console" for line in block.splitlines()]
    assert len(commands) >= 8 and all(c.startswith("$ lacrima import ") for c in commands)
    assert sum(kind == "python" for kind, _ in STEPS) >= 8


def test_it_runs_every_example_of_the_importing_guide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    for index, (kind, block) in enumerate(STEPS):
        block = block.replace("/tmp/lacrima-demo", str(tmp_path))
        if kind == "python":
            exec(compile(block, f"{DOC}:block{index}", "exec"), {})
            assert capsys.readouterr().out, f"block {index} printed nothing"
            continue
        for line in block.splitlines():
            args = shlex.split(line.removeprefix("$ "))
            result = runner.invoke(app, args[1:])
            assert result.exit_code == 0, f"{line}\n{result.output}"
            assert "->" in result.output
