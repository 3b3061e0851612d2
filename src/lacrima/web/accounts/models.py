"""Staff roles per study (and site): study admin, site researcher, therapist."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Membership(models.Model):
    class Role(models.TextChoices):
        STUDY_ADMIN = "study_admin", "Study admin"
        SITE_RESEARCHER = "site_researcher", "Site researcher"
        THERAPIST = "therapist", "Therapist"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="memberships")
    site = models.ForeignKey(
        "studies.Site",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
        help_text="Empty for study admins (all sites)",
    )
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "study", "site", "role"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} in {self.study}"
