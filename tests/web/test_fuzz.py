"""Fuzzing, bounded in time: property-based tests (hypothesis) of form and API validation, and
schemathesis against the API's own OpenAPI schema. Whatever arrives, the answer is a form error or a 4xx
with a reason, never a 500 and never a stored row that fails validation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.test import Client as HttpClient
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from lacrima.web.accounts.models import ApiToken
from lacrima.web.audit.views import TrailFilter
from lacrima.web.participate.models import Consent, Response
from lacrima.web.participate.pages import checkin_page, validate_page
from lacrima.web.studies.forms import EnrolForm, therapist_users
from lacrima.web.studies.models import ConsentVersion

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
CODE_OK = re.compile(r"[A-Za-z0-9_-]{1,32}")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(code=st.text(max_size=40))
def test_it_enrols_only_url_safe_codes_and_reaches_each_one(world, code: str) -> None:
    sites = world.study.sites.all()
    data = {"code": code, "site": world.site_il.pk, "language": "he"}
    form = EnrolForm(data, study=world.study, sites=sites, therapists=therapist_users(world.study))
    valid = form.is_valid()
    wanted = code.strip()
    assert valid == (bool(CODE_OK.fullmatch(wanted)) and wanted not in ("C001", "C002")), form.errors
    if valid:
        url = reverse("studies:client", args=[world.study.slug, wanted])
        assert url == f"/studies/{world.study.slug}/clients/{wanted}/"
    else:
        assert list(form.errors) == ["code"]


@FUZZ
@given(
    post=st.dictionaries(
        st.sampled_from(["cried", "chk_02", "chk_05", "chk_07", "chk_09", "x"]), st.text(max_size=6)
    )
)
def test_it_validates_any_checkin_page_post_without_crashing(post: dict[str, str]) -> None:
    page = checkin_page(("session_checkin",))
    result = validate_page(page, post, "en", {})
    items = {it.column: it for it in page.items}
    if "x" in post:
        assert result.form_errors
    for column, value in result.cleaned.items():
        if value is not None:
            codes = items[column].allowed_codes()
            assert codes is None or value in codes or isinstance(value, list)


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["action", "actor", "object_type", "object_id", "since", "until"]),
        st.text(max_size=20),
    )
)
def test_it_filters_the_trail_on_any_query_without_crashing(query: dict[str, str]) -> None:
    from lacrima.web.audit.models import AuditEvent

    form = TrailFilter(query)
    if form.is_valid():
        list(form.apply(AuditEvent.objects.all())[:5])
    else:
        assert form.errors


@pytest.fixture(autouse=True)
def _no_rate_limits(settings) -> None:
    """Fuzzing sends many requests from one address and token in a second; the limits are tested in
    test_security_headers.py, not here."""
    settings.LACRIMA_RATE_LIMITS = {key: (10**6, 60) for key in settings.LACRIMA_RATE_LIMITS}


@pytest.fixture
def consented_token(world) -> str:
    inv, token = world.invite(kind="checkin", client=world.client)
    version = ConsentVersion.objects.filter(study=world.study, language="he").first()
    Consent.objects.create(invitation=inv, client=world.client, version=version, language="he", agreed=True)
    return token


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "session": st.integers(-5, 600) | st.text(max_size=5) | st.none(),
            "idempotency_key": st.text(max_size=70),
            "answers": st.dictionaries(
                st.sampled_from(["cried", "chk_02", "chk_05", "wai_01", ""]), json_values
            ),
            "language": st.text(max_size=12) | st.sampled_from(["en", "he", "it"]) | st.none(),
        },
    )
)
def test_it_answers_any_checkin_body_with_a_reason_not_a_500(
    world, consented_token: str, body: dict[str, Any]
) -> None:
    r = HttpClient().post(
        "/api/checkins", json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {consented_token}",
    )  # fmt: skip
    assert r.status_code in (200, 201, 409, 422), (r.status_code, body)
    if r.status_code in (200, 201):
        saved = Response.objects.get(pk=r.json()["id"])
        assert saved.language in dict(django_settings.LANGUAGES) and 1 <= saved.session <= 500


@pytest.fixture
def api_schema(world):
    """The schema, served by the real WSGI application. As Django's test client does, requests do not
    close the database connection at their end (it holds the test's transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    from lacrima.web.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_it_never_answers_500_to_what_the_schema_allows(case, world, consented_token: str) -> None:
    """Schemathesis drives every operation of /api/openapi.json with the right kind of credential."""
    if "checkins" in case.path:
        token = consented_token
    else:
        token = ApiToken.issue(world.admin)[1]
        case.path_parameters = {**(case.path_parameters or {}), "slug": world.study.slug}
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error])
