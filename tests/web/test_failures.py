"""Clean failure: bad client codes refused but old ones still shown, server errors logged with their
traceback behind a friendly page, numerical trouble shown as "not run, because ...", API input checked."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from django.test import Client as HttpClient

from clinic_support import queued_report
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies.models import Client, ConsentVersion

pytestmark = pytest.mark.django_db


def test_it_refuses_a_client_code_that_is_not_url_safe(world) -> None:
    admin = world.login(world.admin)
    for code in ("a/b", "C 01", "C001?x", "../C1", "jane@example.org", "C#1"):
        data = {"code": code, "site": world.site_il.pk, "language": "he"}
        r = admin.post("/studies/cry-2026/clients/new/", data)
        assert r.status_code == 200 and "letters, digits, - or _" in r.content.decode(), code
        assert not Client.objects.filter(code=code).exists(), code
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Client(study=world.study, site=world.site_il, code="x/y").full_clean()


def test_it_still_shows_clients_whose_old_code_has_a_slash(world) -> None:
    odd = Client.objects.create(
        study=world.study, site=world.site_il, code="IL/07", therapist=world.therapist, language="he"
    )
    for user in (world.admin, world.researcher, world.therapist):
        r = world.login(user).get("/studies/cry-2026/")
        assert r.status_code == 200 and "IL/07" in r.content.decode()
    page = world.login(world.therapist).get("/studies/cry-2026/clients/IL/07/", follow=True)  # -> /clinic/
    assert page.status_code == 200 and "IL/07" in page.content.decode()
    assert world.login(world.other_therapist).get("/clinic/cry-2026/clients/IL/07/").status_code == 404
    assert odd.pk


def test_it_answers_a_missing_page_with_a_page_in_the_users_language(world) -> None:
    """A 404 (an unknown client, someone else's, a wrong link) is a page of its own, in the user's
    language and direction, with a way back for staff and a next step for participants."""
    therapist = world.login(world.therapist)
    r = therapist.get("/clinic/cry-2026/clients/NOPE/")
    html = r.content.decode()
    assert r.status_code == 404 and "Page not found" in html and 'href="/"' in html
    therapist.post("/i18n/setlang/", {"language": "he", "next": "/clinic/"})
    html = therapist.get("/clinic/cry-2026/clients/NOPE/").content.decode()
    assert 'dir="rtl"' in html and "הדף לא נמצא" in html
    stranger = HttpClient().get("/no-such-page/")
    text = stranger.content.decode()
    assert stranger.status_code == 404 and "ask your study team or your therapist" in text
    assert 'href="/"' not in text


def test_it_logs_every_server_error_with_its_traceback_and_shows_a_friendly_page(world, monkeypatch) -> None:
    import logging

    from django.conf import settings

    from lacrima.web.studies import tables

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(tables, "study_tables", broken)
    logger = logging.getLogger("django.request")
    assert [type(h) for h in logger.handlers] == [logging.StreamHandler] and not logger.propagate
    assert settings.LOGGING["handlers"]["stderr"]["stream"] == "ext://sys.stderr"
    records: list[logging.LogRecord] = []
    catcher = logging.Handler(level=logging.ERROR)
    catcher.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(catcher)
    try:
        c = world.login(world.admin, HttpClient(raise_request_exception=False))
        r = c.get("/studies/cry-2026/export/sessions.csv")
    finally:
        logger.removeHandler(catcher)
    body = r.content.decode()
    assert r.status_code == 500 and "Something went wrong" in body
    assert "Traceback" not in body and "disk is on fire" not in body
    assert len(records) == 1 and records[0].exc_info is not None
    text = logger.handlers[0].format(records[0])
    assert "Traceback (most recent call last)" in text and "RuntimeError: the disk is on fire" in text


def test_it_runs_the_battery_on_five_rows_without_a_server_error(world) -> None:
    import lacrima as lc

    sim = lc.simulate_study(seed=7).data.head(5)
    items = [c for c in sim.columns if c.startswith(("cry_", "chg_")) or c == "cried_in_therapy"]
    for _, row in sim.iterrows():
        inv, _ = world.invite(site=world.site_il)
        answers = {c: (None if pd.isna(row[c]) else int(row[c])) for c in items}
        Response.objects.create(
            study=world.study, site=world.site_il, invitation=inv, kind="survey", language="he",
            answers=answers, completed_at="2026-11-01T10:00:00Z",
        )  # fmt: skip
    html = queued_report(world).content.decode()
    assert "was not run" in html  # hypotheses that cannot run on five rows say so
    assert "omega cannot be fitted: omega_total is NaN (alpha stands)" in html


def _checkin(world, body: dict) -> tuple[int, dict]:
    inv, token = world.invite(kind="checkin", client=world.client)
    version = ConsentVersion.objects.filter(study=world.study, language="he").first()
    Consent.objects.create(invitation=inv, client=world.client, version=version, language="he", agreed=True)
    r = HttpClient().post(
        "/api/checkins",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return r.status_code, r.json()


def test_it_checks_the_language_of_an_api_checkin(world) -> None:
    answers = {"cried": 0, "chk_07": 5, "chk_08": 5, "chk_09": 5}
    for bad in ("x" * 318, "klingon", "EN", "e"):
        body = {
            "session": 1,
            "idempotency_key": f"lang-key-{len(bad):04d}",
            "answers": answers,
            "language": bad,
        }
        status, out = _checkin(world, body)
        assert status == 422 and "language" in out["detail"], bad
    assert not Response.objects.filter(kind="checkin").exists()
    status, out = _checkin(
        world, {"session": 1, "idempotency_key": "lang-key-good", "answers": answers, "language": "it"}
    )
    assert status == 201 and Response.objects.get(pk=out["id"]).language == "it"


def test_it_gives_a_sqlite_database_url_the_same_locking_as_the_default() -> None:
    from lacrima.web.settings import database_from_url

    db = database_from_url("sqlite:///srv/lacrima/db.sqlite3")
    assert db["NAME"] == "/srv/lacrima/db.sqlite3"
    assert db["OPTIONS"] == {"transaction_mode": "IMMEDIATE", "timeout": 20}
