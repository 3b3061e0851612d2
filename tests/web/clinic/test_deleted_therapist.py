"""A therapist's account is deleted (through the admin, as a superuser would) after months of work: the
append-only audit trail keeps every event, acknowledgements and notes keep the name, the clients stay
visible to the site's staff and the study admin with a clear message, and the admin assigns them again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core import mail

from clinic_support import rupture_course
from lacrima.web.audit.models import AuditEvent
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.clinic.models import Alert

pytestmark = pytest.mark.django_db

CLIENT_URL = "/clinic/cry-2026/clients/C001/"


@pytest.fixture
def history(clinic) -> Alert:
    """The therapist opened the client, acknowledged an alert with a note and added a later note."""
    world = clinic.world
    rupture_course(world.client)
    refresh_client(world.client, notify=False)
    c = world.login(world.therapist)
    assert c.get(CLIENT_URL).status_code == 200
    alert = Alert.objects.filter(client=world.client, kind="alliance-rupture").first()
    c.post(f"/clinic/alerts/{alert.pk}/acknowledge/", {"note": "talked about the last session"})
    c.post(f"/clinic/alerts/{alert.pk}/note/", {"text": "repair underway"})
    return alert


def _delete_through_the_admin(world, user: User) -> None:
    root = User.objects.create_superuser("root", password="not-used-here")
    c = world.login(root)
    page = c.get(f"/admin/auth/user/{user.pk}/delete/")
    assert page.status_code == 200  # the confirmation page lists what goes, without failing on the trail
    r = c.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert not User.objects.filter(pk=user.pk).exists()


def test_it_deletes_a_therapist_with_audit_history_and_keeps_the_trail(clinic, history) -> None:
    world = clinic.world
    therapist_id = world.therapist.pk
    before = AuditEvent.objects.filter(actor_id=therapist_id).count()
    assert before >= 3  # the page view, the acknowledgement and the note
    _delete_through_the_admin(world, world.therapist)
    assert AuditEvent.objects.filter(actor_id=therapist_id).count() == before
    assert set(AuditEvent.objects.filter(actor_id=therapist_id).values_list("actor_label", flat=True)) == {
        "therapist"
    }
    history.refresh_from_db()
    assert history.acknowledged_by is None and history.acknowledged_label == "therapist"
    assert history.notes.get().by_label == "therapist"


def test_it_keeps_the_clients_visible_with_a_clear_message_and_lets_the_admin_reassign(
    clinic, history
) -> None:
    world = clinic.world
    _delete_through_the_admin(world, world.therapist)
    admin = world.login(world.admin)
    page = admin.get(CLIENT_URL).content.decode()
    assert 'id="no-therapist"' in page and "the therapist's account may have been removed" in page
    assert "Acknowledged by therapist" in page and "repair underway" in page  # the name is kept
    assert 'id="assign-therapist"' in page and 'value="' + str(world.other_therapist.pk) + '"' in page
    for user in (world.admin, world.researcher):  # the site's staff still see the client, flagged
        listing = world.login(user).get("/studies/cry-2026/").content.decode()
        row = listing.split('data-client="C001"')[1].split("</tr>")[0]
        assert "none assigned" in row, user.username
    assert refresh_client(world.client) == [] and mail.outbox == []  # no one to notify, nothing crashes
    r = admin.post(f"{CLIENT_URL}therapist/", {"therapist": world.other_therapist.pk})
    assert r.status_code == 302
    world.client.refresh_from_db()
    assert world.client.therapist == world.other_therapist
    event = AuditEvent.objects.filter(detail__action_detail="assign_therapist").get()
    assert event.detail["before"] is None and event.detail["after"] == "other_therapist"
    caseload = world.login(world.other_therapist).get("/clinic/").content.decode()
    assert 'data-client="C001"' in caseload


def test_it_lets_only_the_study_admin_assign_a_therapist_of_the_clients_site(clinic) -> None:
    world = clinic.world
    url = f"{CLIENT_URL}therapist/"
    personas = clinic.personas()
    for name in ("treating", "colleague", "elsewhere", "researcher"):
        assert personas[name].post(url, {"therapist": world.other_therapist.pk}).status_code == 404, name
    r = personas["anonymous"].post(url, {"therapist": world.other_therapist.pk})
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    world.client.refresh_from_db()
    assert world.client.therapist == world.therapist
    r = personas["admin"].post(url, {"therapist": clinic.elsewhere.pk})  # a therapist of another site
    assert r.status_code == 422 and "Choose a therapist of Tel Aviv." in r.content.decode()
    world.client.refresh_from_db()
    assert world.client.therapist == world.therapist
    assert 'id="assign-therapist"' not in personas["treating"].get(CLIENT_URL).content.decode()
