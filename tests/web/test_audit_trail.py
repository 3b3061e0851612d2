"""The audit trail cannot be rewritten by the application: triggers created by a migration refuse UPDATE
and DELETE on the audit table, tried here with raw SQL on the database the suite runs against (SQLite, and
PostgreSQL in the second leg)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from lacrima.web.audit.log import record
from lacrima.web.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list[object]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'read', actor_label = 'nobody' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
        "UPDATE audit_auditevent SET detail = '{}' WHERE id >= %s",
    ],
)
def test_it_refuses_raw_sql_that_rewrites_the_trail(sql: str) -> None:
    event = record(None, "denied", object_type="studies.study", object_id="cry-2026", study_id=1)
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(sql, [event.pk])
    row = AuditEvent.objects.get(pk=event.pk)
    assert (row.action, row.actor_label, row.object_id) == ("denied", "anonymous", "cry-2026")


def test_it_refuses_to_empty_the_table() -> None:
    record(None, "read", object_type="studies.client", object_id="C001")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM audit_auditevent WHERE 1 = %s", [1])
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"):
            _raw("TRUNCATE audit_auditevent", [])
    assert AuditEvent.objects.count() == 1


def test_it_still_appends_and_keeps_a_deleted_users_events() -> None:
    user = User.objects.create_user("leaver", password="not-used-here")
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    event = record(request, "export", object_type="studies.study", object_id="cry-2026")
    user.delete()
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.actor_label == "leaver" and row.actor_id == event.actor_id


def _events(world, n: int) -> None:
    for i in range(n):
        record(None, "read", object_type="studies.client", object_id=f"C{i:03d}", study_id=world.study.pk)
    record(None, "export", object_type="studies.study", object_id="cry-2026", study_id=world.study.pk)
    record(None, "read", object_type="studies.client", object_id="X999", study_id=world.study.pk + 1000)


def test_it_shows_a_study_admin_the_trail_of_their_study_only(world) -> None:
    _events(world, 3)
    r = world.login(world.admin).get("/studies/cry-2026/audit/")
    html = r.content.decode()
    assert r.status_code == 200 and "studies.client:C002" in html and "studies.study:cry-2026" in html
    assert "X999" not in html
    assert (
        'href="/studies/cry-2026/audit/"'
        in world.login(world.admin).get("/studies/cry-2026/").content.decode()
    )


def test_it_filters_the_trail_by_action_actor_object_and_date(world) -> None:
    _events(world, 3)
    c = world.login(world.admin)
    html = c.get("/studies/cry-2026/audit/", {"action": "export"}).content.decode()
    assert "studies.study:cry-2026" in html and "studies.client:C001" not in html
    html = c.get("/studies/cry-2026/audit/", {"object_type": "studies.client", "object_id": "C001"}).content
    assert b"studies.client:C001" in html and b"studies.client:C002" not in html
    c.get("/studies/cry-2026/")  # the admin's own read of the study page
    html = c.get("/studies/cry-2026/audit/", {"actor": "admin", "action": "read"}).content.decode()
    assert "studies.study:" in html and "anonymous" not in html
    html = c.get("/studies/cry-2026/audit/", {"since": "2001-01-01", "until": "2001-12-31"}).content.decode()
    assert "No events match" in html
    from django.utils import timezone

    today = timezone.now().date().isoformat()
    html = c.get("/studies/cry-2026/audit/", {"since": today, "until": today}).content.decode()
    assert "studies.client:C000" in html
    bad = c.get("/studies/cry-2026/audit/", {"since": "2026-12-31", "until": "2026-01-01"})
    assert bad.status_code == 422 and "before the start date" in bad.content.decode()


def test_it_paginates_the_trail(world) -> None:
    _events(world, 120)
    c = world.login(world.admin)
    first = c.get("/studies/cry-2026/audit/", {"object_type": "studies.client"}).content.decode()
    assert "page 1 of 3" in first and "studies.client:C119" in first and "studies.client:C000" not in first
    assert "object_type=studies.client&amp;page=2" in first
    last = c.get("/studies/cry-2026/audit/", {"object_type": "studies.client", "page": 3}).content.decode()
    assert "studies.client:C000" in last and "studies.client:C119" not in last


def test_it_keeps_the_trail_from_everyone_but_study_admins(world) -> None:
    _events(world, 1)
    for user in (world.researcher, world.therapist, world.other_therapist, world.outsider):
        assert world.login(user).get("/studies/cry-2026/audit/").status_code == 404
        assert AuditEvent.objects.filter(
            action="denied", actor=user, object_type="studies.study", object_id="cry-2026"
        ).exists()
    from django.test import Client as HttpClient

    r = HttpClient().get("/studies/cry-2026/audit/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
