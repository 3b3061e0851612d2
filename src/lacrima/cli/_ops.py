"""Operations commands: ``lacrima backup`` and ``lacrima restore``.

SQLite is copied with SQLite's online backup API (consistent while the server runs); PostgreSQL with
``pg_dump --format=custom`` and ``pg_restore``. A backup holds client data: it is written readable by its
owner only (0600).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


def _database(data: Path | None) -> dict[str, Any]:
    from lacrima.cli._app import _django_setup

    _django_setup(data)
    from django.conf import settings

    return dict(settings.DATABASES["default"])


def _pg_env(db: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    args = [f"--dbname={db['NAME']}"]
    if db.get("HOST"):
        args.append(f"--host={db['HOST']}")
    if db.get("PORT"):
        args.append(f"--port={db['PORT']}")
    if db.get("USER"):
        args.append(f"--username={db['USER']}")
    env = os.environ.copy()
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise typer.BadParameter(f"{name} is not installed; install the PostgreSQL client tools")
    return path


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {done.stderr.strip() or done.returncode}")


def _private(path: Path) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)


def backup_database(db: dict[str, Any], out: Path) -> Path:
    """Write a consistent copy of the database to ``out`` (SQLite file or pg_dump custom archive)."""
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new file name (a backup never overwrites)")
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    _private(tmp)
    try:
        if db["ENGINE"].endswith("sqlite3"):
            src = sqlite3.connect(f"file:{db['NAME']}?mode=ro", uri=True)
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
        else:
            args, env = _pg_env(db)
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={tmp}", *args], env)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
    finally:
        con.close()


def restore_database(db: dict[str, Any], backup: Path, replace: bool = False) -> None:
    """Restore ``backup`` into the configured database, which must be empty unless ``replace``."""
    head = backup.read_bytes()[:16]
    if db["ENGINE"].endswith("sqlite3"):
        if not head.startswith(SQLITE_MAGIC):
            raise ValueError(f"{backup} is not a SQLite backup, and the configured database is SQLite")
        target = Path(db["NAME"])
        if _sqlite_has_tables(target) and not replace:
            raise FileExistsError(f"{target} already holds data; pass --replace to overwrite it")
        src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        target.chmod(0o600)
        return
    if not head.startswith(PG_MAGIC):
        raise ValueError(f"{backup} is not a pg_dump archive, and the configured database is PostgreSQL")
    from django.db import connection

    if connection.introspection.table_names() and not replace:
        raise FileExistsError(f"database {db['NAME']} already holds tables; pass --replace to overwrite it")
    connection.close()
    args, env = _pg_env(db)
    clean = ["--clean", "--if-exists"] if replace else []
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            *clean,
            *args,
            str(backup),
        ],
        env,
    )


def register(app: typer.Typer) -> None:
    from lacrima.cli._app import _fail, console

    @app.command()
    def backup(
        out: Annotated[Path, typer.Argument(help="Backup file to write (never overwritten).")],
        data: Annotated[Path | None, typer.Option(help="Data directory, as for serve.")] = None,
    ) -> None:
        """Back up the web app's database while it runs (SQLite online backup, or pg_dump)."""
        db = _database(data)
        try:
            path = backup_database(db, out)
        except (OSError, RuntimeError, sqlite3.Error) as exc:
            _fail(exc)
        console.print(f"Backup written: {path}")

    @app.command()
    def restore(
        backup_file: Annotated[Path, typer.Argument(help="A file written by lacrima backup.")],
        data: Annotated[Path | None, typer.Option(help="Data directory, as for serve.")] = None,
        replace: Annotated[bool, typer.Option(help="Overwrite a database that already holds data.")] = False,
    ) -> None:
        """Restore a backup into the configured database (empty, or --replace)."""
        db = _database(data)
        try:
            restore_database(db, backup_file, replace=replace)
        except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
            _fail(exc)
        console.print(f"Restored {backup_file} into {db['NAME']}")
