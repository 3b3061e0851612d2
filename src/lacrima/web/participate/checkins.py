"""Saving a session check-in exactly once, shared by the participant page and the JSON API.

Two storage paths with one contract. On PostgreSQL a check-in costs two statements: one SELECT resolves
the link (invitation, study instruments, client, current consent) and one INSERT ... ON CONFLICT DO
NOTHING stores the response and its audit event atomically (a data-modifying CTE). Elsewhere (SQLite) the
ORM does the same inside a transaction. Either way a retried idempotency key returns the first result and a
second check-in for the same session is refused; nothing is stored twice (benchmarks/bench_checkins.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from lacrima.web.audit.models import AuditEvent
from lacrima.web.clinic.tasks import queue_client_evaluation
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies.models import Invitation, hash_token

Outcome = Literal["created", "replayed", "key_conflict", "session_conflict"]

_LINK_SQL = """
SELECT i.id, i.study_id, i.site_id, i.client_id, s.checkin_instruments, c.code, c.language,
       EXISTS (SELECT 1 FROM participate_consent k
               WHERE k.client_id = i.client_id AND k.agreed AND k.withdrawn_at IS NULL)
FROM studies_invitation i
JOIN studies_study s ON s.id = i.study_id
JOIN studies_client c ON c.id = i.client_id
WHERE i.token_hash = %s AND i.kind = 'checkin' AND i.revoked_at IS NULL
  AND (i.expires_at IS NULL OR i.expires_at > now())
  AND NOT (i.single_use AND i.used_at IS NOT NULL) AND c.withdrawn_at IS NULL
"""

_INSERT_SQL = """
WITH r AS (
  INSERT INTO participate_response (study_id, site_id, client_id, invitation_id, kind, wave, session,
    session_date, language, answers, page, started_at, updated_at, completed_at, idempotency_key)
  VALUES (%s, %s, %s, %s, 'checkin', 1, %s, %s, %s, %s, 1, %s, %s, %s, %s)
  ON CONFLICT DO NOTHING
  RETURNING id
), a AS (
  INSERT INTO audit_auditevent
    (at, actor_id, actor_label, action, object_type, object_id, study_id, detail, ip)
  SELECT %s, NULL, %s, 'submit', 'participate.response', r.id::text, %s, %s, %s FROM r
)
SELECT id FROM r
"""


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


@dataclass(frozen=True)
class SaveResult:
    outcome: Outcome
    response_id: int | None
    session: int | None


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def link_for_token(token: str) -> CheckinLink | None:
    """The check-in link behind a token, or None if there is none usable now."""
    if not token or len(token) > 100:
        return None
    if _postgres():
        with connection.cursor() as cur:
            cur.execute(_LINK_SQL, [hash_token(token)])
            row = cur.fetchone()
        if row is None:
            return None
        instruments = json.loads(row[4]) if isinstance(row[4], str) else row[4]
        return CheckinLink(row[0], row[1], row[2], row[3], row[5], row[6], tuple(instruments), bool(row[7]))
    inv = (
        Invitation.objects.select_related("study", "client")
        .filter(token_hash=hash_token(token), kind=Invitation.Kind.CHECKIN)
        .first()
    )
    if inv is None or inv.client is None or inv.problem() is not None:
        return None
    return link_for_invitation(inv)


def link_for_invitation(inv: Invitation) -> CheckinLink:
    client = inv.client
    if client is None:
        raise ValueError("a check-in link needs a client")
    consented = Consent.objects.filter(client=client, agreed=True, withdrawn_at__isnull=True).exists()
    return CheckinLink(
        inv.pk,
        inv.study_id,
        inv.site_id,
        client.pk,
        client.code,
        client.language,
        tuple(inv.study.checkin_instruments),
        consented,
    )


def save_checkin(
    link: CheckinLink,
    *,
    session: int,
    answers: dict[str, Any],
    language: str,
    key: str,
    ip: str | None = None,
    via: str = "web",
) -> SaveResult:
    """Store one completed check-in with its audit event, once.

    ``answers`` must already be validated against the check-in instruments. A key seen before returns
    ``replayed`` (same client) or ``key_conflict`` (another client); a second check-in for a session that
    already has one returns ``session_conflict``.
    """
    now = timezone.now()
    label = f"participant:{link.client_code}"[:150]
    detail = {"session": session, "via": via}
    if _postgres():
        params = [
            link.study_id,
            link.site_id,
            link.client_id,
            link.invitation_id,
            session,
            timezone.localdate(),
            language,
            json.dumps(answers),
            now,
            now,
            now,
            key,
            now,
            label,
            link.study_id,
            json.dumps(detail),
            ip,
        ]
        with connection.cursor() as cur:
            cur.execute(_INSERT_SQL, params)
            row = cur.fetchone()
        if row is not None:
            queue_client_evaluation(link.client_id)
            return SaveResult("created", int(row[0]), session)
        return _after_conflict(link, key, session)
    existing = Response.objects.filter(idempotency_key=key).only("pk", "session", "client_id").first()
    if existing is not None:
        return _after_conflict(link, key, session)
    try:
        with transaction.atomic():
            saved = Response.objects.create(
                study_id=link.study_id,
                site_id=link.site_id,
                client_id=link.client_id,
                invitation_id=link.invitation_id,
                kind=Response.Kind.CHECKIN,
                session=session,
                session_date=timezone.localdate(),
                language=language,
                answers=answers,
                completed_at=now,
                idempotency_key=key,
                page=1,
            )
            AuditEvent.objects.create(
                actor=None,
                actor_label=label,
                action="submit",
                object_type="participate.response",
                object_id=str(saved.pk),
                study_id=link.study_id,
                detail=detail,
                ip=ip,
            )
    except IntegrityError:
        return _after_conflict(link, key, session)
    queue_client_evaluation(link.client_id)
    return SaveResult("created", saved.pk, session)


def _after_conflict(link: CheckinLink, key: str, session: int) -> SaveResult:
    again = Response.objects.filter(idempotency_key=key).only("pk", "session", "client_id").first()
    if again is not None and again.client_id == link.client_id:
        return SaveResult("replayed", again.pk, again.session)
    if again is not None:
        return SaveResult("key_conflict", None, None)
    return SaveResult("session_conflict", None, session)
