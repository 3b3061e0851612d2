"""The invariance section of docs/crosscultural.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "crosscultural.md"


def test_it_runs_the_documented_invariance_example() -> None:
    text = DOC.read_text()
    section = text.split("<!-- section: invariance -->", 1)[1].split("<!-- end section: invariance -->", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert namespace["partial"].holds  # type: ignore[attr-defined]
