"""The interface texts' gettext catalogs: nothing untranslated after makemessages, compiled by the build."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

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
    call_command("makemessages", locale=["he", "it"], no_location=True, verbosity=0)
    for lang in ("he", "it"):
        po = polib.pofile(str(copy / "locale" / lang / "LC_MESSAGES" / "django.po"))
        assert len(po.translated_entries()) > 30
        assert [e.msgid for e in po.untranslated_entries()] == [], f"untranslated in {lang}"
        assert [e.msgid for e in po.fuzzy_entries()] == [], f"fuzzy in {lang}"


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
        for lang, expected in (("he", "שמירה והמשך"), ("it", "Salva e continua")):
            name = f"lacrima/web/locale/{lang}/LC_MESSAGES/django.mo"
            mo = tmp_path / f"{lang}.mo"
            mo.write_bytes(z.read(name))
            assert polib.mofile(str(mo)).find("Save and continue").msgstr == expected
