"""docs/security.md (the access, audit, failure and backup block) stays true: its settings exist, its
URLs resolve, its commands exist and every test it names is there."""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
BLOCK = TEXT.split("<!-- security: access, audit trail")[1].split("<!-- end security: access, audit trail")[0]
WEB = ROOT / "src" / "lacrima" / "web"


def test_it_names_only_settings_the_app_reads() -> None:
    sources = (WEB / "settings.py").read_text() + (WEB / "deploy.py").read_text()
    names = set(re.findall(r"\bLACRIMA_[A-Z_]+\b", BLOCK))
    assert {"LACRIMA_SECRET_KEY", "LACRIMA_ALLOW_SQLITE", "LACRIMA_ENV"} <= names
    assert sorted(n for n in names if f'"{n}"' not in sources) == []


def test_it_shows_only_urls_that_resolve() -> None:
    paths = set(re.findall(r"`(/(?:studies|api|admin)/[^`\s]*)`", BLOCK))
    assert "/studies/<slug>/audit/" in paths
    broken = []
    for path in sorted(paths):
        concrete = path.replace("<slug>", "cry-2026").replace("<code>", "C001").replace("<table>", "sessions")
        try:
            resolve(concrete.replace("export/...", "export/sessions.csv"))
        except Resolver404:
            broken.append(path)
    assert broken == []


def test_it_names_only_tests_that_exist() -> None:
    named = re.findall(r"`((?:tests/)?[\w/]*test_\w+\.py)?(?:::(test_\w+))?`", BLOCK)
    by_name = {path.name: path for path in (ROOT / "tests").rglob("test_*.py")}
    current: Path | None = None
    checked, missing = 0, []
    for file, test in named:
        if file:
            current = ROOT / file if "/" in file else by_name.get(file)
            if current is None or not current.exists():
                missing.append(file)
                continue
        if test:
            checked += 1
            if current is None or f"def {test}(" not in current.read_text(encoding="utf-8"):
                missing.append(f"{current}::{test}")
    assert checked >= 20 and missing == []
