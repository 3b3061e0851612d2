"""The participant's path: link, language, consent, pages with save-and-resume, check-ins, withdrawal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone, translation
from django.utils.translation import gettext

from lacrima.instruments import load_instrument
from lacrima.web.audit.models import AuditEvent
from lacrima.web.participate.forms import build_pages
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies.models import Invitation

pytestmark = pytest.mark.django_db


def t(language: str, msgid: str) -> str:
    with translation.override(language):
        return gettext(msgid)


def answers_for(page_items: list, cried: bool = True) -> dict[str, str]:
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


def _pages(world) -> list:
    return build_pages([load_instrument(i) for i in world.study.survey_instruments])


def _start(world, lang: str = "he") -> tuple[HttpClient, str, Invitation]:
    inv, token = world.invite(site=world.site_it if lang == "it" else world.site_il)
    c = HttpClient()
    r = c.get(f"/p/{token}/?lang={lang}")
    assert r.status_code == 302 and r["Location"].endswith(f"/p/{token}/consent/")
    r = c.post(f"/p/{token}/consent/", {"action": "agree"})
    assert r.status_code == 302
    return c, token, inv


def _complete_survey(c: HttpClient, token: str, world) -> None:
    for page in _pages(world):
        r = c.post(f"/p/{token}/survey/", {"page": str(page.number), **answers_for(list(page.items))})
        assert r.status_code in (200, 302), r.content[:500]


def test_it_asks_for_a_language_when_the_site_offers_several(world) -> None:
    _, token = world.invite()
    r = HttpClient().get(f"/p/{token}/")
    assert r.status_code == 200
    assert "עברית" in r.content.decode() and "English" in r.content.decode()


def test_it_renders_hebrew_right_to_left_with_the_hebrew_catalog(world) -> None:
    c, token, _ = _start(world, "he")
    html = c.get(f"/p/{token}/survey/").content.decode()
    assert '<html lang="he" dir="rtl">' in html
    assert load_instrument("crying_in_therapy").item("cried_in_therapy").text["he"] in html
    assert "שמירה והמשך" in html  # "Save and continue" from locale/he


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
    msg = "This link has already been used to complete the survey. Thank you for taking part."
    assert t("he", msg) in again.content.decode()  # a new browser: the site's first language


def test_it_says_earlier_answers_were_saved_only_when_resuming(world) -> None:
    c, token, inv = _start(world, "it")
    pages = _pages(world)
    note = t("it", "Your earlier answers were saved; you can continue where you left off.")
    r = c.post(f"/p/{token}/survey/", {"page": "0", **answers_for(list(pages[0].items))}, follow=True)
    assert note not in r.content.decode()  # going on to the next page is not resuming
    fresh = HttpClient()  # the browser is closed; a new browser opens the same link
    r = fresh.get(f"/p/{token}/?lang=it", follow=True)
    assert note in r.content.decode()
    assert Response.objects.get(invitation=inv).page == 1


def test_it_rejects_out_of_range_and_unknown_answers_without_saving(world) -> None:
    c, token, inv = _start(world, "en")
    r = c.post(f"/p/{token}/survey/", {"page": "0", "cried_in_therapy": "7"})
    assert r.status_code == 422
    assert "Please choose one of the answers shown." in r.content.decode()
    r = c.post(f"/p/{token}/survey/", {"page": "0", "cried_in_therapy": "1", "wai_99": "3"})
    assert r.status_code == 422
    assert "not part of this survey" in r.content.decode()
    resp = Response.objects.get(invitation=inv)
    assert resp.answers == {} and resp.page == 0


def test_it_refuses_a_blank_page(world) -> None:
    c, token, inv = _start(world, "en")
    pages = _pages(world)
    c.post(f"/p/{token}/survey/", {"page": "0", **answers_for(list(pages[0].items))})
    r = c.post(f"/p/{token}/survey/", {"page": "1"})
    assert r.status_code == 422
    assert Response.objects.get(invitation=inv).page == 1


def test_it_does_not_count_an_almost_empty_survey_as_completed(world) -> None:
    c, token, inv = _start(world, "en")
    for page in _pages(world):
        first = page.items[0]
        one = answers_for([first])
        r = c.post(f"/p/{token}/survey/", {"page": str(page.number), **one})
        if r.status_code == 422:
            break
    assert r.status_code == 422
    assert "questions are needed" in r.content.decode()
    assert Response.objects.get(invitation=inv).completed_at is None


def test_it_requires_a_csrf_token(world) -> None:
    _, token, _ = _start(world, "en")
    strict = HttpClient(enforce_csrf_checks=True)
    strict.get(f"/p/{token}/?lang=en")
    r = strict.post(f"/p/{token}/survey/", {"page": "0", "cried_in_therapy": "1"})
    assert r.status_code == 403


def test_it_ignores_a_double_submit_of_the_same_page(world) -> None:
    c, token, inv = _start(world, "en")
    data = {"page": "0", **answers_for(list(_pages(world)[0].items))}
    c.post(f"/p/{token}/survey/", data)
    r = c.post(f"/p/{token}/survey/", data)
    assert r.status_code == 200
    assert "submitted twice or out of order" in r.content.decode()
    assert Response.objects.get(invitation=inv).page == 1
    assert Response.objects.filter(invitation=inv).count() == 1


def test_it_refuses_an_expired_link_politely(world) -> None:
    inv, token = world.invite()
    Invitation.objects.filter(pk=inv.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    r = HttpClient().get(f"/p/{token}/")
    assert r.status_code == 410
    assert t("he", "This link has expired. Please ask the research team for a new one.") in r.content.decode()


def test_it_answers_404_for_a_guessed_token(world) -> None:
    r = HttpClient().get("/p/not-a-real-token/")
    assert r.status_code == 404


def test_it_records_a_refusal_and_says_what_was_kept(world) -> None:
    world.study.contact = "cry-study@example.org, +39 06 000000"
    world.study.save()
    inv, token = world.invite()
    c = HttpClient()
    c.get(f"/p/{token}/?lang=en")
    r = c.post(f"/p/{token}/consent/", {"action": "decline"})
    html = r.content.decode()
    assert "No answers were collected" in html and "cry-study@example.org" in html
    assert Consent.objects.get(invitation=inv).agreed is False
    assert c.get(f"/p/{token}/survey/").status_code == 302
    assert not Response.objects.filter(invitation=inv).exists()


def _checkin_client(world, lang: str = "he") -> tuple[HttpClient, str]:
    _, token = world.invite(kind="checkin", client=world.client)
    c = HttpClient()
    c.get(f"/p/{token}/?lang={lang}")
    c.post(f"/p/{token}/consent/", {"action": "agree"})
    return c, token


def test_it_saves_a_checkin_once_and_numbers_sessions_on_the_server(world) -> None:
    c, token = _checkin_client(world)
    r = c.get(f"/p/{token}/checkin/")
    assert r.status_code == 200 and 'name="session"' not in r.content.decode()
    data = {"idempotency_key": "k" * 32, **answers_for(list(load_instrument("session_checkin").items))}
    assert c.post(f"/p/{token}/checkin/", data).status_code == 200
    assert c.post(f"/p/{token}/checkin/", data).status_code == 200
    assert Response.objects.filter(client=world.client, kind="checkin").count() == 1
    data["idempotency_key"] = "z" * 32
    r = c.post(f"/p/{token}/checkin/", data)
    assert r.status_code == 200
    sessions = Response.objects.filter(client=world.client, kind="checkin").values_list("session", flat=True)
    assert sorted(sessions) == [1, 2]
    assert AuditEvent.objects.filter(action="submit").count() == 2


def test_it_refuses_a_session_number_sent_by_the_page(world) -> None:
    c, token = _checkin_client(world)
    items = list(load_instrument("session_checkin").items)
    r = c.post(f"/p/{token}/checkin/", {"session": "500", "idempotency_key": "k" * 32, **answers_for(items)})
    assert r.status_code == 422
    assert not Response.objects.filter(client=world.client, kind="checkin").exists()


def test_it_lets_a_participant_withdraw_and_says_what_is_kept(world) -> None:
    world.study.contact = "cry-study@example.org"
    world.study.save()
    c, token = _checkin_client(world, "en")
    r = c.post(f"/p/{token}/withdraw/")
    html = r.content.decode()
    assert "answers you already gave are kept" in html and "cry-study@example.org" in html
    world.client.refresh_from_db()
    assert world.client.withdrawn_at is not None
    assert c.get(f"/p/{token}/checkin/").status_code == 410


def test_it_labels_every_option_of_phq9_in_the_participants_language(world) -> None:
    world.study.survey_instruments = ["phq9"]
    world.study.save()
    c, token, _ = _start(world, "he")
    html = c.get(f"/p/{token}/survey/").content.decode()
    for value, label in load_instrument("phq9").scale.labels.items():
        assert label["he"] in html, value
    assert html.count(load_instrument("phq9").scale.labels[2]["he"]) == 8  # on each item of the page


def test_it_offers_countries_and_languages_named_in_the_participants_language(world) -> None:
    world.study.survey_instruments = ["demographics"]
    world.study.save()
    c, token, inv = _start(world, "it")
    html = c.get(f"/p/{token}/survey/").content.decode()
    assert '<option value="DE">Germania</option>' in html
    assert '<option value="he">Ebraico</option>' in html
    r = c.post(f"/p/{token}/survey/", {"page": "0", "country": "IL", "language": "it", "age": "30"})
    assert r.status_code in (200, 302), r.content[:400]
    answers = Response.objects.get(invitation=inv).answers
    assert (answers["country"], answers["language"]) == ("IL", "it")
    r = c.post(f"/p/{token}/survey/", {"page": "0", "country": "<script>"})
    assert Response.objects.get(invitation=inv).answers["country"] == "IL"


def test_it_turns_responses_into_respondent_and_session_tables(world) -> None:
    from lacrima.web.studies.tables import study_tables

    c, token, _ = _start(world, "en")
    _complete_survey(c, token, world)
    cc, ctoken = _checkin_client(world, "en")
    items = list(load_instrument("session_checkin").items)
    for session in (1, 2):
        cc.post(f"/p/{ctoken}/checkin/", {"idempotency_key": f"key{session}", **answers_for(items)})
    respondents, sessions = study_tables(world.study)
    assert len(respondents) == 1
    assert respondents.loc[0, "site"] == "tlv"
    assert respondents.loc[0, "cry_05"] == 5
    assert list(sessions["session"]) == [1, 2]
    assert set(sessions["client_id"]) == {"C001"}
    assert sessions.loc[0, "therapist_id"] == "T01"
    assert "therapist" not in " ".join(map(str, sessions["therapist_id"]))
