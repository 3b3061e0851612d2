"""Who may see and do what in the clinic, persona by persona, for every view and every alert action.

Personas: the treating therapist, a colleague at the same site, a therapist at another site, the site
researcher, the study admin, an anonymous visitor and the client holding their check-in token. Denials are
404 (nothing about the client is revealed) and audit-logged; anonymous visitors are sent to the login.
"""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from clinic_support import checkin, rupture_course
from lacrima.web.audit.models import AuditEvent
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.clinic.models import Alert, AlertNote, ClinicSettings, SessionDate

pytestmark = pytest.mark.django_db

CLIENT_URL = "/clinic/cry-2026/clients/C001/"


def _status(r) -> int | str:
    if r.status_code == 302 and r["Location"].startswith("/accounts/login/"):
        return "login"
    return r.status_code


@pytest.fixture
def alert(clinic) -> Alert:
    rupture_course(clinic.world.client)
    refresh_client(clinic.world.client, notify=False)
    return Alert.objects.filter(client=clinic.world.client, kind="alliance-rupture").first()


def test_it_shows_the_client_page_only_to_the_treating_therapist_and_the_study_admin(clinic) -> None:
    checkin(clinic.world.client, 1)
    expected = {
        "treating": 200,
        "colleague": 404,
        "elsewhere": 404,
        "researcher": 404,
        "admin": 200,
        "anonymous": "login",
    }
    got = {name: _status(c.get(CLIENT_URL)) for name, c in clinic.personas().items()}
    assert got == expected
    participant = HttpClient()
    participant.get(f"/p/{clinic.token}/")  # the client's own link gives a session, never staff access
    assert _status(participant.get(CLIENT_URL)) == "login"
    denied = AuditEvent.objects.filter(action="denied", object_type="studies.client", object_id="C001")
    assert denied.count() == 3


def test_it_links_client_codes_on_the_study_page_only_for_those_who_may_open_them(clinic) -> None:
    """The study page lists the codes a user may see; a code is a link only where its clinical page
    opens (a site researcher sees the codes, and the pages would answer 404)."""
    personas = clinic.personas()
    for name, linked in (("researcher", False), ("admin", True)):
        html = personas[name].get("/studies/cry-2026/").content.decode()
        row = html.split('data-client="C001"')[1].split("</tr>")[0]
        assert (f'href="{CLIENT_URL}"' in row) is linked, name
        assert "C001" in row


def test_it_puts_only_the_therapists_own_clients_on_the_caseload(clinic) -> None:
    checkin(clinic.world.client, 1)
    checkin(clinic.world.other_client, 1)
    personas = clinic.personas()
    mine = personas["treating"].get("/clinic/").content.decode()
    assert 'data-client="C001"' in mine and 'data-client="C002"' not in mine
    theirs = personas["colleague"].get("/clinic/").content.decode()
    assert 'data-client="C002"' in theirs and 'data-client="C001"' not in theirs
    assert 'data-client="' not in personas["elsewhere"].get("/clinic/").content.decode()
    # staff who are not therapists keep their study list as home
    for name in ("researcher", "admin"):
        r = personas[name].get("/clinic/")
        assert r.status_code == 302 and r["Location"] == "/studies/"
    assert _status(personas["anonymous"].get("/clinic/")) == "login"


def test_it_lets_only_the_treating_therapist_and_admin_open_and_acknowledge_an_alert(clinic, alert) -> None:
    personas = clinic.personas()
    for name in ("colleague", "elsewhere", "researcher"):
        c = personas[name]
        assert c.get(f"/clinic/alerts/{alert.pk}/").status_code == 404, name
        assert c.post(f"/clinic/alerts/{alert.pk}/acknowledge/", {"note": "x"}).status_code == 404, name
        assert c.post(f"/clinic/alerts/{alert.pk}/note/", {"text": "x"}).status_code == 404, name
    anon = personas["anonymous"]
    assert _status(anon.get(f"/clinic/alerts/{alert.pk}/")) == "login"
    assert _status(anon.post(f"/clinic/alerts/{alert.pk}/acknowledge/", {"note": "x"})) == "login"
    assert _status(anon.post(f"/clinic/alerts/{alert.pk}/note/", {"text": "x"})) == "login"
    participant = HttpClient()
    participant.get(f"/p/{clinic.token}/")
    assert _status(participant.post(f"/clinic/alerts/{alert.pk}/acknowledge/", {"note": "x"})) == "login"
    alert.refresh_from_db()
    assert alert.open and not AlertNote.objects.exists()
    r = personas["treating"].get(f"/clinic/alerts/{alert.pk}/")
    assert r.status_code == 302 and r["Location"] == f"{CLIENT_URL}#alert-{alert.pk}"
    assert personas["admin"].get(f"/clinic/alerts/{alert.pk}/").status_code == 302
    r = personas["treating"].post(f"/clinic/alerts/{alert.pk}/acknowledge/", {"note": "talked it through"})
    assert r.status_code == 302
    assert personas["admin"].post(f"/clinic/alerts/{alert.pk}/note/", {"text": "seen"}).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinic.world.therapist and alert.notes.count() == 1


