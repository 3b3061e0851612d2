"""Saving a session check-in exactly once: the one save path, shared by the participant page and the API.

The server assigns the session number (the client's last completed check-in plus one; a therapist
corrects a wrong number on the staff page). A retried idempotency key returns the first result, a key
used by another client is refused, and two check-ins racing for one session number end up in two
sessions, never one stored twice (benchmarks/bench_checkins.py counts this under load).

Why SQL and not the ORM: benchmarks/bench_checkins.py measured the ORM path (link lookup with its
consent ``Exists``, the next session's ``Max``, two ``create`` calls) at about 10 ms of application CPU
per check-in against 3 ms for the path before it, far from the 300 check-ins/s the design asks of two
cores (docs/benchmarks.md). So the two statements that run on every check-in, the link lookup and the
insert, are written in SQL, but built from the models' metadata (table and column names from ``_meta``,
every value prepared by its model field for the connection), and the same statements run on SQLite and
PostgreSQL (``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``); the tests run them on both. The
response's audit event is written in the same transaction; the rare paths (a conflict, the measures a
schedule assigns to the session) use the ORM.

On PostgreSQL the insert and its audit event are one statement (a data-modifying ``WITH``), which needs no
explicit transaction: a single statement is atomic, and it saves the ``BEGIN``, a second ``INSERT`` and the
``COMMIT`` round trips, about a third of the check-in's database time on the benchmark. SQLite has no
data-modifying ``WITH`` and runs the two inserts in one transaction. A check-in queues no task: the worker
finds clients whose answers are newer than their caseload row (``clinic.tasks.queue_stale_evaluations``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.utils import timezone

from lacrima.web import prepared
from lacrima.web.audit.models import AuditEvent
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies import schedule as plan
from lacrima.web.studies.models import Client, Invitation, Study, hash_token

Outcome = Literal["created", "replayed", "key_conflict", "session_conflict"]
ATTEMPTS = 5

# The columns the check-in insert writes, in order (``session`` comes from the subquery).
_RESPONSE_FIELDS = (
    "study",
    "site",
    "client",
    "invitation",
    "kind",
    "wave",
    "session_date",
    "language",
    "instruments",
    "answers",
    "page",
    "started_at",
    "updated_at",
    "completed_at",
    "idempotency_key",
)
_AUDIT_FIELDS = (
    "at",
    "actor",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "study_id",
    "detail",
    "ip",
)
# what the one-statement audit insert binds (PostgreSQL: the object id comes from the inserted row)
_AUDIT_SET = tuple(f for f in _AUDIT_FIELDS if f != "object_id")


@dataclass(frozen=True)
class CheckinLink:
    """What a client's check-in token grants: whose check-ins, in which study, with which instruments."""

    invitation_id: int
    study_id: int
    site_id: int
    client_id: int
    client_code: str
    client_language: str
    instruments: tuple[str, ...]
    consented: bool
    schedule: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SaveResult:
    outcome: Outcome
    response_id: int | None
    session: int | None


