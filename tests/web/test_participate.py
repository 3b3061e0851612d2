"""The participant's path: link, language, consent, pages with save-and-resume, check-ins, withdrawal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from lacrima.instruments import load_instrument
from lacrima.web.audit.models import AuditEvent
from lacrima.web.participate.catalog import STRINGS
from lacrima.web.participate.models import Consent, Response
from lacrima.web.participate.pages import build_pages
from lacrima.web.studies.models import Invitation

pytestmark = pytest.mark.django_db


def _answers_for(page_items: list, cried: bool = True) -> dict[str, str]:
    out: dict[str, str] = {}
    for it in page_items:
        if it.column == "cried_in_therapy":
            out[it.column] = "1" if cried else "0"
        elif it.options:
            out[it.column] = str(it.options[0].code)
        elif it.type == "numeric" and it.scale is not None:
            out[it.column] = f"{it.scale.min:g}"
        elif it.type == "text":
            continue
        elif it.scale is not None:
            out[it.column] = f"{it.scale.max:g}"
    return out


def _start(world, lang: str = "he") -> tuple[HttpClient, str, Invitation]:
    inv, token = world.invite(site=world.site_it if lang == "it" else world.site_il)
    c = HttpClient()
    r = c.get(f"/p/{token}/?lang={lang}")
    assert r.status_code == 302 and r["Location"].endswith(f"/p/{token}/consent/")
    r = c.post(f"/p/{token}/consent/", {"action": "agree"})
    assert r.status_code == 302
    return c, token, inv


def _complete_survey(c: HttpClient, token: str, world) -> None:
    pages = build_pages(world.study.survey_instruments)
    for page in pages:
        r = c.post(f"/p/{token}/survey/", {"page": str(page.number), **_answers_for(list(page.items))})
        assert r.status_code in (200, 302), r.content[:500]


def test_it_asks_for_a_language_when_the_site_offers_several(world) -> None:
    _, token = world.invite()
    r = HttpClient().get(f"/p/{token}/")
    assert r.status_code == 200
    assert "עברית" in r.content.decode() and "English" in r.content.decode()


def test_it_renders_hebrew_right_to_left(world) -> None:
    c, token, _ = _start(world, "he")
    r = c.get(f"/p/{token}/survey/")
    html = r.content.decode()
    assert '<html lang="he" dir="rtl">' in html
    assert load_instrument("crying_in_therapy").item("cried_in_therapy").text["he"] in html


def test_it_completes_a_survey_and_marks_a_single_use_link_used(world) -> None:
    c, token, inv = _start(world, "en")
    _complete_survey(c, token, world)
    resp = Response.objects.get(invitation=inv)
    assert resp.completed_at is not None
    assert resp.answers["cried_in_therapy"] == 1
    assert resp.answers["cry_05"] == 5
    inv.refresh_from_db()
    assert inv.used_at is not None
    again = HttpClient().get(f"/p/{token}/")
    assert again.status_code == 410
    assert STRINGS["he"]["used"] in again.content.decode()  # a new browser: the site's first language


def test_it_resumes_where_the_participant_left_off(world) -> None:
    c, token, inv = _start(world, "it")
    pages = build_pages(world.study.survey_instruments)
    c.post(f"/p/{token}/survey/", {"page": "0", **_answers_for(list(pages[0].items))})
    # The browser is closed; a new browser opens the same link.
    fresh = HttpClient()
    r = fresh.get(f"/p/{token}/?lang=it", follow=True)
    html = r.content.decode()
    assert STRINGS["it"]["resume_note"] in html
    assert Response.objects.get(invitation=inv).page == 1


def test_it_rejects_out_of_range_and_unknown_answers_without_saving(world) -> None:
    c, token, inv = _start(world, "en")
    r = c.post(f"/p/{token}/survey/", {"page": "0", "cried_in_therapy": "7"})
    assert r.status_code == 422
    assert STRINGS["en"]["invalid_choice"] in r.content.decode()
    r = c.post(f"/p/{token}/survey/", {"page": "0", "cried_in_therapy": "1", "wai_99": "3"})
    assert r.status_code == 422
    assert "not part of this survey" in r.content.decode()
    resp = Response.objects.get(invitation=inv)
    assert resp.answers == {} and resp.page == 0


def test_it_requires_a_csrf_token(world) -> None:
    _, token, _ = _start(world, "en")
    strict = HttpClient(enforce_csrf_checks=True)
    strict.get(f"/p/{token}/?lang=en")
    r = strict.post(f"/p/{token}/survey/", {"page": "0", "cried_in_therapy": "1"})
    assert r.status_code == 403


def test_it_ignores_a_double_submit_of_the_same_page(world) -> None:
    c, token, inv = _start(world, "en")
    pages = build_pages(world.study.survey_instruments)
    data = {"page": "0", **_answers_for(list(pages[0].items))}
    c.post(f"/p/{token}/survey/", data)
    r = c.post(f"/p/{token}/survey/", data)
    assert r.status_code == 200
    assert STRINGS["en"]["stale_form"] in r.content.decode()
    assert Response.objects.get(invitation=inv).page == 1
    assert Response.objects.filter(invitation=inv).count() == 1


def test_it_refuses_an_expired_link_politely(world) -> None:
    inv, token = world.invite()
    Invitation.objects.filter(pk=inv.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    r = HttpClient().get(f"/p/{token}/")
    assert r.status_code == 410
    assert STRINGS["he"]["expired"] in r.content.decode()


def test_it_answers_404_for_a_guessed_token(world) -> None:
    r = HttpClient().get("/p/not-a-real-token/")
    assert r.status_code == 404


def test_it_records_a_refusal_and_ends_politely(world) -> None:
    inv, token = world.invite()
    c = HttpClient()
    c.get(f"/p/{token}/?lang=en")
    r = c.post(f"/p/{token}/consent/", {"action": "decline"})
    assert STRINGS["en"]["declined_body"] in r.content.decode()
    assert Consent.objects.get(invitation=inv).agreed is False
    assert c.get(f"/p/{token}/survey/").status_code == 302
    assert not Response.objects.filter(invitation=inv).exists()


def test_it_saves_a_checkin_once_even_when_submitted_twice(world) -> None:
    _, token = world.invite(kind="checkin", client=world.client)
    c = HttpClient()
    c.get(f"/p/{token}/?lang=he")
    c.post(f"/p/{token}/consent/", {"action": "agree"})
    r = c.get(f"/p/{token}/checkin/")
    assert r.status_code == 200
    items = list(load_instrument("session_checkin").items)
    data = {"session": "3", "idempotency_key": "k" * 32, **_answers_for(items)}
    assert c.post(f"/p/{token}/checkin/", data).status_code == 200
    assert c.post(f"/p/{token}/checkin/", data).status_code == 200
    assert Response.objects.filter(client=world.client, kind="checkin").count() == 1
    data["idempotency_key"] = "z" * 32
    r = c.post(f"/p/{token}/checkin/", data)
    assert r.status_code == 409
    assert Response.objects.filter(client=world.client, kind="checkin").count() == 1
    assert AuditEvent.objects.filter(action="submit").count() == 1


def test_it_lets_a_participant_withdraw(world) -> None:
    _, token = world.invite(kind="checkin", client=world.client)
    c = HttpClient()
    c.get(f"/p/{token}/?lang=en")
    c.post(f"/p/{token}/consent/", {"action": "agree"})
    r = c.post(f"/p/{token}/withdraw/")
    assert STRINGS["en"]["withdrawn"] in r.content.decode()
    world.client.refresh_from_db()
    assert world.client.withdrawn_at is not None
    assert c.get(f"/p/{token}/checkin/").status_code == 410


def test_it_has_every_interface_string_in_every_language() -> None:
    keys = set(STRINGS["en"])
    for lang, table in STRINGS.items():
        assert set(table) == keys, lang


def test_it_turns_responses_into_respondent_and_session_tables(world) -> None:
    from lacrima.web.studies.tables import study_tables

    c, token, _ = _start(world, "en")
    _complete_survey(c, token, world)
    _, ctoken = world.invite(kind="checkin", client=world.client)
    cc = HttpClient()
    cc.get(f"/p/{ctoken}/?lang=en")
    cc.post(f"/p/{ctoken}/consent/", {"action": "agree"})
    items = list(load_instrument("session_checkin").items)
    for session in (1, 2):
        cc.post(
            f"/p/{ctoken}/checkin/",
            {"session": str(session), "idempotency_key": f"key{session}", **_answers_for(items)},
        )
    respondents, sessions = study_tables(world.study)
    assert len(respondents) == 1
    assert respondents.loc[0, "site"] == "tlv"
    assert respondents.loc[0, "cry_05"] == 5
    assert list(sessions["session"]) == [1, 2]
    assert set(sessions["client_id"]) == {"C001"}
    assert sessions.loc[0, "therapist_id"] == "T01"
    assert "therapist" not in " ".join(map(str, sessions["therapist_id"]))
