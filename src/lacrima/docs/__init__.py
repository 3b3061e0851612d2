"""Build lacrima's API reference site (the guides in ``docs/`` and the docstrings) with MkDocs.

``python -m lacrima.docs [--out DIR]`` runs ``mkdocs build --strict`` on the checkout's ``mkdocs.yml``:
offline, and any warning (a broken link, a page left out of the navigation, a docstring that cannot be
read) fails the build. It needs a source checkout (the guides are not part of the installed package) and
the ``docs`` extra (``pip install -e ".[docs]"``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["build", "config_file"]


def config_file() -> Path:
    """The checkout's ``mkdocs.yml`` (``src/lacrima/docs`` is three levels below the checkout)."""
    config = Path(__file__).resolve().parents[3] / "mkdocs.yml"
    if not config.is_file():
        raise FileNotFoundError(
            f"no mkdocs.yml at {config}: the site is built from a source checkout of lacrima "
            "(git clone, then pip install -e '.[docs]')"
        )
    return config


def build(out: str | Path | None = None) -> Path:
    """Build the site into ``out`` (default ``site/`` in the checkout), strictly; return that folder.

    Raises
    ------
    RuntimeError
        When MkDocs reports a warning or an error; the message holds MkDocs' output.
    """
    config = config_file()
    target = Path(out) if out is not None else config.parent / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(config)]
    proc = subprocess.run(
        [*command, "-d", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"mkdocs build --strict failed:\n{proc.stdout}{proc.stderr}")
    return target
