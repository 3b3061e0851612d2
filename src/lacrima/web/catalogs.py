"""Compile the web app's gettext catalogs (``locale/<lang>/LC_MESSAGES/django.po`` to ``.mo``): the
project's own (``web/locale``, the staff and participant pages) and every app's (``web/<app>/locale``, e.g.
the clinic pages), which Django finds by itself for installed apps.

Run at build time by ``setup.py`` (so wheels and editable installs carry the ``.mo`` files) and by the
test suite; ``python -m lacrima.web.catalogs`` does it by hand. Imports nothing but polib and the
standard library, so that the build can run it before lacrima's dependencies are installed.
"""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
LOCALE_DIR = WEB_DIR / "locale"


def catalog_sources(root: Path = WEB_DIR) -> list[Path]:
    """Every ``.po`` under ``root``: its own ``locale`` and each app's (one level down)."""
    return sorted([*root.glob("locale/*/LC_MESSAGES/*.po"), *root.glob("*/locale/*/LC_MESSAGES/*.po")])


def compile_catalogs(root: Path = WEB_DIR, force: bool = False) -> list[Path]:
    """Write each ``.mo`` whose ``.po`` is newer (or every one with ``force``); return those written."""
    import polib

    written = []
    for po_path in catalog_sources(root):
        mo_path = po_path.with_suffix(".mo")
        if force or not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
            written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_catalogs(force=True):
        print(path)
