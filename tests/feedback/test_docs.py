"""The Python examples of docs/feedback.md run as written, and what they print is what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "feedback.md"


def test_the_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "medium alliance-rupture 5 - Session alliance 5.00 at session 5 fell 2.4 SD" in out
    assert "medium difficult-crying 7 - The client cried at session 7 (intensity 7 of 7)" in out
    assert "[(5, 7, None)]" in out
    assert "one session with an alliance score" in out and "no session has an alliance score" in out
    assert "has no parameter 'k_sdd'" in out and "'citations' is a required property" in out
    assert "[derived] Returning to a difficult crying episode" in out
    assert "needs 50" in out and "11 True" in out
