"""Append-only audit log: every read or change of client data leaves one row here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events are append-only; they cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only; they cannot be deleted")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        READ = "read"
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        EXPORT = "export"
        CONSENT = "consent"
        WITHDRAW = "withdraw"
        SUBMIT = "submit"
        LOGIN = "login"
        DENIED = "denied"
        # accounts (issue 12): sign-in, sign-out, throttling and the second factor
        LOGOUT = "logout"
        LOGIN_FAILED = "login_failed"
        LOCKOUT = "lockout"
        OTP_ENROLLED = "2fa_enrolled", "Second factor enrolled"
        OTP_OK = "2fa_ok", "Second factor accepted"
        OTP_FAILED = "2fa_failed", "Second factor refused"
        PASSWORD_CHANGE = "password_change"
        PASSWORD_RESET = "password_reset"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # no cascade and no constraint: deleting a user must not touch audit rows (the triggers refuse it)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, help_text="User name or 'participant:<client code>'")
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    study_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events are append-only; they cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only; they cannot be deleted")

    def __str__(self) -> str:
        when = f"{self.at:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"
