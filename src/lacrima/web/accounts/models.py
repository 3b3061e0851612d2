"""Staff roles per study (and site): study admin, site researcher, therapist."""

from __future__ import annotations

from typing import Any

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


class ApiToken(models.Model):
    """A staff member's token for the JSON API (exports). Only its SHA-256 hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="api")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def issue(cls, user: object, name: str = "api") -> tuple[ApiToken, str]:
        import hashlib
        import secrets

        token = "lcr_" + secrets.token_urlsafe(32)
        obj = cls.objects.create(user=user, name=name, token_hash=hashlib.sha256(token.encode()).hexdigest())
        return obj, token


class StaffSecurity(models.Model):
    """Per-account security state: a forced password change, and the demo's exemption from 2FA.

    ``demo_account`` skips the second factor only while ``LACRIMA_DEMO=1`` (refused in production), so a
    real account marked by mistake still has to use its second factor.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security")
    must_change_password = models.BooleanField(
        default=False, help_text="Asked to choose a new password before any other page"
    )
    demo_account = models.BooleanField(
        default=False,
        help_text="A seeded demo account: no second factor while LACRIMA_DEMO=1 (never in production)",
    )
    password_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "staff security"
        verbose_name_plural = "staff security"

    def __str__(self) -> str:
        return f"security of {self.user}"

    @classmethod
    def of(cls, user: Any) -> StaffSecurity | None:
        return cls.objects.filter(user_id=user.pk).first()


class RateBucket(models.Model):
    """One fixed-window request counter (rate limits shared by every server worker).

    ``key`` is a scope plus a client address or a token's hash (never the token itself). On PostgreSQL the
    table is UNLOGGED: a counter lost in a crash only forgives a few requests.
    """

    key = models.CharField(max_length=96, primary_key=True)
    window_start = models.BigIntegerField(db_index=True)
    count = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start}"
