"""The API reference site builds offline and strictly (any MkDocs warning fails), holds the guides and the
docstrings, and the code on its home page runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lacrima.docs import build, config_file

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("site"))


def test_it_builds_every_guide_into_the_site(site: Path) -> None:
    guides = sorted(p.stem for p in DOCS.glob("*.md") if p.stem != "index")
    assert guides
    for guide in guides:
        assert (site / guide / "index.html").is_file(), guide
    nav = config_file().read_text(encoding="utf-8")
    assert all(f"{g}.md" in nav for g in guides), "every guide is in the site's navigation"


def test_the_reference_comes_from_the_docstrings(site: Path) -> None:
    analysis = (site / "api" / "analysis" / "index.html").read_text(encoding="utf-8")
    assert "lacrima.analysis.correlate" in analysis
    assert "cor.test" in analysis  # from correlate's docstring (the R call it was checked against)
    results = (site / "api" / "results" / "index.html").read_text(encoding="utf-8")
    assert "Deeply immutable" in results


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\nSee [nowhere](nowhere.md).\n", encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nstrict: true\n", encoding="utf-8")
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml"), "-d",
         str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "nowhere.md" in proc.stdout + proc.stderr


def test_the_home_page_code_runs() -> None:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/index.md", "exec"), {})
