"""JSON API (django-ninja; OpenAPI schema at /api/openapi.json, docs at /api/docs).

- ``POST /api/checkins``: a participant app submits one session check-in, authenticated by the client's
  check-in link token (``Authorization: Bearer <token>``). The ``idempotency_key`` makes retries safe:
  the same key returns the first result and never stores a second row.
- ``GET /api/studies/{slug}/export/{table}``: pseudonymised respondents or sessions as JSON records,
  authenticated by a staff API token (``lacrima manage create_api_token USER``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from django.utils import timezone, translation
from ninja import NinjaAPI, Schema
from ninja.responses import Status
from ninja.security import HttpBearer

from lacrima.errors import DataError
from lacrima.web.accounts.models import ApiToken
from lacrima.web.audit.log import record
from lacrima.web.participate.checkins import CheckinLink, link_for_token, save_checkin
from lacrima.web.participate.forms import InstrumentPageForm, form_data
from lacrima.web.studies.licensed import languages, study_instruments

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
    session: int | None = None  # accepted from older apps; the server numbers the sessions
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
    language = payload.language or link.client_language or "en"
    if language not in languages():
        return Status(422, {"detail": f"language must be one of {', '.join(languages())}", "errors": {}})
    try:
        instruments = study_instruments(link.study_id, link.instruments, language)
    except DataError as exc:
        return Status(409, {"detail": exc.summary, "errors": {}})
    entries = [(ins, it) for ins in instruments for it in ins.items]
    with translation.override(language):
        form = InstrumentPageForm(form_data(payload.answers), entries=entries, language=language)
        if not form.is_valid():
            problems = form.problems()
            detail = problems.pop("__all__", None) or translation.gettext("Some answers need your attention:")
            return Status(422, {"detail": detail, "errors": problems})
    saved = save_checkin(
        link,
        answers=form.cleaned_data,
        language=language,
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
    return Status(409, {"detail": "the check-in could not be numbered; send it again", "errors": {}})


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
