"""Clinic personas on top of the web tests' world: the treating therapist (``world.therapist``), a colleague
at the same site (``world.other_therapist``), a therapist at another site, the site researcher, the study
admin, an anonymous visitor and the client holding their check-in token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient

from lacrima.web.accounts.models import Membership
from lacrima.web.participate.models import Consent
from lacrima.web.studies.models import ConsentVersion, Invitation


@dataclass
class Clinic:
    world: Any
    elsewhere: User
    token: str
    invitation: Invitation

    def personas(self) -> dict[str, HttpClient]:
        w = self.world
        out = {
            "treating": w.login(w.therapist),
            "colleague": w.login(w.other_therapist),
            "elsewhere": w.login(self.elsewhere),
            "researcher": w.login(w.researcher),
            "admin": w.login(w.admin),
            "anonymous": HttpClient(),
        }
        return out


@pytest.fixture
def clinic(world) -> Clinic:
    elsewhere = User.objects.create_user("elsewhere", password="not-used-here", email="e@example.org")
    Membership.objects.create(
        user=elsewhere, study=world.study, site=world.site_it, role=Membership.Role.THERAPIST
    )
    world.therapist.email = "therapist@example.org"
    world.therapist.save()
    inv, token = Invitation.issue(
        study=world.study, site=world.site_il, kind="checkin", client=world.client, days=0, single_use=False
    )
    version = ConsentVersion.objects.get(study=world.study, language="he")
    Consent.objects.create(invitation=inv, client=world.client, version=version, language="he", agreed=True)
    return Clinic(world, elsewhere, token, inv)
