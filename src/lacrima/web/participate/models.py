"""What participants give: consent decisions, survey responses and session check-ins.

Kinds: ``survey`` (a one-off survey, or a client's intake when ``client`` is set), ``checkin`` (one per
session) and ``measures`` (the repeated measures a study's schedule assigns to a client's session).
Answers are stored per response as a JSON object keyed by item column (``{"wai_01": 4, ...}``), validated
against the instrument definitions before they are saved; a response is only marked complete when every
page validated. Partial responses keep their answers so that a participant can resume.
"""

from __future__ import annotations

from django.db import models


class Consent(models.Model):
    invitation = models.ForeignKey("studies.Invitation", on_delete=models.PROTECT, related_name="consents")
    client = models.ForeignKey(
        "studies.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="consents"
    )
    version = models.ForeignKey("studies.ConsentVersion", on_delete=models.PROTECT, related_name="+")
    language = models.CharField(max_length=8)
    agreed = models.BooleanField()
    at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)


class Response(models.Model):
    class Kind(models.TextChoices):
        SURVEY = "survey"
        CHECKIN = "checkin"
        MEASURES = "measures"

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="responses")
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="responses")
    client = models.ForeignKey(
        "studies.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    invitation = models.ForeignKey("studies.Invitation", on_delete=models.PROTECT, related_name="responses")
    consent = models.ForeignKey(
        Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    wave = models.PositiveIntegerField(default=1)
    session = models.PositiveIntegerField(null=True, blank=True, help_text="Session number for check-ins")
    session_date = models.DateField(null=True, blank=True)
    language = models.CharField(max_length=8)
    instruments = models.JSONField(
        default=list, blank=True, help_text="Instrument ids this response asked, in page order"
    )
    answers = models.JSONField(default=dict)
    page = models.PositiveIntegerField(default=0, help_text="Next page to show (save-and-resume)")
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        indexes = [models.Index(fields=["study", "kind", "completed_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "session"],
                condition=models.Q(kind="checkin", completed_at__isnull=False),
                name="one_completed_checkin_per_session",
            ),
            models.UniqueConstraint(
                fields=["client", "session"],
                condition=models.Q(kind="measures"),
                name="one_measures_response_per_session",
            ),
        ]
