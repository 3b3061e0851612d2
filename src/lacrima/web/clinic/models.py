"""The clinic's own rows: alerts (never deleted), per-client evaluated summaries for the caseload, session
date corrections, per-study clinic settings and queued battery reports.

Alerts are stored once per (client, key): the feedback library's ``Alert.key`` is stable, so evaluating a
client again after each check-in adds only the alerts that are new. Acknowledging sets who, when and an
optional note once; a later note is appended as an :class:`AlertNote`. Nothing here is ever deleted
(``on_delete=PROTECT`` towards clients; a deleted staff account leaves its acknowledgements with the name
kept in ``acknowledged_label``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AppendOnlyError(RuntimeError):
    """Raised when code tries to delete an alert or a note."""


class Alert(models.Model):
    class Priority(models.TextChoices):
        HIGH = "high"
        MEDIUM = "medium"
        LOW = "low"

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="alerts")
    client = models.ForeignKey("studies.Client", on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=120)
    priority = models.CharField(max_length=8, choices=Priority.choices)
    session = models.PositiveIntegerField(null=True, blank=True)
    sessions = models.JSONField(default=list)
    reason = models.TextField()
    values = models.JSONField(default=dict)
    rule_id = models.CharField(max_length=64)
    rule_version = models.CharField(max_length=16)
    sources = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_label = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_note = models.TextField(blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="alert_key_unique_per_client")]
        indexes = [models.Index(fields=["client", "acknowledged_at"])]
        ordering = ["-created_at", "-id"]

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("alerts are never deleted; acknowledge them instead")

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None

    def __str__(self) -> str:
        return f"{self.client} {self.key}"


class AlertNote(models.Model):
    """A note added to an alert after it was acknowledged (append-only)."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="notes")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    by_label = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)
    text = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("alert notes are never deleted")


class ClientSummary(models.Model):
    """What the caseload shows for one client, stored when the client is evaluated (after each check-in or
    survey), so that the caseload reads one row per client instead of re-scoring every session."""

    client = models.OneToOneField("studies.Client", on_delete=models.CASCADE, related_name="clinic_summary")
    evaluated_at = models.DateTimeField()
    through_response = models.BigIntegerField(default=0, help_text="Highest response id evaluated")
    n_sessions = models.PositiveIntegerField(default=0)
    last_checkin = models.DateField(null=True, blank=True)
    alliance = models.JSONField(default=list, help_text="[[session, alliance or null], ...]")
    latest_alliance = models.FloatField(null=True, blank=True)
    recent_cried = models.PositiveIntegerField(default=0)
    recent_sessions = models.PositiveIntegerField(default=0)
    recent_intensity = models.FloatField(null=True, blank=True)
    symptom = models.JSONField(default=dict, help_text="instrument, total, cutoff, intake, rc status")
    urgency = models.FloatField(default=0.0, db_index=True)
    open_kinds = models.JSONField(default=list)
    problem = models.TextField(blank=True, help_text="Why the client could not be evaluated, if so")


class SessionDate(models.Model):
    """A therapist's correction of a session's date (the check-in's own date stays as it was)."""

    client = models.ForeignKey("studies.Client", on_delete=models.PROTECT, related_name="session_dates")
    session = models.PositiveIntegerField()
    date = models.DateField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class ClinicSettings(models.Model):
    """Per-study clinic configuration: rule overrides for the feedback library and the client view."""

    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, related_name="clinic_settings")
    rule_overrides = models.JSONField(default=dict, blank=True)
    client_view = models.BooleanField(
        default=False, help_text="After a check-in, clients may see their own alliance and symptom chart"
    )
    session_interval_days = models.PositiveIntegerField(
        default=7, help_text="Expected days between sessions (for missed check-ins)"
    )
    guidance_disabled = models.JSONField(
        default=list, blank=True, help_text="Ids of guidance prompts switched off for this study"
    )


class BatteryRun(models.Model):
    """A queued run of the replication battery for a study; the worker stores the HTML when done."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="battery_runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    site_ids = models.JSONField(null=True, blank=True, help_text="None: all sites")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveIntegerField(default=0, help_text="Percent done")
    stage = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)


class ExpectedRecoveryFit(models.Model):
    """An expected-recovery trajectory refitted from the study's own archive (the newest one is used)."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="recovery_fits")
    instrument = models.CharField(max_length=16)
    payload = models.JSONField(default=dict, help_text="The feedback library's ExpectedRecovery as a dict")
    is_default = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    n_clients = models.PositiveIntegerField(default=0)
    fitted_at = models.DateTimeField(auto_now_add=True)
