"""Saving a session check-in exactly once: the one save path, shared by the participant page and the API.

The ORM on every database. The server assigns the session number (the client's last completed check-in
plus one; a therapist corrects a wrong number on the staff page). The response, its audit event and the
measures the study's schedule assigns to that session are written in one transaction. A retried
idempotency key returns the first result, a key used by another client is refused, and two check-ins
racing for one session number end up in two sessions, never one stored twice (benchmarks/bench_checkins.py
counts this under load).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from lacrima.web.audit.models import AuditEvent
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies import schedule as plan
from lacrima.web.studies.models import Invitation, hash_token

Outcome = Literal["created", "replayed", "key_conflict", "session_conflict"]
ATTEMPTS = 5


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


def _usable() -> Q:
    now = timezone.now()
    return (
        Q(kind=Invitation.Kind.CHECKIN, revoked_at__isnull=True, client__isnull=False)
        & Q(client__withdrawn_at__isnull=True)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        & ~Q(single_use=True, used_at__isnull=False)
    )


def _links(q: Q) -> CheckinLink | None:
    consented = Consent.objects.filter(
        client_id=OuterRef("client_id"), agreed=True, withdrawn_at__isnull=True
    )
    row = (
        Invitation.objects.filter(q)
        .annotate(consented=Exists(consented))
        .values_list(
            "pk",
            "study_id",
            "site_id",
            "client_id",
            "client__code",
            "client__language",
            "study__checkin_instruments",
            "consented",
            "study__schedule",
        )
        .first()
    )
    if row is None:
        return None
    return CheckinLink(
        row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6]), bool(row[7]), row[8] or {}
    )


def link_for_token(token: str) -> CheckinLink | None:
    """The check-in link behind a token, or None if there is none usable now (one query)."""
    if not token or len(token) > 100:
        return None
    return _links(_usable() & Q(token_hash=hash_token(token)))


def link_for_invitation(inv: Invitation) -> CheckinLink:
    link = _links(Q(pk=inv.pk, client__isnull=False))
    if link is None:
        raise ValueError("a check-in link needs a client")
    return link


def next_session(client_id: int) -> int:
    """The session number the server gives the client's next check-in."""
    last = Response.objects.filter(
        client_id=client_id, kind=Response.Kind.CHECKIN, completed_at__isnull=False
    ).aggregate(m=Max("session"))["m"]
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
    label = f"participant:{link.client_code}"[:150]
    for _attempt in range(ATTEMPTS):
        session = next_session(link.client_id)
        now = timezone.now()
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
                    instruments=list(link.instruments),
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
                    detail={"session": session, "via": via},
                    ip=ip,
                )
                _schedule_measures(link, saved, language)
        except IntegrityError:
            seen = _by_key(link, key)
            if seen is not None:
                return seen
            continue  # a concurrent check-in of this client took the number: take the next one
        return SaveResult("created", saved.pk, session)
    return SaveResult("session_conflict", None, None)


def _schedule_measures(link: CheckinLink, checkin: Response, language: str) -> None:
    """Open the measures the study's schedule assigns to this session (asked right after the check-in)."""
    due = plan.due(link.schedule, int(checkin.session or 0))
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
                session=checkin.session,
                language=language,
                instruments=due,
            )
    except IntegrityError:
        pass  # this session's measures exist already (its number was corrected by the therapist)
