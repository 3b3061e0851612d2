"""A clinic's own guidance files and switched-off prompts in the web app: a bad file (unknown key, missing
citation) is refused at start-up with every problem named, and never turns a client page into a 500."""

from __future__ import annotations

import io
import json
from html import unescape

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from clinic_support import rupture_course
from lacrima.web.clinic.checks import guidance_files
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.clinic.models import ClinicSettings

pytestmark = pytest.mark.django_db

URL = "/clinic/cry-2026/clients/C001/"

OWN = {
    "id": "our-clinic",
    "version": "2026.1",
    "title": "Our clinic's prompts",
    "prompts": [
        {
            "id": "our-rupture-check",
            "version": "1",
            "title": {"en": "Our rupture check"},
            "text": {"en": "Our supervisors suggest asking about the last session. Derived: not tested."},
            "when": {"alerts": ["alliance-rupture"]},
            "evidence": "derived",
            "evidence_note": "Our clinic's practice.",
            "citations": ["Our clinic's supervision handbook, 2026 edition, section 4."],
        }
    ],
}


def _file(tmp_path, data, name="own.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def _bad(tmp_path) -> str:
    bad = json.loads(json.dumps(OWN))
    bad["prompts"][0]["colour"] = "red"  # unknown key
    del bad["prompts"][0]["citations"]  # missing citation
    return _file(tmp_path, bad, "bad.yaml")


def _guidance(clinic) -> str:
    r = clinic.world.login(clinic.world.therapist).get(URL)
    assert r.status_code == 200
    html = r.content.decode()
    return html.split('<section id="guidance">')[1].split("</section>")[0] if 'id="guidance"' in html else ""


def test_it_shows_a_clinics_own_prompt_and_hides_switched_off_ones(clinic, tmp_path, settings) -> None:
    settings.LACRIMA_GUIDANCE_FILES = [_file(tmp_path, OWN)]
    rupture_course(clinic.world.client)
    refresh_client(clinic.world.client, notify=False)
    section = _guidance(clinic)
    assert 'data-guidance="our-rupture-check"' in section and "supervision handbook" in section
    assert 'data-guidance="alliance-rupture-repair"' in section
    ClinicSettings.objects.create(study=clinic.world.study, guidance_disabled=["alliance-rupture-repair"])
    section = _guidance(clinic)
    assert 'data-guidance="our-rupture-check"' in section
    assert 'data-guidance="alliance-rupture-repair"' not in section


def test_it_refuses_a_bad_guidance_file_at_start_up_naming_every_problem(tmp_path, settings) -> None:
    settings.LACRIMA_GUIDANCE_FILES = [_bad(tmp_path)]
    (error,) = guidance_files()
    assert error.id == "lacrima.E001" and "bad.yaml" in error.msg
    assert "'colour' was unexpected" in error.msg and "'citations' is a required property" in error.msg
    settings.LACRIMA_GUIDANCE_FILES = [_file(tmp_path, OWN)]
    assert guidance_files() == []
    with pytest.raises(CommandError, match="'citations' is a required property"):
        call_command("check_guidance", _bad(tmp_path))
    out = io.StringIO()
    call_command("check_guidance", _file(tmp_path, OWN), stdout=out)
    assert out.getvalue().startswith("ok: 12 prompts")


def test_it_says_why_no_prompts_are_shown_instead_of_failing(clinic, tmp_path, settings) -> None:
    rupture_course(clinic.world.client)
    settings.LACRIMA_GUIDANCE_FILES = [_bad(tmp_path)]  # e.g. the file was edited after the server started
    assert refresh_client(clinic.world.client, notify=False)  # the alerts are still computed and stored
    r = clinic.world.login(clinic.world.therapist).get(URL)
    html = unescape(r.content.decode())
    assert r.status_code == 200 and 'id="guidance-problem"' in html
    assert "'citations' is a required property" in html and 'data-alert="alliance-rupture"' in html
    settings.LACRIMA_GUIDANCE_FILES = []
    ClinicSettings.objects.create(study=clinic.world.study, guidance_disabled=["no-such-prompt"])
    html = clinic.world.login(clinic.world.therapist).get(URL).content.decode()
    assert 'id="guidance-problem"' in html and "no-such-prompt" in html
