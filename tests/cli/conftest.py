"""Running ``lacrima import`` in tests: a successful import, and a refused one that must leave the output
folder exactly as it was (no new file, no temporary file, an older output of the same name intact)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from lacrima.cli import app

runner = CliRunner()


def flat(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


class Importer:
    """``lacrima import`` with its output in a folder of its own."""

    flat = staticmethod(flat)

    def __init__(self, root: Path) -> None:
        self.out_dir = root / "out"
        self.out_dir.mkdir()

    def _snapshot(self) -> dict[str, bytes | None]:
        return {
            str(p.relative_to(self.out_dir)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(self.out_dir.rglob("*"))
        }

    def ok(self, *args: object, out: str = "result.csv") -> tuple[Result, Path]:
        target = self.out_dir / out
        result = runner.invoke(app, ["import", *map(str, args), "--out", str(target)])
        assert result.exit_code == 0, result.output
        assert not [p for p in self.out_dir.iterdir() if p.name.startswith(".")], "temporary files left"
        return result, target

    def refused(self, *args: object, match: str, out: str = "result.csv") -> Result:
        target = self.out_dir / out
        if not target.exists():
            target.write_bytes(b"an older output of the same name\n")
        before = self._snapshot()
        result = runner.invoke(app, ["import", *map(str, args), "--out", str(target)])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        assert re.search(match, flat(result.output)), result.output
        assert self._snapshot() == before, "a refused import changed the output folder"
        return result


@pytest.fixture
def importer(tmp_path: Path) -> Importer:
    return Importer(tmp_path)
