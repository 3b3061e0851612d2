import pytest

from lacrima.web.audit.log import record
from lacrima.web.audit.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


def test_it_appends_events() -> None:
    event = record(None, "read", object_type="studies.client", object_id="C01", study_id=1, reason="test")
    assert AuditEvent.objects.get(pk=event.pk).detail == {"reason": "test"}
    assert event.actor_label == "anonymous"


def test_it_refuses_to_change_or_delete_events() -> None:
    event = record(None, "read", object_type="studies.client", object_id="C01")
    event.action = "delete"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="delete")
    assert AuditEvent.objects.get(pk=event.pk).action == "read"
