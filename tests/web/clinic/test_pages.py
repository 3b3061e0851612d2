"""The caseload and the client page: what they show, on which scale, and how they treat thin or bad data."""

from __future__ import annotations

import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from clinic_support import checkin, phq, rupture_course, survey
from lacrima.web.audit.models import AuditEvent
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.clinic.models import SessionDate
from lacrima.web.studies.models import Client

pytestmark = pytest.mark.django_db

URL = "/clinic/cry-2026/clients/C001/"


def _svg(html: str, ident: str) -> ElementTree.Element:
    found = [
        m for m in re.findall(r'<svg class="chart".*?</svg>', html, flags=re.S) if f'id="{ident}-clip"' in m
    ]
    assert found, f"no chart {ident} on the page"
    return ElementTree.fromstring(found[0])


def _page(clinic, user=None) -> str:
    r = clinic.world.login(user or clinic.world.therapist).get(URL)
    assert r.status_code == 200
    return r.content.decode()


def test_it_says_clearly_when_a_client_has_no_checkins(clinic) -> None:
    html = _page(clinic)
    assert 'id="no-checkins"' in html and '<svg class="chart"' not in html


def test_it_shows_a_single_session_and_says_trends_need_more(clinic) -> None:
    checkin(clinic.world.client, 1, alliance=5)
    html = _page(clinic)
    assert 'id="one-session"' in html and 'id="session-1"' in html


def test_it_explains_checkins_whose_alliance_items_are_all_missing(clinic) -> None:
    for s in (1, 2, 3):
        checkin(clinic.world.client, s, alliance=None)
    html = _page(clinic)
    assert 'id="no-alliance"' in html and 'id="timeline-clip"' not in html


def test_it_draws_the_alliance_on_the_fixed_one_to_seven_scale_with_crying_by_intensity(clinic) -> None:
    client = clinic.world.client
    checkin(client, 1, alliance=5)
    checkin(client, 2, alliance=6, cried=1, feelings=(2, 5, 5, 1, 1))
    checkin(client, 3, alliance=5, cried=1, feelings=(7, 6, 6, 1, 2), extra={"chk_10": 6, "chk_11": 7})
    checkin(client, 4, alliance=6)
    html = _page(clinic)
    root = _svg(html, "timeline")
    labels = {t.text for t in root.iter("text")}
    assert {"1", "4", "7"} <= labels  # the whole scale, although the answers are 5 and 6
    assert "cried (size: intensity)" in labels
    crying = re.search(r'<section id="crying">.*?</section>', html, flags=re.S).group(0)
    assert crying.count("<tr>") == 3  # header and two crying sessions
    assert "5.0" in crying and "1.0" in crying  # positive and negative feelings after crying at session 2
    assert "6.0" in crying and "7.0" in crying  # felt understood and the therapist's response at session 3
    assert "no answer" in crying  # session 2's check-in did not answer them


def test_it_shows_the_profile_and_symptoms_against_the_expected_band(clinic) -> None:
    client = clinic.world.client
    intake = {f"ecr_{i:02d}": 6 for i in range(1, 19)} | {f"ecr_{i:02d}": 2 for i in range(19, 37)}
    intake |= {f"cat_{i:02d}": 4 for i in range(1, 13)} | phq(2) | {"gender": "woman"}
    survey(client, intake)
    rupture_course(client)
    for s in (4, 8):
        survey(client, phq(2), session=s)
    html = _page(clinic)
    profile = re.search(r'<section id="profile">.*?</section>', html, flags=re.S).group(0)
    assert "anxiety" in profile and "Woman" in profile and "Hebrew" in profile
    assert 'data-instrument="phq9"' in html and 'id="symptom-phq9-clip"' in html
    assert 'data-default="yes"' in html and "documented default trajectory" in html
    guidance = re.search(r'<section id="guidance">.*?</section>', html, flags=re.S).group(0)
    assert "data-guidance=" in guidance and "data-evidence=" in guidance and "Sources" in guidance
    assert "clinical judgement" in guidance


def test_it_lists_alerts_with_their_reason_rule_and_links_to_the_sessions(clinic) -> None:
    rupture_course(clinic.world.client)
    refresh_client(clinic.world.client, notify=False)
    html = _page(clinic)
    alerts = re.search(r'<section id="open-alerts">.*?</section>', html, flags=re.S).group(0)
    assert 'data-alert="alliance-rupture"' in alerts
    assert re.search(r'href="#session-\d+"', alerts) and "Rule: Alliance rupture" in alerts


