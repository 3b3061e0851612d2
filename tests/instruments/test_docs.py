"""The code in docs/instruments.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "instruments.md"
BLOCK = re.compile(r"```(python|yaml)\n(.*?)```", re.DOTALL)


def test_it_runs_the_examples_in_the_instruments_guide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert [kind for kind, _ in blocks].count("python") == 3
    for kind, body in blocks:
        if kind == "yaml":
            first, _, rest = body.partition("\n")
            assert first.startswith("# file: ")
            (tmp_path / first.removeprefix("# file: ").strip()).write_text(rest, encoding="utf-8")
        else:
            exec(compile(body, str(DOC), "exec"), {})
    out = capsys.readouterr().out
    assert "['ecr_01', 'ecr_02', 'ecr_03']" in out
    assert "moderate" in out
    assert "['talked', 'cop_02', 'cop_03']" in out
    assert "['cop_03']" in out
    assert "(item 1 as worded in your licensed copy)" in out
    assert "11 texts missing" in out
