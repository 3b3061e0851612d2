"""One access helper per rule (lacrima.web.access), per persona, for the page and API exports, the report
and enrolment: rows filtered in the database query, every denial audit-logged."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

import lacrima.web
from lacrima.web.accounts.models import ApiToken
from lacrima.web.audit.models import AuditEvent
from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Client

pytestmark = pytest.mark.django_db


def _response(world, client: Client | None, site, kind: str, session: int | None = None) -> None:
    inv, _ = world.invite(kind=kind, client=client, site=site)
    Response.objects.create(
        study=world.study,
        site=site,
        client=client,
        invitation=inv,
        kind=kind,
        session=session,
        language="en",
        answers={"cried": 1, "cry_01": 3} if kind == "checkin" else {"cried_in_therapy": 1, "chg_01": 4},
        completed_at="2026-11-01T10:00:00Z",
    )


@pytest.fixture
def two_sites(world):
    """Check-ins and surveys at Tel Aviv (the researcher's site) and at Roma (not theirs)."""
    roma = Client.objects.create(study=world.study, site=world.site_it, code="R001", language="it")
    _response(world, world.client, world.site_il, "checkin", 1)
    _response(world, roma, world.site_it, "checkin", 1)
    for _ in range(2):
        _response(world, None, world.site_il, "survey")
    _response(world, None, world.site_it, "survey")
    return world


def _api(user, table: str = "sessions") -> tuple[int, object]:
    _, token = ApiToken.issue(user)
    r = HttpClient().get(f"/api/studies/cry-2026/export/{table}", HTTP_AUTHORIZATION=f"Bearer {token}")
    return r.status_code, r.json()


def _denied(world, user, purpose: str) -> bool:
    return AuditEvent.objects.filter(
        action="denied", actor=user, study_id=world.study.pk, detail__purpose=purpose
    ).exists()


def test_it_gives_the_api_export_to_each_persona_by_the_same_rule_as_the_page(two_sites) -> None:
    world = two_sites
    status, rows = _api(world.admin)
    assert status == 200 and sorted(r["client_id"] for r in rows) == ["C001", "R001"]
    status, rows = _api(world.researcher)
    assert status == 200 and [r["client_id"] for r in rows] == ["C001"]
    status, rows = _api(world.researcher, "respondents")
    assert status == 200 and {r["site"] for r in rows} == {"tlv"} and len(rows) == 2
    for user in (world.therapist, world.other_therapist):
        assert _api(user)[0] == 404
        assert _denied(world, user, "export")
    assert _api(world.outsider)[0] == 404
    assert AuditEvent.objects.filter(action="denied", actor=world.outsider).exists()
    page = world.login(world.researcher).get("/studies/cry-2026/export/sessions.csv")
    assert list(pd.read_csv(io.BytesIO(page.content))["client_id"]) == ["C001"]


def test_it_audit_logs_export_report_and_enrol_denied_to_a_therapist(world) -> None:
    therapist = world.login(world.therapist)
    for url, purpose in [
        ("/studies/cry-2026/export/sessions.csv", "export"),
        ("/studies/cry-2026/report/", "report"),
        ("/studies/cry-2026/clients/new/", "enrol"),
        ("/studies/cry-2026/invitations/new/", "enrol"),
    ]:
        before = AuditEvent.objects.filter(action="denied", actor=world.therapist).count()
        assert therapist.get(url).status_code == 404, url
        assert AuditEvent.objects.filter(action="denied", actor=world.therapist).count() == before + 1, url
        assert _denied(world, world.therapist, purpose), url


def test_it_limits_the_report_to_each_personas_sites(two_sites) -> None:
    world = two_sites
    from lacrima.web.clinic.models import BatteryRun
    from lacrima.web.clinic.tasks import run_battery

    for user, rows in [(world.admin, 3), (world.researcher, 2)]:
        c = world.login(user)
        assert c.get("/studies/cry-2026/report/").status_code == 200  # the page that queues the battery
        assert AuditEvent.objects.filter(action="read", actor=user, detail__view="report").exists()
        assert c.post("/clinic/cry-2026/battery/").status_code == 302
        run = BatteryRun.objects.filter(requested_by=user).get()
        assert run_battery.call(run.pk) == "failed"  # too few surveys for the battery: said, not crashed
        run.refresh_from_db()
        assert f"the study has {rows} completed surveys" in run.message  # only the user's sites' rows
    for user in (world.therapist, world.other_therapist, world.outsider):
        assert world.login(user).get("/studies/cry-2026/report/").status_code == 404
    assert _denied(world, world.therapist, "report") and _denied(world, world.other_therapist, "report")
    assert AuditEvent.objects.filter(action="denied", actor=world.outsider).exists()


def test_it_filters_a_site_researchers_rows_in_the_database_query(two_sites) -> None:
    world = two_sites
    c = world.login(world.researcher)
    with CaptureQueriesContext(connection) as queries:
        assert c.get("/studies/cry-2026/export/respondents.csv").status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "participate_response"' in q["sql"]]
    assert reads, "the export read no responses"
    assert all(re.search(r'"participate_response"\."site_id" IN', sql) for sql in reads), reads


def test_it_keeps_each_access_rule_in_one_place() -> None:
    """The site-researcher rule lives in web/access.py and compares Membership.Role, never a raw string."""
    root = Path(lacrima.web.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts or path.name in ("access.py",) or path.parent.name == "accounts":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"role\w*\s*(==|!=|=)\s*[\"']", text) or "SITE_RESEARCHER" in text:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_it_neutralises_formulas_in_the_csv_export(world) -> None:
    inv, _ = world.invite(kind="checkin", client=world.client)
    Response.objects.create(
        study=world.study,
        site=world.site_il,
        client=world.client,
        invitation=inv,
        kind="checkin",
        session=1,
        language="en",
        answers={"cried": 1, "note": '=HYPERLINK("http://evil.example","x")', "other": "+cmd|' /C calc'!A0"},
        completed_at="2026-11-01T10:00:00Z",
    )
    r = world.login(world.admin).get("/studies/cry-2026/export/sessions.csv")
    text = r.content.decode()
    assert "'=HYPERLINK(" in text and "'+cmd|' /C calc'!A0" in text
    assert not re.search(r"(^|,)[=+@]", text, flags=re.M)
    frame = pd.read_csv(io.BytesIO(r.content))
    assert frame["cried"].tolist() == [1]
