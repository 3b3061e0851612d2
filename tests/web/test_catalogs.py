"""The interface texts' gettext catalogs: nothing untranslated after makemessages, compiled by the build."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

from lacrima.web.catalogs import catalog_sources, compile_catalogs

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "lacrima" / "web"

polib = pytest.importorskip("polib")


@pytest.mark.skipif(
    shutil.which("xgettext") is None,
    reason="SKIPPED: makemessages needs GNU gettext's xgettext (apt-get install gettext)",
)
def test_it_leaves_nothing_untranslated_after_makemessages(tmp_path, monkeypatch) -> None:
    copy = tmp_path / "web"
    shutil.copytree(WEB, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(copy)
    before = {p.relative_to(copy) for p in catalog_sources(copy)}
    call_command("makemessages", locale=["he", "it"], no_location=True, verbosity=0)
    # every app's own catalog is kept up to date too (makemessages writes an app's texts to its locale)
    catalogs = [f"{r}locale/{lang}/LC_MESSAGES/django.po" for r in ("", "clinic/") for lang in ("he", "it")]
    assert {Path(c) for c in catalogs} <= before
    for rel in sorted(before):
        po = polib.pofile(str(copy / rel))
        assert len(po.translated_entries()) > 30, rel
        assert [e.msgid for e in po.untranslated_entries()] == [], f"untranslated in {rel}"
        assert [e.msgid for e in po.fuzzy_entries()] == [], f"fuzzy in {rel}"


def test_it_compiles_every_apps_catalog_in_one_place(tmp_path) -> None:
    """The clinic app's catalog is compiled with the project's (it used to be left out: Hebrew pages in
    English); a stale .mo is rewritten, a fresh one left alone."""
    copy = tmp_path / "web"
    shutil.copytree(WEB, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.py", "*.html"))
    written = {p.relative_to(copy) for p in compile_catalogs(copy)}
    assert Path("clinic/locale/he/LC_MESSAGES/django.mo") in written
    assert {Path(f"locale/{lang}/LC_MESSAGES/django.mo") for lang in ("he", "it")} <= written
    mo = polib.mofile(str(copy / "clinic/locale/he/LC_MESSAGES/django.mo"))
    assert mo.find("Alliance rupture").msgstr == "קרע בברית"
    assert compile_catalogs(copy) == []


@pytest.mark.slow
def test_it_compiles_the_catalogs_into_the_package_build(tmp_path) -> None:
    """The wheel carries the compiled .mo files (setup.py's build step) and the participant pages' static
    files; built the way pip builds it (an isolated build environment from PyPI)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("lacrima-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "lacrima/web/participate/static/participate/gating.js" in names
        for name, msgid, expected in (
            ("lacrima/web/locale/he/LC_MESSAGES/django.mo", "Save and continue", "שמירה והמשך"),
            ("lacrima/web/locale/it/LC_MESSAGES/django.mo", "Save and continue", "Salva e continua"),
            ("lacrima/web/clinic/locale/he/LC_MESSAGES/django.mo", "Alliance rupture", "קרע בברית"),
        ):
            mo = tmp_path / "catalog.mo"
            mo.write_bytes(z.read(name))
            assert polib.mofile(str(mo)).find(msgid).msgstr == expected
