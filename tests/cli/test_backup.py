"""`lacrima backup` / `lacrima restore`: a backup restored into a fresh data directory (SQLite) or a fresh
database (PostgreSQL) holds every row of every table, and the audit trail stays append-only."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import lacrima

SRC = str(Path(lacrima.__file__).resolve().parents[1])
SEED = """
from django.contrib.auth.models import User
from lacrima.web.accounts.models import Membership
from lacrima.web.audit.log import record
from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Client, Invitation, Site, Study
study = Study.objects.create(slug="s1", title="S1", kind="checkin", checkin_instruments=["session_checkin"])
site = Site.objects.create(study=study, code="tlv", name="Tel Aviv", country="IL", languages=["he"])
user = User.objects.create_user("t1", password="not-used-here-1")
Membership.objects.create(user=user, study=study, site=site, role="therapist")
for i in range(25):
    client = Client.objects.create(study=study, site=site, code=f"C{i:03d}", therapist=user)
    inv, _ = Invitation.issue(study=study, site=site, kind="checkin", client=client, days=0, single_use=False)
    r = Response.objects.create(study=study, site=site, client=client, invitation=inv, kind="checkin",
        session=1, language="he", answers={"cried": i % 2}, completed_at="2026-11-01T10:00:00Z",
        idempotency_key=f"key-{i:04d}")
    record(None, "submit", r, study_id=study.pk)
"""


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LACRIMA_", "DJANGO_", "DATABASE_URL"))}
    env.update(PYTHONPATH=SRC, LACRIMA_DATA_DIR=str(data), **extra)
    return env


def _lacrima(args: list[str], env: dict[str, str]) -> str:
    cmd = [sys.executable, "-c", "from lacrima.cli import main; main()", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def _sqlite_counts(path: Path) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


def test_it_backs_up_and_restores_sqlite_into_a_fresh_directory(tmp_path: Path) -> None:
    live, fresh = tmp_path / "live", tmp_path / "fresh"
    _lacrima(["manage", "migrate", "--verbosity", "0"], _env(live))
    _lacrima(["manage", "shell", "-c", SEED], _env(live))
    out = tmp_path / "backup.sqlite3"
    _lacrima(["backup", str(out), "--data", str(live)], _env(live))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    _lacrima(["restore", str(out), "--data", str(fresh)], _env(fresh))
    before, after = _sqlite_counts(live / "lacrima.sqlite3"), _sqlite_counts(fresh / "lacrima.sqlite3")
    assert after == before
    assert before["participate_response"] == 25 and before["audit_auditevent"] == 25
    con = sqlite3.connect(fresh / "lacrima.sqlite3")
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM audit_auditevent")
    finally:
        con.close()
    again = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lacrima.cli import main; main()",
            "restore",
            str(out),
            "--data",
            str(fresh),
        ],
        env=_env(fresh),
        capture_output=True,
        text=True,
    )
    assert again.returncode == 2 and "--replace" in again.stderr


PG = os.environ.get("LACRIMA_TEST_POSTGRES") or (
    os.environ["DATABASE_URL"] if os.environ.get("DATABASE_URL", "").startswith("postgres") else None
)


@pytest.mark.postgres
@pytest.mark.skipif(PG is None, reason="no PostgreSQL: set LACRIMA_TEST_POSTGRES=postgresql://...")
def test_it_backs_up_and_restores_postgresql_into_a_fresh_database(tmp_path: Path) -> None:
    import psycopg

    assert PG is not None
    base, name = PG.rsplit("/", 1)
    src, dst = f"{name}_backup_src", f"{name}_backup_dst"
    with psycopg.connect(PG, autocommit=True) as admin:
        for db in (src, dst):
            admin.execute(f'DROP DATABASE IF EXISTS "{db}"')
            admin.execute(f'CREATE DATABASE "{db}"')
    try:
        live = _env(tmp_path, DATABASE_URL=f"{base}/{src}")
        _lacrima(["manage", "migrate", "--verbosity", "0"], live)
        _lacrima(["manage", "shell", "-c", SEED], live)
        out = tmp_path / "backup.pgdump"
        _lacrima(["backup", str(out)], live)
        _lacrima(["restore", str(out)], _env(tmp_path / "fresh", DATABASE_URL=f"{base}/{dst}"))
        counts = {}
        for db in (src, dst):
            with psycopg.connect(f"{base}/{db}") as con:
                tables = [
                    r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ]
                counts[db] = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        assert counts[dst] == counts[src] and counts[src]["audit_auditevent"] == 25
        with psycopg.connect(f"{base}/{dst}") as con, pytest.raises(psycopg.Error, match="append-only"):
            con.execute("UPDATE audit_auditevent SET action = 'read'")
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            for db in (src, dst):
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
