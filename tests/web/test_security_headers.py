"""Pages and logs (issue 12): a Content-Security-Policy without inline script or style on every page,
``Cache-Control: no-store`` on every page and export, the API docs from packaged files (no CDN), rate
limits answered 429 with Retry-After, and tokens kept out of the logs. Each test failed on the main branch
before issue 12 (no CSP header, no no-store, Swagger UI from a CDN, no limits, tokens in the log)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from django.test import Client as HttpClient

from clinic_support import queued_report
from lacrima.web.accounts.models import ApiToken
from lacrima.web.participate.models import Consent, Response
from lacrima.web.redact import REDACTED, redact
from lacrima.web.security import hit
from lacrima.web.studies.models import ConsentVersion

pytestmark = pytest.mark.django_db

WEB = Path(__file__).resolve().parents[2] / "src" / "lacrima" / "web"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style|\sstyle=", re.I)
HANDLER_ATTR = re.compile(r"\son[a-z]+\s*=", re.I)


def _policy(r) -> dict[str, str]:
    header = r["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split("; ")}


def _consented_checkin(world) -> str:
    inv, token = world.invite(kind="checkin", client=world.client)
    version = ConsentVersion.objects.filter(study=world.study, language="he").first()
    Consent.objects.create(invitation=inv, client=world.client, version=version, language="he", agreed=True)
    return token


def test_it_has_no_inline_script_style_or_handlers_in_any_template() -> None:
    offenders = []
    for path in sorted(WEB.rglob("*.html")):
        text = path.read_text()
        for rx in (INLINE_SCRIPT, INLINE_STYLE, HANDLER_ATTR):
            offenders += [f"{path.relative_to(WEB)}: {m.group(0)}" for m in rx.finditer(text)]
    assert offenders == []


def test_it_sends_a_strict_policy_and_no_store_on_staff_and_participant_pages(world) -> None:
    token = _consented_checkin(world)
    _, survey_token = world.invite()
    staff = world.login(world.admin)
    pages = [
        (HttpClient(), "/accounts/login/"),
        (HttpClient(), "/accounts/password_reset/"),
        (staff, "/studies/"),
        (staff, "/studies/cry-2026/"),
        (staff, f"/studies/cry-2026/clients/{world.client.code}/"),
        (staff, "/studies/cry-2026/clients/new/"),
        (staff, "/accounts/password_change/"),
        (staff, "/admin/"),
        (HttpClient(), f"/p/{survey_token}/"),
        (HttpClient(), f"/p/{token}/checkin/"),
    ]
    for client, url in pages:
        r = client.get(url, follow=True)
        assert r.status_code == 200, url
        policy = _policy(r)
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", url
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'", url
        assert "unsafe-inline" not in r["Content-Security-Policy"], url
        assert "no-store" in r["Cache-Control"], url
        html = r.content.decode()
        assert not INLINE_SCRIPT.search(html) and not HANDLER_ATTR.search(html), url
        if not url.startswith("/admin/"):  # the admin's own templates are Django's
            assert not INLINE_STYLE.search(html), url


def test_it_sends_no_store_on_every_export_and_api_answer(world) -> None:
    staff = world.login(world.admin)
    for url in ("/studies/cry-2026/export/sessions.csv", "/studies/cry-2026/export/respondents.parquet"):
        r = staff.get(url)
        assert r.status_code == 200 and "no-store" in r["Cache-Control"], url
    _, api_token = ApiToken.issue(world.admin)
    r = HttpClient().get("/api/studies/cry-2026/export/sessions", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    body = {"session": 1, "idempotency_key": "k-0000001", "answers": {"cried": 0, "chk_07": 5, "chk_08": 5}}
    r = HttpClient().post(
        "/api/checkins", json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {_consented_checkin(world)}",
    )  # fmt: skip
    assert r.status_code == 201 and "no-store" in r["Cache-Control"]


def test_it_lets_the_report_keep_only_its_own_inline_css(world) -> None:
    import lacrima as lc

    sim = lc.simulate_study(seed=4).data.head(12)
    items = [c for c in sim.columns if c.startswith(("cry_", "chg_")) or c == "cried_in_therapy"]
    for _, row in sim.iterrows():
        inv, _ = world.invite(site=world.site_il)
        answers = {c: (None if pd.isna(row[c]) else int(row[c])) for c in items}
        Response.objects.create(
            study=world.study, site=world.site_il, invitation=inv, kind="survey", language="he",
            answers=answers, completed_at="2026-11-01T10:00:00Z",
        )  # fmt: skip
    r = queued_report(world)  # the report page served from the finished queued run
    css = re.search(rb"<style[^>]*>(.*?)</style>", r.content, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css).digest()).decode()
    policy = _policy(r)
    assert policy["style-src"] == f"'sha256-{digest}'"
    assert policy["script-src"] == "'self'" and "no-store" in r["Cache-Control"]
    assert not INLINE_SCRIPT.search(r.content.decode())


def test_it_serves_the_api_docs_from_packaged_files() -> None:
    c = HttpClient()
    r = c.get("/api/docs")
    assert r.status_code == 200
    html = r.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    assert "cdn" not in html.lower() and "https://" not in html
    for src in sources:
        asset = c.get(src)
        body = b"".join(asset.streaming_content) if asset.streaming else asset.content
        assert asset.status_code == 200 and len(body) > 100, src
    assert not INLINE_SCRIPT.search(html)


def test_it_counts_requests_in_shared_fixed_windows() -> None:
    rule = [("test:k", 2, 60)]
    assert hit(rule, now=120.0) is None
    assert hit(rule, now=130.0) is None
    assert hit(rule, now=150.0) == 30  # over the limit: wait until the window ends at 180
    assert hit(rule, now=180.0) is None  # a new window


def test_it_answers_429_with_retry_after_per_participant_token(world, settings) -> None:
    settings.LACRIMA_RATE_LIMITS = {**settings.LACRIMA_RATE_LIMITS, "participant:token": (3, 60)}
    _, token = world.invite()
    _, other = world.invite()
    c = HttpClient()
    statuses = [c.get(f"/p/{token}/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = c.get(f"/p/{token}/consent/")
    assert r.status_code == 429 and 1 <= int(r["Retry-After"]) <= 60
    assert c.get(f"/p/{other}/").status_code == 200  # another token from the same address


def test_it_answers_429_per_address_on_participant_pages(world, settings) -> None:
    settings.LACRIMA_RATE_LIMITS = {**settings.LACRIMA_RATE_LIMITS, "participant:address": (5, 60)}
    c = HttpClient()
    statuses = [c.get(f"/p/guess-{i:04d}/").status_code for i in range(6)]
    assert statuses == [404] * 5 + [429]
    assert HttpClient(REMOTE_ADDR="10.0.0.8").get("/p/guess-0007/").status_code == 404


def test_it_answers_429_as_json_per_api_token_and_address(world, settings) -> None:
    settings.LACRIMA_RATE_LIMITS = {
        **settings.LACRIMA_RATE_LIMITS, "api:token": (2, 60), "api:address": (4, 60)
    }  # fmt: skip
    token = _consented_checkin(world)

    def post(key: str, tok: str = token, addr: str = "127.0.0.1"):
        body = {"session": 1, "idempotency_key": key, "answers": {"cried": 0, "chk_07": 5, "chk_08": 5}}
        return HttpClient(REMOTE_ADDR=addr).post(
            "/api/checkins", json.dumps(body), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {tok}",
        )  # fmt: skip

    assert [post("key-00001").status_code for _ in range(3)] == [201, 200, 429]
    r = post("key-00001")
    assert r.json()["detail"].startswith("Too many requests") and int(r["Retry-After"]) >= 1
    assert post("key-00002", tok="other-token", addr="127.0.0.1").status_code == 429  # address: 5th
    assert post("key-00003", tok="other-token", addr="10.0.0.9").status_code == 401
    assert Response.objects.filter(kind="checkin").count() == 1


def test_it_redacts_participant_and_reset_tokens_from_text() -> None:
    line = (
        '127.0.0.1 - - "GET /p/AbC-123_x/checkin/?lang=he HTTP/1.1" 200 "http://h/p/AbC-123_x/consent/" '
        '"GET /accounts/reset/MQ/cz9abc-0123/ HTTP/1.1" Authorization: Bearer lcr_secret'
    )
    clean = redact(line)
    assert "AbC-123_x" not in clean and "cz9abc-0123" not in clean and "lcr_secret" not in clean
    assert f"/p/{REDACTED}/checkin/?lang=he" in clean and f"/accounts/reset/{REDACTED}/" in clean


def test_it_keeps_tokens_out_of_gunicorn_access_log(tmp_path) -> None:
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    log = tmp_path / "access.log"
    cfg = Config()
    cfg.set("accesslog", str(log))
    cfg.set("access_log_format", '%(h)s "%(r)s" %(s)s "%(f)s" %(U)s %(q)s %({authorization}i)s')
    logger = Logger(cfg)

    class Resp:
        status = "200 OK"
        sent = 42
        headers = [("Content-Type", "text/html")]

    class Req:
        headers = [("AUTHORIZATION", "Bearer tok-in-header")]

    environ = {
        "REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": "/p/SeCrEt-Token_1/checkin/",
        "PATH_INFO": "/p/SeCrEt-Token_1/checkin/", "QUERY_STRING": "lang=he",
        "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_REFERER": "http://127.0.0.1/p/SeCrEt-Token_1/",
    }  # fmt: skip
    logger.access(Resp(), Req(), environ, timedelta(milliseconds=3))
    for handler in logging.getLogger("gunicorn.access").handlers:
        handler.flush()
    text = log.read_text()
    assert "/p/[redacted]/checkin/" in text
    assert "SeCrEt-Token_1" not in text and "tok-in-header" not in text


def test_it_keeps_tokens_out_of_django_request_warnings(world, caplog) -> None:
    # django.request does not propagate (its own stderr handler, settings.LOGGING): listen on it directly
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="django.request"):
            assert HttpClient().get("/p/NotAToken-xyz/").status_code == 404
    finally:
        request_logger.removeHandler(caplog.handler)
    assert caplog.records, "Django logs a warning for a 404"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "NotAToken-xyz" not in text and "/p/[redacted]/" in text


def test_it_documents_only_settings_and_urls_that_exist() -> None:
    from django.urls import resolve

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "security.md").read_text()
    source = (WEB / "settings.py").read_text() + (WEB / "deploy.py").read_text()
    named = set(re.findall(r"\bLACRIMA_[A-Z_]+\b", doc))
    assert {"LACRIMA_SESSION_IDLE_MINUTES", "LACRIMA_RATE_API_TOKEN", "LACRIMA_DEMO"} <= named
    assert sorted(n for n in named if f'"{n}"' not in source) == []
    paths = set(re.findall(r"`(/(?:accounts|api|admin)/[^`\s<]*)`", doc)) - {"/api/..."}
    assert "/accounts/2fa/setup/" in paths
    for path in paths:
        resolve(path)


def test_it_keeps_tokens_out_of_a_running_gunicorns_access_log(tmp_path) -> None:
    """The finding as it was made: a real gunicorn with an access log, a participant's link requested."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LACRIMA_", "DJANGO_", "DATABASE_URL"))}
    env.update(LACRIMA_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="lacrima.web.settings")
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v0"], env=env, check=True, timeout=300, cwd=tmp_path
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "access.log"
    cmd = [sys.executable, "-m", "gunicorn", "lacrima.web.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    cmd += ["--workers", "1", "--access-logfile", str(log), "--error-logfile", str(tmp_path / "error.log")]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path)
    token = "Secret-Link-Token_0123456789"
    try:
        status = None
        for _ in range(240):  # up to two minutes for the worker to boot on a busy machine
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/p/{token}/checkin/", timeout=5)
            except urllib.error.HTTPError as exc:
                status = exc.code
                break
            except OSError:
                time.sleep(0.5)
        assert status == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "GET /p/[redacted]/checkin/ HTTP/1.1" in text
    assert token not in text and token not in (tmp_path / "error.log").read_text()
