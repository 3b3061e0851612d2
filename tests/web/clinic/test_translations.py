"""The clinic pages in Hebrew, right to left: the interface texts come from the clinic app's own catalog
(compiled like every other catalog), and what stays English (the feedback library's alert reasons and the
guidance files' citations) is marked ``lang="en" dir="ltr"`` so that it reads correctly inside the page."""

from __future__ import annotations

import re
from html import unescape

import pytest

from clinic_support import phq, rupture_course, survey
from lacrima.web.clinic.evaluate import refresh_client

pytestmark = pytest.mark.django_db

URL = "/clinic/cry-2026/clients/C001/"


def _intake(clinic) -> None:
    client = clinic.world.client
    intake = {f"ecr_{i:02d}": 6 for i in range(1, 19)} | {f"ecr_{i:02d}": 2 for i in range(19, 37)}
    intake |= {f"cat_{i:02d}": 4 for i in range(1, 13)} | phq(2) | {"gender": "woman"}
    survey(client, intake)
    rupture_course(client)
    refresh_client(client, notify=False)


def _section(html: str, ident: str) -> str:
    found = re.search(rf'<section id="{ident}">.*?</section>', html, flags=re.S)
    assert found, f"no section {ident}"
    return found.group(0)


def test_it_gives_the_caseload_in_hebrew_with_translated_alert_badges(clinic) -> None:
    _intake(clinic)
    r = clinic.world.login(clinic.world.therapist).get("/clinic/", HTTP_ACCEPT_LANGUAGE="he")
    html = r.content.decode()
    assert re.search(r'<html lang="he" dir="rtl">', html)
    assert "המטופלים שלך" in html  # "Your caseload"
    assert "<th>ברית טיפולית בפגישה (1-7)</th>" in html  # the alliance column's heading
    row = re.search(r'<tr data-client="C001">.*?</tr>', html, flags=re.S).group(0)
    assert re.search(r'data-alert="alliance-rupture">קרע בברית<', row)
    assert re.search(r'data-alert="difficult-crying">בכי קשה<', row)
    assert "שינוי סיסמה" in html and "יציאה" in html  # the staff header too
    assert "Your caseload" not in html and "Alliance rupture" not in html


def test_it_gives_the_client_page_in_hebrew_by_the_language_cookie(clinic) -> None:
    from django.conf import settings

    _intake(clinic)
    c = clinic.world.login(clinic.world.therapist)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "he"
    html = c.get(URL).content.decode()
    assert re.search(r'<html lang="he" dir="rtl">', html)
    alerts = _section(html, "open-alerts")
    assert "התראות פתוחות" in alerts  # "Open alerts"
    assert "כלל: קרע בברית" in alerts  # the rule's name, translated, before its id
    assert "אישור קבלה" in alerts  # the acknowledge button
    # the feedback library's reasons stay English, marked so that they read left to right
    assert re.search(r'<p class="reason" lang="en" dir="ltr">Session alliance [\d.]+ at session', alerts)
    profile = _section(html, "profile")
    assert "חרד-נמנע" in profile and "אישה" in profile and "עברית" in profile  # style, gender, language
    assert "בכי הוא חולשה" in profile  # the attitudes' subscale names
    guidance = _section(html, "guidance")
    assert "נגזר, לא נבדק" in guidance and 'ul lang="en" dir="ltr"' in guidance  # evidence; sources English
    timeline = _section(html, "timeline-section")
    assert "בכי (גודל: עוצמה)" in timeline  # the chart's own legend
    for english in ("Open alerts", "Acknowledge", ">Profile<", ">Attachment<", "fearful-avoidant", "Woman"):
        assert english not in html, english


def test_it_switches_the_staff_pages_language_with_the_header_buttons(clinic) -> None:
    c = clinic.world.login(clinic.world.therapist)
    html = c.get("/clinic/").content.decode()
    assert 'name="language" value="he"' in html
    r = c.post("/i18n/setlang/", {"language": "he", "next": "/clinic/"})
    assert r.status_code == 302 and r["Location"] == "/clinic/"
    assert 'dir="rtl"' in c.get("/clinic/").content.decode()


def test_it_gives_the_clinic_pages_in_italian_too(clinic) -> None:
    _intake(clinic)
    c = clinic.world.login(clinic.world.therapist)
    html = c.get("/clinic/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert re.search(r'<html lang="it" dir="ltr">', html) and "I tuoi pazienti" in html
    row = re.search(r'<tr data-client="C001">.*?</tr>', html, flags=re.S).group(0)
    assert re.search(r"data-alert=\"alliance-rupture\">Rottura dell'alleanza<", unescape(row))
    page = c.get(URL, HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Allerte aperte" in _section(page, "open-alerts")
    assert "timoroso-evitante" in _section(page, "profile")
    assert "Cambia password" in page
