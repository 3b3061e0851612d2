"""Alerts in the database: stored once per key, acknowledged with a note, never deleted, audit-logged;
e-mail without clinical data; computed by a queued task once the worker finds a new check-in."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from clinic_support import checkin, phq, rupture_course, survey
from lacrima.web.audit.models import AuditEvent
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.clinic.models import Alert, AppendOnlyError, ClientSummary
from lacrima.web.clinic.tasks import queue_stale_evaluations, stale_clients
from lacrima.web.participate.checkins import link_for_invitation, save_checkin

pytestmark = pytest.mark.django_db


def test_it_stores_each_alert_once_however_often_the_client_is_evaluated(clinic) -> None:
    client = clinic.world.client
    rupture_course(client)
    first = refresh_client(client, notify=False)
    again = refresh_client(client, notify=False)
    kinds = {a.kind for a in first}
    assert "alliance-rupture" in kinds and again == []
    stored = Alert.objects.filter(client=client)
    assert stored.count() == len(first) and len(set(stored.values_list("key", flat=True))) == len(first)
    rupture = stored.filter(kind="alliance-rupture").first()
    assert rupture.rule_id and rupture.rule_version and rupture.sources
    assert rupture.reason and rupture.values and rupture.sessions


def test_it_never_deletes_an_alert(clinic) -> None:
    rupture_course(clinic.world.client)
    refresh_client(clinic.world.client, notify=False)
    alert = Alert.objects.filter(client=clinic.world.client).first()
    with pytest.raises(AppendOnlyError):
        alert.delete()
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_it_acknowledges_once_then_appends_notes_all_audit_logged(clinic) -> None:
    rupture_course(clinic.world.client)
    refresh_client(clinic.world.client, notify=False)
    alert = Alert.objects.get(client=clinic.world.client, kind="alliance-rupture")
    c = clinic.world.login(clinic.world.therapist)
    ack = f"/clinic/alerts/{alert.pk}/acknowledge/"
    first = c.post(ack, {"note": "named the rupture; repair next session"})
    again = c.post(ack, {"note": "second look"})
    # the first to the top of the page (its confirmation, the alerts still open); the second, a note on
    # an alert acknowledged already, back to that alert in the history
    assert first["Location"] == "/clinic/cry-2026/clients/C001/"
    assert again["Location"] == f"/clinic/cry-2026/clients/C001/#alert-{alert.pk}"
    alert.refresh_from_db()
    assert alert.acknowledged_note == "named the rupture; repair next session"
    assert [n.text for n in alert.notes.all()] == ["second look"]
    events = AuditEvent.objects.filter(object_type="clinic.alert", object_id=str(alert.pk), action="update")
    assert sorted(e.detail["action_detail"] for e in events) == ["acknowledge", "note"]
    page = c.get("/clinic/cry-2026/clients/C001/").content.decode()
    assert "Acknowledged by therapist" in page and "second look" in page


def test_it_resolves_a_risk_item_only_with_a_note_saying_what_was_done(clinic) -> None:
    client = clinic.world.client
    checkin(client, 1)
    survey(client, phq(1, item9=2), session=1)
    refresh_client(client, notify=False)
    risk = Alert.objects.get(client=client, kind="risk-item")
    assert risk.priority == "high"
    c = clinic.world.login(clinic.world.therapist)
    r = c.post(f"/clinic/alerts/{risk.pk}/acknowledge/", {"note": "  "})
    assert r.status_code == 422 and "risk item is resolved with a note" in r.content.decode()
    risk.refresh_from_db()
    assert risk.open
    c.post(f"/clinic/alerts/{risk.pk}/acknowledge/", {"note": "safety plan reviewed, crisis line given"})
    risk.refresh_from_db()
    assert not risk.open


def test_it_emails_the_therapist_a_link_and_no_clinical_data(clinic) -> None:
    client = clinic.world.client
    rupture_course(client)
    survey(client, phq(2, item9=1), session=10)
    refresh_client(client)
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == ["therapist@example.org"]
    text = msg.subject + msg.body
    alert = Alert.objects.filter(client=client, notified_at__isnull=False).order_by("pk").first()
    assert f"/clinic/alerts/{alert.pk}/" in text
    for leak in ("C001", "PHQ", "phq", "rupture", "risk", "alliance", "cried", "suicid", "Tel Aviv"):
        assert leak not in text, leak
    refresh_client(client)
    assert len(mail.outbox) == 1  # nothing new, nothing sent


def test_it_sends_nothing_when_the_therapists_account_is_gone(clinic) -> None:
    client = clinic.world.client
    rupture_course(client)
    clinic.world.therapist.delete()
    client.refresh_from_db()
    assert client.therapist is None
    assert refresh_client(client)  # the alerts are still stored
    assert mail.outbox == []
    r = clinic.world.login(clinic.world.admin).get("/clinic/cry-2026/clients/C001/")
    assert r.status_code == 200 and 'id="no-therapist"' in r.content.decode()


@pytest.mark.django_db(transaction=True)  # the worker closes its connection when done (PostgreSQL)
def test_it_evaluates_a_client_after_a_checkin_when_the_worker_sweeps(clinic) -> None:
    client = clinic.world.client
    rupture_course(client)
    link = link_for_invitation(clinic.invitation)
    saved = save_checkin(
        link, answers={"cried": 0, "chk_07": 2, "chk_08": 2, "chk_09": 2}, language="he", key="k-11"
    )
    assert saved.outcome == "created"
    assert not DBTaskResult.objects.exists()  # the check-in itself writes no task
    assert stale_clients() == [client.pk]
    assert queue_stale_evaluations() == 1
    assert queue_stale_evaluations() == 0  # one is waiting already
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("compute_alerts") and task.args_kwargs["args"] == [client.pk, True]
    assert not Alert.objects.exists()
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert Alert.objects.filter(client=client, kind="alliance-rupture").exists()
    assert stale_clients() == [] and queue_stale_evaluations() == 0
    summary = ClientSummary.objects.get(client=client)
    assert summary.n_sessions == 11 and "alliance-rupture" in summary.open_kinds


@pytest.mark.django_db(transaction=True)
def test_it_does_not_requeue_a_failed_evaluation_until_new_answers_arrive(clinic, monkeypatch) -> None:
    import lacrima.web.clinic.evaluate as evaluate

    client = clinic.world.client
    rupture_course(client)

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug in the evaluation")

    monkeypatch.setattr(evaluate, "evaluate_client", broken)
    assert queue_stale_evaluations() == 1
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    assert DBTaskResult.objects.get().status == "FAILED"
    assert queue_stale_evaluations() == 0  # failed after the newest answers: not every few seconds
    link = link_for_invitation(clinic.invitation)
    answers = {"cried": 0, "chk_07": 5, "chk_08": 5, "chk_09": 5}
    save_checkin(link, answers=answers, language="he", key="k-new")
    assert queue_stale_evaluations() == 1  # new answers: evaluated again
