"""docs/clinic.md stays true: its settings, commands, URLs and API example match the app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import get_commands
from django.test import Client as HttpClient
from django.urls import Resolver404, resolve

from lacrima.web.participate.models import Consent
from lacrima.web.studies.models import ConsentVersion

DOC = (Path(__file__).resolve().parents[2] / "docs" / "clinic.md").read_text(encoding="utf-8")
SETTINGS = (Path(__file__).resolve().parents[2] / "src" / "lacrima" / "web" / "settings.py").read_text()


# What the guides write in place of a path's variable parts, and a value each URL pattern accepts.
_PLACEHOLDERS = {"<token>": "abcdefgh", "<study>": "demo-clinic", "<code>": "D001", "<id>": "1", "<run>": "1"}


def _unresolved(paths: set[str]) -> list[str]:
    """The documented paths that no view serves, with their placeholders filled in."""
    broken = []
    for path in sorted(paths):
        concrete = path
        for placeholder, value in _PLACEHOLDERS.items():
            concrete = concrete.replace(placeholder, value)
        try:
            resolve(concrete)
        except Resolver404:
            broken.append(path)
    return broken


def test_it_documents_only_settings_that_exist() -> None:
    names = set(re.findall(r"\bLACRIMA_[A-Z_]+\b", DOC))
    assert names, "the guide names no LACRIMA_ settings"
    missing = sorted(n for n in names if f'"{n}"' not in SETTINGS)
    assert missing == [], f"docs/clinic.md names settings that settings.py does not read: {missing}"


def test_it_documents_only_management_commands_that_exist() -> None:
    used = set(re.findall(r"lacrima manage (?:--data \S+ )?([a-z_]+)", DOC))
    assert {"createsuperuser", "create_api_token", "shell", "migrate"} <= used
    unknown = sorted(used - set(get_commands()))
    assert unknown == [], f"docs/clinic.md runs management commands that do not exist: {unknown}"


def test_it_documents_only_urls_that_resolve() -> None:
    paths = set(re.findall(r"`(/(?:studies|accounts|api|admin|p)/[^`\s]*)`", DOC))
    assert "/studies/new/" in paths and "/api/docs" in paths
    broken = _unresolved(paths - {"/p/"})  # "/p/" alone is the link prefix named in the API section
    assert broken == [], f"docs/clinic.md shows paths that no view serves: {broken}"


def test_it_keeps_clinical_data_out_of_the_admin() -> None:
    ours = sorted(m._meta.label for m in admin.site._registry if m.__module__.startswith("lacrima."))
    expected = ["accounts.ApiToken", "accounts.Membership", "audit.AuditEvent"]
    assert ours == [*expected, "studies.ConsentVersion", "studies.Study"]
    assert "never clients,\n  consents or responses" in DOC


@pytest.mark.django_db
def test_it_accepts_the_check_in_example_and_replays_it(world) -> None:
    inv, token = world.invite(kind="checkin", client=world.client)
    version = ConsentVersion.objects.filter(study=world.study, language="he").first()
    Consent.objects.create(invitation=inv, client=world.client, version=version, language="he", agreed=True)
    match = re.search(r"-d '(\{.*?\})'", DOC, re.S)
    assert match is not None, "the check-in curl example is missing"
    body = json.loads(match.group(1))

    def post() -> tuple[int, dict[str, object]]:
        r = HttpClient().post(
            "/api/checkins",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        return r.status_code, r.json()

    first = post()
    again = post()
    assert first[0] == 201 and first[1]["created"] is True and first[1]["session"] == 1
    assert again == (200, {**first[1], "created": False})


THERAPIST = (Path(__file__).resolve().parents[2] / "docs" / "therapist.md").read_text(encoding="utf-8")


def test_the_clinic_and_therapist_guides_show_only_clinic_urls_that_resolve() -> None:
    paths = set(re.findall(r"`(/clinic/[^`\s]*)`", THERAPIST + DOC))
    assert {"/clinic/", "/clinic/<study>/clients/<code>/", "/clinic/alerts/<id>/"} <= paths
    broken = _unresolved(paths)
    assert broken == [], f"the guides show clinic paths that no view serves: {broken}"


def test_the_therapist_guide_runs_only_commands_that_exist() -> None:
    from typer.testing import CliRunner

    from lacrima.cli import app

    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", THERAPIST, flags=re.S))
    used = set(re.findall(r"^lacrima ([a-z]+)", blocks, flags=re.M))
    assert used == {"demo", "serve"}
    for command in sorted(used):
        assert CliRunner().invoke(app, [command, "--help"]).exit_code == 0, command


def test_it_gives_the_servers_defaults_as_lacrima_serve_has_them() -> None:
    import inspect

    from lacrima.cli._app import serve

    defaults = {name: p.default for name, p in inspect.signature(serve).parameters.items()}
    for option in ("workers", "threads"):
        documented = re.search(rf"`--{option}` \(default (\d+)\)", DOC)
        assert documented is not None, option
        assert int(documented.group(1)) == defaults[option], option
