"""Studies, their sites and consent texts, enrolled clients (pseudonymous) and invitation links."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone


def hash_token(token: str) -> str:
    """Invitation tokens are stored only as SHA-256 hashes; the plain token lives in the link alone."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


validate_client_code = RegexValidator(
    r"^[A-Za-z0-9_-]+\Z",
    "Use a pseudonymous code (letters, digits, - or _), never a name or e-mail.",
    code="client_code",
)


class Study(models.Model):
    class Kind(models.TextChoices):
        SURVEY = "survey", "One-off survey"
        CHECKIN = "checkin", "Per-session check-in"
        BOTH = "both", "Survey and per-session check-ins"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SURVEY)
    survey_instruments = models.JSONField(default=list, help_text="Instrument ids, in page order")
    checkin_instruments = models.JSONField(default=list)
    invitation_days = models.PositiveIntegerField(default=30)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.title


class Site(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sites")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    languages = models.JSONField(
        default=list, help_text="Language codes offered to participants, e.g. ['he', 'en']"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="site_code_unique_in_study")]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.code}"


class ConsentVersion(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="consent_versions")
    version = models.PositiveIntegerField()
    language = models.CharField(max_length=8)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "version", "language"], name="consent_version_unique")
        ]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.study.slug} consent v{self.version} ({self.language})"


class Client(models.Model):
    """An enrolled participant, known only by a pseudonymous code."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="clients")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="clients")
    code = models.CharField(
        max_length=32,
        validators=[validate_client_code],
        help_text="Pseudonymous code (letters, digits, - or _); never a name or record number",
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="clients"
    )
    language = models.CharField(max_length=8, default="en")
    enrolled_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="client_code_unique_in_study")]

    def __str__(self) -> str:
        return self.code


class Invitation(models.Model):
    class Kind(models.TextChoices):
        SURVEY = "survey", "One-off survey"
        CHECKIN = "checkin", "Session check-ins"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="invitations")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="invitations")
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    single_use = models.BooleanField(default=True)
    wave = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    @classmethod
    def issue(
        cls,
        *,
        study: Study,
        site: Site,
        kind: str,
        client: Client | None = None,
        days: int | None = None,
        single_use: bool | None = None,
        created_by: object = None,
    ) -> tuple[Invitation, str]:
        """Create an invitation and return it with its plain token (shown once, never stored)."""
        token = new_token()
        lifetime = days if days is not None else study.invitation_days
        inv = cls.objects.create(
            study=study,
            site=site,
            client=client,
            kind=kind,
            token_hash=hash_token(token),
            single_use=(kind == cls.Kind.SURVEY) if single_use is None else single_use,
            expires_at=timezone.now() + timedelta(days=lifetime) if lifetime else None,
            created_by=created_by,
        )
        return inv, token

    def problem(self) -> str | None:
        """Why this invitation cannot be used now, or None if it can."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        if self.single_use and self.used_at is not None:
            return "used"
        if self.client is not None and self.client.withdrawn_at is not None:
            return "withdrawn"
        return None
