"""The few statements that run on every request of the hot paths, prepared once per database connection.

A check-in runs three statements: the rate-limit upsert (:mod:`lacrima.web.security`), the link lookup
and the insert with its audit event (:mod:`lacrima.web.participate.checkins`). Django's PostgreSQL
backend binds parameters on the client by default, so PostgreSQL parses and plans each of them anew on
every request, and ``EXPLAIN (ANALYZE, SUMMARY)`` on the benchmark's database showed planning to be most
of their cost (the link lookup: 0.2 ms planning against 0.05 ms execution). Here, on PostgreSQL with
psycopg 3, they go through a server-side-binding cursor with ``prepare=True``: the first execution on a
connection prepares the statement, later ones only bind and run it (psycopg keeps the prepared
statements of each connection). Everything else keeps Django's client-side binding.

What this gives up, deliberately and only for these statements: they bypass Django's cursor wrapper, so
they do not appear in ``connection.queries`` or pass through ``connection.execute_wrapper`` hooks. Errors
still arrive as Django's exceptions (``connection.wrap_database_errors``). Every parameter a statement
binds must have a type PostgreSQL can infer from its place in the statement or from an explicit
``CAST``, because a server-side parameter is not spliced into the text. On SQLite, and on PostgreSQL with
psycopg 2, the statements run through Django's cursor as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


def _psycopg3() -> bool:
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return bool(is_psycopg3)


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement with ``%s`` placeholders and return its rows (prepared on PostgreSQL)."""
    if not _psycopg3():
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    import psycopg

    connection.validate_no_broken_transaction()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        cur.execute(sql, params, prepare=True)
        return cur.fetchall() if cur.description is not None else []
