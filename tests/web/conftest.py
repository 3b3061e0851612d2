"""Personas for the web tests: a study admin, a site researcher, the treating therapist, another therapist,
an outsider, and participants who hold invitation tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient

from lacrima.web.accounts.models import Membership
from lacrima.web.studies.models import Client, ConsentVersion, Invitation, Site, Study


def verified_login(user: User, client: HttpClient | None = None) -> HttpClient:
    """``force_login`` plus a passed second factor: the session holds a confirmed TOTP device's id, as
    after a real sign-in (tests/web/test_accounts.py signs in through the real pages)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    c = client or HttpClient()
    c.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test", confirmed=True
    )
    session = c.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return c


@dataclass
class World:
    study: Study
    site_it: Site
    site_il: Site
    admin: User
    researcher: User
    therapist: User
    other_therapist: User
    outsider: User
    client: Client
    other_client: Client

    def login(self, user: User, client: HttpClient | None = None) -> HttpClient:
        """A client signed in as ``user`` with the second factor passed (see ``verified_login``)."""
        return verified_login(user, client)

    def invite(
        self,
        kind: str = "survey",
        site: Site | None = None,
        client: Client | None = None,
        days: int | None = None,
    ) -> tuple[Invitation, str]:
        return Invitation.issue(
            study=self.study, site=site or self.site_il, kind=kind, client=client, days=days
        )


@pytest.fixture
def world(db: None) -> World:
    study = Study.objects.create(
        slug="cry-2026",
        title="Crying in therapy 2026",
        kind=Study.Kind.BOTH,
        survey_instruments=["crying_in_therapy", "change"],
        checkin_instruments=["session_checkin"],
    )
    site_it = Site.objects.create(study=study, code="roma", name="Roma", country="IT", languages=["it", "en"])
    site_il = Site.objects.create(
        study=study, code="tlv", name="Tel Aviv", country="IL", languages=["he", "en"]
    )
    for lang, body in [("en", "You are invited..."), ("it", "Sei invitato/a..."), ("he", "הנך מוזמן/ת...")]:
        ConsentVersion.objects.create(study=study, version=1, language=lang, text=body)
    names = ("admin", "researcher", "therapist", "other_therapist", "outsider")
    users = {n: User.objects.create_user(n, password="not-used-here") for n in names}
    Membership.objects.create(user=users["admin"], study=study, role=Membership.Role.STUDY_ADMIN)
    Membership.objects.create(
        user=users["researcher"], study=study, site=site_il, role=Membership.Role.SITE_RESEARCHER
    )
    Membership.objects.create(
        user=users["therapist"], study=study, site=site_il, role=Membership.Role.THERAPIST
    )
    Membership.objects.create(
        user=users["other_therapist"], study=study, site=site_il, role=Membership.Role.THERAPIST
    )
    client = Client.objects.create(
        study=study, site=site_il, code="C001", therapist=users["therapist"], language="he"
    )
    other = Client.objects.create(
        study=study, site=site_il, code="C002", therapist=users["other_therapist"], language="he"
    )
    return World(
        study,
        site_it,
        site_il,
        users["admin"],
        users["researcher"],
        users["therapist"],
        users["other_therapist"],
        users["outsider"],
        client,
        other,
    )


@pytest.fixture(autouse=True, scope="session")
def _flush_past_the_audit_triggers():
    """Tests that commit (live_server, transaction=True) end with Django's flush, which empties every
    table; the audit table's triggers refuse that, so they are lifted for the flush alone."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from lacrima.web.audit import triggers

    original = BaseDatabaseOperations.execute_sql_flush

    def flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        triggers.remove(self.connection)
        try:
            original(self, sql_list)
        finally:
            triggers.install(self.connection)

    BaseDatabaseOperations.execute_sql_flush = flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]
