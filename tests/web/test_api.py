"""JSON API: token-authenticated, idempotent check-in submission and role-limited exports."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient

from lacrima.web.accounts.models import ApiToken
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies.models import ConsentVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkin_token(world) -> str:
    inv, token = world.invite(kind="checkin", client=world.client)
    version = ConsentVersion.objects.filter(study=world.study, language="he").first()
    Consent.objects.create(invitation=inv, client=world.client, version=version, language="he", agreed=True)
    return token


def _post(token: str, body: dict) -> tuple[int, dict]:
    r = HttpClient().post(
        "/api/checkins",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return r.status_code, r.json()


GOOD = {
    "cried": 1, "chk_02": 4, "chk_03": 2, "chk_05": 6, "chk_06": 6,
    "chk_07": 5, "chk_08": 6, "chk_10": 3, "chk_11": 4,
}  # fmt: skip


def test_it_accepts_a_checkin_and_replays_retries_without_duplicating(world, checkin_token) -> None:
    body = {"idempotency_key": "retry-key-0001", "answers": GOOD}
    status, out = _post(checkin_token, body)
    assert status == 201 and out["created"] is True and out["session"] == 1
    status, again = _post(checkin_token, body)
    assert status == 200 and again == {"id": out["id"], "session": 1, "created": False}
    assert Response.objects.filter(client=world.client, kind="checkin").count() == 1
    assert Response.objects.get(pk=out["id"]).answers["chk_02"] == 4


def test_it_numbers_sessions_on_the_server_whatever_the_app_sends(world, checkin_token) -> None:
    _, first = _post(checkin_token, {"session": 500, "idempotency_key": "first-key-01", "answers": GOOD})
    _, second = _post(checkin_token, {"session": 2, "idempotency_key": "other-key-02", "answers": GOOD})
    assert (first["session"], second["session"]) == (1, 2)
    sessions = Response.objects.filter(client=world.client, kind="checkin").values_list("session", flat=True)
    assert sorted(sessions) == [1, 2]


def test_it_refuses_a_key_used_by_another_client(world, checkin_token) -> None:
    _post(checkin_token, {"idempotency_key": "shared-key-01", "answers": GOOD})
    inv, other = world.invite(kind="checkin", client=world.other_client)
    version = ConsentVersion.objects.filter(study=world.study, language="he").first()
    Consent.objects.create(
        invitation=inv, client=world.other_client, version=version, language="he", agreed=True
    )
    status, out = _post(other, {"idempotency_key": "shared-key-01", "answers": GOOD})
    assert status == 409 and "another client" in out["detail"]
    assert not Response.objects.filter(client=world.other_client).exists()


def test_it_rejects_bad_answers_with_reasons(world, checkin_token) -> None:
    status, out = _post(checkin_token, {"idempotency_key": "bad-values-1", "answers": {**GOOD, "cried": 9}})
    assert status == 422 and "cried" in out["errors"]
    status, out = _post(
        checkin_token, {"session": 1, "idempotency_key": "bad-values-2", "answers": {"wai_77": 1}}
    )
    assert status == 422 and out["detail"].startswith("הטופס הכיל תשובות לשאלות שאינן חלק מהשאלון")
    assert not Response.objects.filter(kind="checkin").exists()


def test_it_needs_a_valid_checkin_token(world) -> None:
    status, _ = _post("forged-token", {"session": 1, "idempotency_key": "whatever-1", "answers": GOOD})
    assert status == 401
    _, survey_token = world.invite(kind="survey")
    status, _ = _post(survey_token, {"session": 1, "idempotency_key": "whatever-2", "answers": GOOD})
    assert status == 401


def test_it_exports_only_to_staff_tokens_with_a_role(world, checkin_token) -> None:
    _post(checkin_token, {"session": 1, "idempotency_key": "export-key-1", "answers": GOOD})
    _, admin_token = ApiToken.issue(world.admin)
    _, outsider_token = ApiToken.issue(world.outsider)
    _, therapist_token = ApiToken.issue(world.therapist)
    url = "/api/studies/cry-2026/export/sessions"
    r = HttpClient().get(url, HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert r.status_code == 200 and r.json()[0]["client_id"] == "C001"
    assert HttpClient().get(url, HTTP_AUTHORIZATION=f"Bearer {outsider_token}").status_code == 404
    assert HttpClient().get(url, HTTP_AUTHORIZATION=f"Bearer {therapist_token}").status_code == 404
    assert HttpClient().get(url).status_code == 401


def test_it_publishes_an_openapi_schema() -> None:
    schema = HttpClient().get("/api/openapi.json").json()
    assert "/api/checkins" in schema["paths"]


def test_it_needs_a_current_consent(world) -> None:
    _, token = world.invite(kind="checkin", client=world.client)
    status, out = _post(token, {"session": 1, "idempotency_key": "no-consent-1", "answers": GOOD})
    assert status == 403 and "consented" in out["detail"]
    assert not Response.objects.filter(kind="checkin").exists()


def test_it_writes_one_audit_event_per_stored_checkin(world, checkin_token) -> None:
    from lacrima.web.audit.models import AuditEvent

    for key in ("audit-key-01", "audit-key-01", "audit-key-02"):
        _post(
            checkin_token, {"idempotency_key": key, "answers": GOOD}
        )
    stored = Response.objects.filter(kind="checkin").values_list("pk", flat=True)
    events = AuditEvent.objects.filter(action="submit", object_type="participate.response")
    assert sorted(int(e.object_id) for e in events) == sorted(stored)
    assert all(e.actor_label == "participant:C001" and e.detail["via"] == "api" for e in events)


def test_the_checkin_statements_are_prepared_on_postgresql_and_store_typed_values(
    world, checkin_token
) -> None:
    """On PostgreSQL the three per-check-in statements are prepared once per connection
    (lacrima.web.prepared); the server-bound values reach their columns with their types."""
    from django.db import connection

    from lacrima.web.audit.models import AuditEvent

    for key in ("prepared-key-1", "prepared-key-2"):
        assert _post(checkin_token, {"idempotency_key": key, "answers": GOOD})[0] == 201
    event = AuditEvent.objects.filter(action="submit").latest("pk")
    assert event.ip == "127.0.0.1" and event.detail == {"session": 2, "via": "api"}
    stored = Response.objects.get(idempotency_key="prepared-key-2")
    assert stored.answers["chk_05"] == 6 and stored.instruments == ["session_checkin"]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cur.fetchall()]
    assert any(s.startswith("INSERT INTO accounts_ratebucket") for s in statements)
    assert any(s.startswith("WITH ins AS (INSERT INTO") for s in statements)
    assert sum("participate_response" not in s and "token_hash" in s for s in statements) == 1


def test_prepared_statements_can_be_turned_off_for_a_pooler(monkeypatch) -> None:
    from lacrima.web.settings import database_from_url

    assert database_from_url("postgresql://u@db/x")["OPTIONS"] == {"prepare_threshold": 5}
    monkeypatch.setenv("LACRIMA_PG_PREPARED", "0")
    assert database_from_url("postgresql://u@db/x")["OPTIONS"] == {"prepare_threshold": None}