def test_it_lets_the_therapist_correct_a_session_date_and_logs_it(clinic) -> None:
    checkin(clinic.world.client, 1)
    c = clinic.world.login(clinic.world.therapist)
    day = timezone.localdate() - timedelta(days=3)
    r = c.post(f"{URL}dates/", {"session": 1, "date": day.isoformat()})
    assert r.status_code == 302 and r["Location"] == URL  # the top, where the confirmation is
    html = c.get(URL).content.decode()
    assert f"The date of session 1 is now {day.isoformat()}." in html
    row = re.search(r'<tr id="session-1">.*?</tr>', html, flags=re.S).group(0)
    assert day.isoformat() in row and "(corrected)" in row
    assert 'id="no-open-alerts"' in html  # a client with no open alerts says so
    fix = SessionDate.objects.get()
    assert AuditEvent.objects.filter(object_type="clinic.sessiondate", object_id=str(fix.pk)).exists()


def test_it_refuses_bad_dates_with_a_clear_message(clinic) -> None:
    checkin(clinic.world.client, 1)
    c = clinic.world.login(clinic.world.therapist)
    future = (timezone.localdate() + timedelta(days=2)).isoformat()
    r = c.post(f"{URL}dates/", {"session": 1, "date": future})
    assert r.status_code == 422 and "cannot be in the future" in r.content.decode()
    r = c.post(f"{URL}dates/", {"session": 7, "date": "2026-01-01"})
    assert r.status_code == 422 and "Session 7 has no check-in" in r.content.decode()
    r = c.post(f"{URL}dates/", {"session": "x", "date": "yesterday"})
    assert r.status_code == 422
    assert not SessionDate.objects.exists()


def test_it_keeps_corrected_dates_in_the_order_of_the_sessions(clinic) -> None:
    """A corrected date may not pass a neighbouring session's date (as shown, corrections included): a
    session moved before the one it followed reordered the course and raised a missed check-ins alert
    that outlived the mistake. Refused in the therapist's language, nothing saved."""
    today = timezone.localdate()
    for session, ago in ((1, 21), (2, 14), (3, 7)):
        checkin(clinic.world.client, session, day=today - timedelta(days=ago))
    c = clinic.world.login(clinic.world.therapist)
    early = (today - timedelta(days=30)).isoformat()
    r = c.post(f"{URL}dates/", {"session": 3, "date": early})
    body = r.content.decode()
    assert r.status_code == 422
    assert f"Session 3 cannot be dated before session 2 ({(today - timedelta(days=14)).isoformat()})" in body
    r = c.post(f"{URL}dates/", {"session": 1, "date": (today - timedelta(days=10)).isoformat()})
    assert r.status_code == 422 and "cannot be dated after session 2" in r.content.decode()
    assert not SessionDate.objects.exists()
    # within its neighbours, and the same day as one of them, it is taken; the next check uses it
    ok = c.post(f"{URL}dates/", {"session": 2, "date": (today - timedelta(days=20)).isoformat()})
    assert ok.status_code == 302
    r = c.post(f"{URL}dates/", {"session": 1, "date": (today - timedelta(days=19)).isoformat()})
    assert r.status_code == 422 and "cannot be dated after session 2" in r.content.decode()
    same_day = c.post(f"{URL}dates/", {"session": 3, "date": (today - timedelta(days=20)).isoformat()})
    assert same_day.status_code == 302
    c.post("/i18n/setlang/", {"language": "he", "next": URL})
    r = c.post(f"{URL}dates/", {"session": 3, "date": early})
    assert r.status_code == 422 and "לא יכולה להיות מתוארכת לפני פגישה 2" in r.content.decode()
    assert SessionDate.objects.count() == 2


def test_it_orders_the_caseload_by_urgency_with_a_badge_per_alert(clinic) -> None:
    world = clinic.world
    calm = Client.objects.create(
        study=world.study, site=world.site_il, code="C003", therapist=world.therapist
    )
    for s in range(1, 6):
        checkin(calm, s, alliance=6)
    rupture_course(world.client)
    for c in (world.client, calm):
        refresh_client(c, notify=False)
    html = world.login(world.therapist).get("/clinic/").content.decode()
    order = re.findall(r'data-client="(C\d+)"', html)
    assert order == ["C001", "C003"]
    row = re.search(r'<tr data-client="C001">.*?</tr>', html, flags=re.S).group(0)
    assert 'data-alert="alliance-rupture"' in row and '<svg class="spark"' in row