def test_it_lets_only_the_treating_therapist_and_admin_correct_a_session_date(clinic) -> None:
    checkin(clinic.world.client, 1)
    url = f"{CLIENT_URL}dates/"
    personas = clinic.personas()
    for name in ("colleague", "elsewhere", "researcher"):
        assert personas[name].post(url, {"session": 1, "date": "2026-01-05"}).status_code == 404, name
    assert _status(personas["anonymous"].post(url, {"session": 1, "date": "2026-01-05"})) == "login"
    assert not SessionDate.objects.exists()
    assert personas["treating"].post(url, {"session": 1, "date": "2026-01-05"}).status_code == 302
    assert personas["admin"].post(url, {"session": 1, "date": "2026-01-06"}).status_code == 302
    assert SessionDate.objects.count() == 2


def test_it_lets_only_the_study_admin_queue_an_expected_recovery_refit(clinic) -> None:
    from django_tasks_db.models import DBTaskResult

    def refits() -> int:
        return DBTaskResult.objects.filter(task_path__endswith="refit_expected_recovery").count()

    expected = {
        "treating": 404,
        "colleague": 404,
        "elsewhere": 404,
        "researcher": 404,
        "anonymous": "login",
    }
    personas = clinic.personas()
    admin = personas.pop("admin")
    got = {name: _status(c.post("/clinic/cry-2026/refit/")) for name, c in personas.items()}
    assert got == expected and refits() == 0
    participant = HttpClient()
    participant.get(f"/p/{clinic.token}/")
    assert _status(participant.post("/clinic/cry-2026/refit/")) == "login"
    page = admin.get("/studies/cry-2026/").content.decode()
    assert 'id="recovery-fits"' in page and "not fitted yet" in page
    assert 'id="recovery-fits"' not in personas["researcher"].get("/studies/cry-2026/").content.decode()
    r = admin.post("/clinic/cry-2026/refit/", follow=True)
    assert r.status_code == 200 and "refit queued" in r.content.decode()
    assert refits() == 2  # PHQ-9 and GAD-7
    assert AuditEvent.objects.filter(detail__action_detail="refit_expected_recovery").count() == 1
    r = admin.post("/clinic/cry-2026/refit/", follow=True)
    assert "already waiting" in r.content.decode() and refits() == 2
    assert AuditEvent.objects.filter(action="denied", object_type="studies.study").count() >= 4


def test_it_shows_the_clients_own_chart_only_by_their_token_and_only_when_the_study_offers_it(clinic) -> None:
    checkin(clinic.world.client, 1, alliance=5)
    checkin(clinic.world.client, 2, alliance=6)
    url = f"/p/{clinic.token}/my-chart/"
    assert HttpClient().get(url).status_code == 404  # the study has not switched the client view on
    ClinicSettings.objects.create(study=clinic.world.study, client_view=True)
    r = HttpClient().get(url)
    assert r.status_code == 200 and '<svg class="chart"' in r.content.decode()
    assert r.content.decode().count("C002") == 0
    assert HttpClient().get("/p/not-a-token/my-chart/").status_code == 404
    # a survey link of the same study is not a client's check-in link
    _, survey_token = clinic.world.invite(kind="survey")
    assert HttpClient().get(f"/p/{survey_token}/my-chart/").status_code == 404
    # staff sessions do not open it either: only the token does
    assert clinic.personas()["treating"].get("/p/x/my-chart/").status_code == 404
