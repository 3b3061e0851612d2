"""The admin: set-up and roles for superusers, the audit log read-only, clinical data absent."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from lacrima.web.audit.log import record

pytestmark = pytest.mark.django_db


def test_it_shows_roles_and_the_audit_log_to_a_superuser_only(world) -> None:
    boss = User.objects.create_superuser("boss", password="not-used-here")
    record(None, "read", object_type="studies.client", object_id="1", study_id=world.study.pk)
    c = world.login(boss)
    assert c.get("/admin/accounts/membership/").status_code == 200
    log = c.get("/admin/audit/auditevent/")
    assert log.status_code == 200 and "studies.client" in log.content.decode()
    assert c.get("/admin/audit/auditevent/add/").status_code == 403
    assert c.get("/admin/studies/client/").status_code == 404
    assert world.login(world.admin).get("/admin/audit/auditevent/").status_code == 302