def test_it_gives_the_caseload_in_hebrew_right_to_left(clinic) -> None:
    checkin(clinic.world.client, 1)
    refresh_client(clinic.world.client, notify=False)
    r = clinic.world.login(clinic.world.therapist).get("/clinic/", HTTP_ACCEPT_LANGUAGE="he")
    assert re.search(r'<html lang="he" dir="rtl">', r.content.decode())


def test_it_marks_a_client_not_yet_evaluated_and_queues_the_work(clinic) -> None:
    from django_tasks_db.models import DBTaskResult

    checkin(clinic.world.client, 1)
    html = clinic.world.login(clinic.world.therapist).get("/clinic/").content.decode()
    assert "Not evaluated yet" in html
    assert DBTaskResult.objects.filter(task_path__endswith="compute_alerts").count() == 1


def test_it_names_stored_answers_that_cannot_be_scored_instead_of_failing(clinic) -> None:
    checkin(clinic.world.client, 1)
    checkin(clinic.world.client, 2, alliance=9)  # outside the 1-7 scale (e.g. imported by hand)
    r = clinic.world.login(clinic.world.therapist).get(URL)
    html = r.content.decode()
    assert r.status_code == 422 and 'id="scoring-problem"' in html and "chk_07" in html
    refresh_client(clinic.world.client, notify=False)
    caseload = clinic.world.login(clinic.world.therapist).get("/clinic/").content.decode()
    assert "could not be scored" in caseload


def test_it_shows_thin_clients_on_the_caseload_with_clear_labels(clinic) -> None:
    world = clinic.world
    one, blank = (
        Client.objects.create(study=world.study, site=world.site_il, code=code, therapist=world.therapist)
        for code in ("C010", "C011")
    )
    checkin(one, 1, alliance=5)
    for s in (1, 2):
        checkin(blank, s, alliance=None)
    for c in (world.client, one, blank):  # world.client: no check-ins at all
        refresh_client(c, notify=False)
    r = world.login(world.therapist).get("/clinic/")
    assert r.status_code == 200
    html = r.content.decode()
    rows = {code: re.search(rf'<tr data-client="{code}">.*?</tr>', html, flags=re.S).group(0)
            for code in ("C001", "C010", "C011")}  # fmt: skip
    assert "none yet" in rows["C001"] and "Not evaluated yet" not in rows["C001"]
    assert "<strong>5.0</strong>" in rows["C010"] and "before" not in rows["C010"]
    assert "no alliance answers" in rows["C011"]
    for code in ("C010", "C011"):
        page = world.login(world.therapist).get(f"/clinic/cry-2026/clients/{code}/")
        assert page.status_code == 200, code


def test_it_orders_by_open_alerts_only_each_kind_counted_once(clinic) -> None:
    from lacrima import feedback as fb
    from lacrima.web.clinic.models import Alert, ClientSummary

    world = clinic.world
    rupture_course(world.client)  # a rupture over sessions 7-10, repaired, then a second one
    for s, level in ((11, 6), (12, 6), (13, 6), (14, 6), (15, 2)):
        checkin(world.client, s, alliance=level)
    risky = Client.objects.create(
        study=world.study, site=world.site_il, code="C004", therapist=world.therapist
    )
    for s in range(1, 6):
        checkin(risky, s, alliance=6)
    survey(risky, phq(1, item9=1), session=5)  # a risk answer: a high-priority alert
    for c in (world.client, risky):
        refresh_client(c, notify=False)
    kinds = list(Alert.objects.filter(client=world.client).values_list("kind", flat=True))
    assert len(kinds) > len(set(kinds))  # repeats of one kind on the rupture course
    summary = ClientSummary.objects.get(client=world.client)
    assert summary.urgency <= len(set(kinds)) * fb.URGENCY_WEIGHTS["medium"]  # each kind once
    html = world.login(world.therapist).get("/clinic/").content.decode()
    assert re.findall(r'data-client="(C\d+)"', html)[:2] == ["C004", "C001"]  # the open risk item first
    Alert.objects.filter(client=risky).update(acknowledged_at=timezone.now(), acknowledged_note="called")
    refresh_client(risky, notify=False)
    assert ClientSummary.objects.get(client=risky).urgency == 0.0  # nothing open: bottom of the list
    html = world.login(world.therapist).get("/clinic/").content.decode()
    assert re.findall(r'data-client="(C\d+)"', html)[:2] == ["C001", "C004"]
