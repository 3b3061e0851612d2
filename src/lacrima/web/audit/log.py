"""One helper to write audit events from views and services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from lacrima.web.audit.models import AuditEvent


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    request: HttpRequest | None,
    action: str,
    obj: Any = None,
    *,
    object_type: str | None = None,
    object_id: str | int | None = None,
    study_id: int | None = None,
    actor_label: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event. ``obj`` (a model instance) supplies type, id and study when given."""
    user = getattr(request, "user", None) if request is not None else None
    authenticated = bool(user is not None and user.is_authenticated)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id is not None else obj.pk
        if study_id is None:
            is_study = object_type == "studies.study"
            study_id = obj.pk if is_study else getattr(obj, "study_id", None)
    label = actor_label or (user.get_username() if authenticated and user is not None else "anonymous")
    return AuditEvent.objects.create(
        actor=user if authenticated else None,
        actor_label=label[:150],
        action=action,
        object_type=object_type or "",
        object_id="" if object_id is None else str(object_id),
        study_id=study_id,
        detail=detail,
        ip=_client_ip(request),
    )
