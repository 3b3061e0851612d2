"""JSON API (django-ninja; OpenAPI schema at /api/openapi.json, docs at /api/docs).

- ``POST /api/checkins``: a participant app submits one session check-in, authenticated by the client's
  check-in link token (``Authorization: Bearer <token>``). The ``idempotency_key`` makes retries safe:
  the same key returns the first result and never stores a second row.
- ``GET /api/studies/{slug}/export/{table}``: pseudonymised respondents or sessions as JSON records,
  authenticated by a staff API token (``lacrima manage create_api_token USER``).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.responses import Status
from ninja.security import HttpBearer

from lacrima.web.accounts.models import ApiToken
from lacrima.web.audit.log import record
from lacrima.web.participate.catalog import SUPPORTED
from lacrima.web.participate.checkins import CheckinLink, link_for_token, save_checkin
from lacrima.web.participate.pages import checkin_page, validate_page

api = NinjaAPI(title="lacrima", version="1", urls_namespace="api")


class ParticipantToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> CheckinLink | None:
        return link_for_token(token)


class StaffToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        digest = hashlib.sha256(token.encode()).hexdigest()
        tok = (
            ApiToken.objects.select_related("user").filter(token_hash=digest, revoked_at__isnull=True).first()
        )
        if tok is None or not tok.user.is_active:
            return None
        ApiToken.objects.filter(pk=tok.pk).update(last_used_at=timezone.now())
        request.user = tok.user
        return tok.user


class CheckinIn(Schema):
    session: int
    idempotency_key: str
    answers: dict[str, Any]
    language: str | None = None


class CheckinOut(Schema):
    id: int
    session: int
    created: bool


class Problem(Schema):
    detail: str
    errors: dict[str, str] = {}


@api.post(
    "/checkins",
    auth=ParticipantToken(),
    response={200: CheckinOut, 201: CheckinOut, 403: Problem, 409: Problem, 422: Problem},
)
def submit_checkin(request: HttpRequest, payload: CheckinIn) -> Status[Any]:
    link: CheckinLink = request.auth  # type: ignore[attr-defined]
    key = payload.idempotency_key.strip()
    if not 8 <= len(key) <= 64:
        return Status(422, {"detail": "idempotency_key must be 8 to 64 characters", "errors": {}})
    if not link.consented:
        return Status(403, {"detail": "the client has not consented (or has withdrawn)", "errors": {}})
    if payload.language is not None and payload.language not in SUPPORTED:
        shown = payload.language[:16] + ("..." if len(payload.language) > 16 else "")
        return Status(
            422,
            {
                "detail": f"language {shown!r} is not offered; use one of {', '.join(SUPPORTED)}",
                "errors": {"language": "unknown language code"},
            },
        )
    if not 1 <= payload.session <= 500:
        return Status(
            422, {"detail": "session must be between 1 and 500", "errors": {"session": "out of range"}}
        )
    page = checkin_page(tuple(link.instruments))
    post = {
        k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        for k, v in payload.answers.items()
    }
    result = validate_page(page, post, "en", {})
    if result.form_errors:
        unknown = sorted(set(post) - {it.column for it in page.items})
        return Status(422, {"detail": f"unknown items: {', '.join(unknown)}", "errors": {}})
    if result.errors:
        return Status(422, {"detail": "some answers are not valid", "errors": result.errors})
    saved = save_checkin(
        link,
        session=payload.session,
        answers=result.cleaned,
        language=payload.language or link.client_language or "en",
        key=key,
        ip=request.META.get("REMOTE_ADDR") or None,
        via="api",
    )
    if saved.outcome == "created":
        return Status(201, {"id": saved.response_id, "session": saved.session, "created": True})
    if saved.outcome == "replayed":
        return Status(200, {"id": saved.response_id, "session": saved.session, "created": False})
    if saved.outcome == "key_conflict":
        return Status(409, {"detail": "this idempotency_key was used for another client", "errors": {}})
    return Status(409, {"detail": f"a check-in for session {payload.session} is already saved", "errors": {}})


@api.get(
    "/studies/{slug}/export/{table}", auth=StaffToken(), response={200: list[dict[str, Any]], 404: Problem}
)
def export_table(request: HttpRequest, slug: str, table: str) -> Status[Any]:
    from django.http import Http404

    from lacrima._results import to_jsonable
    from lacrima.web import access
    from lacrima.web.studies.tables import study_tables

    if table not in ("respondents", "sessions"):
        return Status(404, {"detail": "table must be respondents or sessions", "errors": {}})
    try:
        scope = access.get_study_for_research(request, slug, "export")
    except Http404:
        return Status(404, {"detail": "not found", "errors": {}})
    study = scope.study
    respondents, sessions = study_tables(study, scope.sites)
    frame = respondents if table == "respondents" else sessions
    record(
        request, "export", study, study_id=study.pk, table=table, format="json", rows=len(frame), via="api"
    )
    return Status(200, to_jsonable(frame.reset_index(drop=True)))