def _col(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@dataclass(frozen=True)
class _Statements:
    link: str
    insert: str
    audit: str
    insert_with_audit: str | None  # PostgreSQL: the insert and its audit event in one statement


@functools.cache
def _statements(vendor: str) -> _Statements:
    """The link lookup and the inserts, from the models' metadata (one set per database vendor)."""
    inv, study, client, consent, resp = (_table(m) for m in (Invitation, Study, Client, Consent, Response))
    i = functools.partial(_col, Invitation)
    s = functools.partial(_col, Study)
    c = functools.partial(_col, Client)
    k = functools.partial(_col, Consent)
    r = functools.partial(_col, Response)
    link = (
        f"SELECT i.{i('id')}, i.{i('study')}, i.{i('site')}, i.{i('client')}, c.{c('code')}, "
        f"c.{c('language')}, s.{s('checkin_instruments')}, s.{s('schedule')}, "
        f"EXISTS (SELECT 1 FROM {consent} k WHERE k.{k('client')} = i.{i('client')} "
        f"AND k.{k('agreed')} AND k.{k('withdrawn_at')} IS NULL) "
        f"FROM {inv} i JOIN {study} s ON s.{s('id')} = i.{i('study')} "
        f"JOIN {client} c ON c.{c('id')} = i.{i('client')} "
        f"WHERE i.{i('token_hash')} = %s AND i.{i('kind')} = %s AND i.{i('revoked_at')} IS NULL "
        f"AND (i.{i('expires_at')} IS NULL OR i.{i('expires_at')} > %s) "
        f"AND NOT (i.{i('single_use')} AND i.{i('used_at')} IS NOT NULL) AND c.{c('withdrawn_at')} IS NULL"
    )
    columns = ", ".join([*(r(f) for f in _RESPONSE_FIELDS), r("session")])
    values = ", ".join(_param(Response, f, vendor) for f in _RESPONSE_FIELDS)
    next_session = (
        f"COALESCE((SELECT MAX(x.{r('session')}) FROM {resp} x WHERE x.{r('client')} = %s "
        f"AND x.{r('kind')} = %s AND x.{r('completed_at')} IS NOT NULL), 0) + 1"
    )
    # "WHERE 1 = 1": SQLite needs it to parse INSERT ... SELECT ... ON CONFLICT
    insert = (
        f"INSERT INTO {resp} ({columns}) SELECT {values}, {next_session} WHERE 1 = 1 "
        f"ON CONFLICT DO NOTHING RETURNING {r('id')}, {r('session')}"
    )
    a = functools.partial(_col, AuditEvent)
    audit = (
        f"INSERT INTO {_table(AuditEvent)} ({', '.join(a(f) for f in _AUDIT_FIELDS)}) "
        f"VALUES ({', '.join(['%s'] * len(_AUDIT_FIELDS))})"
    )
    combined = None
    if vendor == "postgresql":
        # the audit row from the inserted row: its id as the object id, its session in the detail
        values_a = []
        for f in _AUDIT_FIELDS:
            if f == "object_id":
                values_a.append(f"CAST(ins.{r('id')} AS text)")
            elif f == "detail":
                values_a.append(f"jsonb_build_object('session', ins.{r('session')}, 'via', CAST(%s AS text))")
            else:
                values_a.append(_param(AuditEvent, f, vendor))
        combined = (
            f"WITH ins AS ({insert}), aud AS (INSERT INTO {_table(AuditEvent)} "
            f"({', '.join(a(f) for f in _AUDIT_FIELDS)}) SELECT {', '.join(values_a)} FROM ins) "
            f"SELECT {r('id')}, {r('session')} FROM ins"
        )
    return _Statements(link, insert, audit, combined)


def _param(model: type[models.Model], name: str, vendor: str) -> str:
    """A placeholder for a value of this field; on PostgreSQL cast to the column's type.

    An ``INSERT ... SELECT`` takes the types of its values from the ``SELECT`` list, where a parameter
    bound on the server (:mod:`lacrima.web.prepared`) has none of its own: the cast gives it the column's.
    """
    if vendor != "postgresql":
        return "%s"
    return f"CAST(%s AS {model._meta.get_field(name).db_type(connection)})"


def _prep_all(model: type[models.Model], names: tuple[str, ...], values: Mapping[str, Any]) -> list[Any]:
    """Values as their model fields would send them to this database.

    The connection is looked up once, not through the thread-local ``connection`` proxy per field (a
    tenth of the check-in view's profile)."""
    conn = connections[DEFAULT_DB_ALIAS]
    return [model._meta.get_field(n).get_db_prep_value(values[n], conn) for n in names]


def _json(model: type[models.Model], name: str, value: Any) -> Any:
    """A JSON column's value as the model field reads it (drivers return text or decoded values)."""
    if not isinstance(value, str):
        return value
    return getattr(model._meta.get_field(name), "from_db_value")(value, None, connection)  # noqa: B009


def _link_row(token_hash: str) -> CheckinLink | None:
    (now,) = _prep_all(Invitation, ("expires_at",), {"expires_at": timezone.now()})
    rows = prepared.fetch(_statements(connection.vendor).link, [token_hash, Invitation.Kind.CHECKIN, now])
    if not rows:
        return None
    row = rows[0]
    instruments = _json(Study, "checkin_instruments", row[6]) or []
    schedule = _json(Study, "schedule", row[7]) or {}
    return CheckinLink(
        row[0], row[1], row[2], row[3], row[4], row[5], tuple(instruments), bool(row[8]), schedule
    )


def link_for_token(token: str) -> CheckinLink | None:
    """The check-in link behind a token, or None if there is none usable now (one query)."""
    if not token or len(token) > 100:
        return None
    return _link_row(hash_token(token))


def link_for_invitation(inv: Invitation) -> CheckinLink:
    link = _link_row(inv.token_hash) if inv.client_id is not None else None
    if link is None:
        raise ValueError("a check-in link needs a usable invitation with a client")
    return link


def next_session(client_id: int) -> int:
    """The session number the server gives the client's next check-in."""
    last = Response.objects.filter(
        client_id=client_id, kind=Response.Kind.CHECKIN, completed_at__isnull=False
    ).aggregate(m=models.Max("session"))["m"]
    return int(last or 0) + 1


def _by_key(link: CheckinLink, key: str) -> SaveResult | None:
    again = Response.objects.filter(idempotency_key=key).values_list("pk", "session", "client_id").first()
    if again is None:
        return None
    if again[2] == link.client_id:
        return SaveResult("replayed", again[0], again[1])
    return SaveResult("key_conflict", None, None)


def save_checkin(
    link: CheckinLink,
    *,
    answers: dict[str, Any],
    language: str,
    key: str,
    ip: str | None = None,
    via: str = "web",
) -> SaveResult:
    """Store one completed check-in with its audit event, once, under the next session number.

    ``answers`` must already be validated by the check-in form. A key seen before returns ``replayed``
    (same client) or ``key_conflict`` (another client). ``session_conflict`` only if the next number was
    taken by concurrent check-ins of the same client in every attempt.
    """
    sql = _statements(connection.vendor)
    label = f"participant:{link.client_code}"[:150]
    for _attempt in range(ATTEMPTS):
        now = timezone.now()
        given = {
            "study": link.study_id,
            "site": link.site_id,
            "client": link.client_id,
            "invitation": link.invitation_id,
            "kind": Response.Kind.CHECKIN,
            "wave": 1,
            "session_date": timezone.localdate(),
            "language": language,
            "instruments": list(link.instruments),
            "answers": answers,
            "page": 1,
            "started_at": now,
            "updated_at": now,
            "completed_at": now,
            "idempotency_key": key,
        }
        params = _prep_all(Response, _RESPONSE_FIELDS, given)
        params += [link.client_id, Response.Kind.CHECKIN]
        event: dict[str, Any] = {
            "at": now,
            "actor": None,
            "actor_label": label,
            "action": AuditEvent.Action.SUBMIT,
            "object_type": "participate.response",
            "study_id": link.study_id,
            "ip": ip,
        }
        if sql.insert_with_audit is not None:
            audit = _prep_all(AuditEvent, _AUDIT_SET, {**event, "detail": None})
            audit[_AUDIT_SET.index("detail")] = via
            rows = prepared.fetch(sql.insert_with_audit, params + audit)
            row = rows[0] if rows else None
        else:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql.insert, params)
                row = cur.fetchone()
                if row is not None:
                    event["object_id"] = str(row[0])
                    event["detail"] = {"session": int(row[1]), "via": via}
                    cur.execute(sql.audit, _prep_all(AuditEvent, _AUDIT_FIELDS, event))
        if row is not None:
            response_id, session = int(row[0]), int(row[1])
            _schedule_measures(link, session, language)
            return SaveResult("created", response_id, session)
        seen = _by_key(link, key)
        if seen is not None:
            return seen
        # a concurrent check-in of this client took the number: take the next one
    return SaveResult("session_conflict", None, None)


def _schedule_measures(link: CheckinLink, session: int, language: str) -> None:
    """Open the measures the study's schedule assigns to this session (asked right after the check-in)."""
    due = plan.due(link.schedule, session)
    if not due:
        return
    try:
        with transaction.atomic():
            Response.objects.create(
                study_id=link.study_id,
                site_id=link.site_id,
                client_id=link.client_id,
                invitation_id=link.invitation_id,
                kind=Response.Kind.MEASURES,
                session=session,
                language=language,
                instruments=due,
            )
    except IntegrityError:
        pass  # this session's measures exist already (its number was corrected by the therapist)
