"""Checks and file permissions that make a deployment fail early and plainly instead of running unsafe.

Used by :mod:`lacrima.web.settings` while Django loads; every refusal is an ``ImproperlyConfigured`` whose
message is one line saying what is wrong and what to do (the CLI prints it without a traceback).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
MIN_SECRET_LENGTH = 50
MIN_SECRET_UNIQUE = 5


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` is too weak for production (Django's check.W009 rule), or None."""
    if key.startswith("django-insecure-"):
        return "it is Django's insecure development key"
    if len(key) < MIN_SECRET_LENGTH:
        return f"it is {len(key)} characters long; production needs at least {MIN_SECRET_LENGTH}"
    if len(set(key)) < MIN_SECRET_UNIQUE:
        return (
            f"it has only {len(set(key))} different characters; production needs at least {MIN_SECRET_UNIQUE}"
        )
    return None


def check_secret_key(key: str) -> str:
    problem = secret_key_problem(key)
    if problem:
        raise ImproperlyConfigured(
            f"LACRIMA_SECRET_KEY is too weak ({problem}); generate one with {GENERATE}"
        )
    return key


def refuse_sqlite_in_production() -> None:
    """Production runs on PostgreSQL unless SQLite is chosen on purpose with LACRIMA_ALLOW_SQLITE=1."""
    if os.environ.get("LACRIMA_ALLOW_SQLITE", "0") != "1":
        raise ImproperlyConfigured(
            "production needs PostgreSQL: set DATABASE_URL=postgresql://user:password@host:5432/name "
            "(or LACRIMA_ALLOW_SQLITE=1 to run on SQLite on purpose, one machine, one process group)"
        )


DEMO_MARKER = "demo-clinic"  # written by ``lacrima demo`` into its data directory


def demo_mode(data_dir: Path, *, env: str | None, database_url: str | None, production: bool) -> bool:
    """Whether the demo's seeded accounts may skip the second factor: ``LACRIMA_DEMO=1``, or a data
    directory that ``lacrima demo`` made (its marker file) and whose own SQLite database is in use (not a
    ``DATABASE_URL``). Production refuses both, so real accounts always need their second factor there."""
    marked = (data_dir / DEMO_MARKER).is_file() and not database_url
    if production and (env == "1" or marked):
        where = "LACRIMA_DEMO=1" if env == "1" else f"the demo's data directory ({data_dir / DEMO_MARKER})"
        raise ImproperlyConfigured(
            f"{where} is for the demo only: production refuses it; unset LACRIMA_DEMO and use a fresh "
            "data directory"
        )
    return env == "1" or marked


def private_dir(path: Path) -> Path:
    """Create the data directory readable by its owner only (0700); an existing one is left as it is."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create an empty file readable by its owner only (0600) if it does not exist yet; SQLite gives its
    journal and WAL files the permissions of the database file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    os.close(fd)
    path.chmod(0o600)
    return path
