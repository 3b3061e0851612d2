"""Security middleware: response headers, rate limits, session limits and the staff second factor.

- ``ResponseHeadersMiddleware``: a Content-Security-Policy without inline script or style on every page
  (a view may allow its own inline ``<style>`` blocks by hash: :func:`allow_inline_styles`), and
  ``Cache-Control: no-store`` on every response the app makes (static files are served before it).
- ``RateLimitMiddleware``: participant pages (``/p/``), the JSON API (``/api/``) and password-reset
  requests are counted per client address and per token in fixed windows kept in the database
  (``accounts.RateBucket``), so every gunicorn worker shares the count; over the limit the answer is 429
  with ``Retry-After``.
- ``SessionTimeoutMiddleware``: a staff session ends after ``LACRIMA_SESSION_IDLE_MINUTES`` without a
  request and after ``LACRIMA_SESSION_MAX_HOURS`` in any case.
- ``SecondFactorMiddleware``: a signed-in account reaches no staff page until it has passed its second
  factor (enrolling one first if it has none), then any forced password change.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode

from lacrima.web import prepared

Handler = Callable[[HttpRequest], HttpResponseBase]

POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy_header(extra_style_sources: list[str] | None = None) -> str:
    directives = dict(POLICY)
    if extra_style_sources:
        directives["style-src"] = " ".join(extra_style_sources)
    return "; ".join(f"{k} {v}" for k, v in directives.items())


_STYLE_BLOCK = re.compile(rb"<style[^>]*>(.*?)</style>", re.S | re.I)


def allow_inline_styles(response: HttpResponse) -> HttpResponse:
    """Let this page's own inline ``<style>`` blocks through the policy by their SHA-256 hashes.

    For the self-contained HTML report, which must keep its CSS inside the file; scripts stay forbidden.
    """
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _STYLE_BLOCK.finditer(response.content)
    ]
    response["Content-Security-Policy"] = policy_header(hashes or ["'self'"])
    return response


class ResponseHeadersMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.policy = policy_header()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        add_never_cache_headers(response)
        return response


# ---------------------------------------------------------------- rate limits

_UPSERT = (
    "INSERT INTO accounts_ratebucket (key, window_start, count) VALUES {rows} "
    "ON CONFLICT (key) DO UPDATE SET count = CASE WHEN accounts_ratebucket.window_start = "
    "excluded.window_start THEN accounts_ratebucket.count + 1 ELSE 1 END, "
    "window_start = excluded.window_start RETURNING key, count, window_start"
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:40]


def hit(counters: list[tuple[str, int, int]], now: float | None = None) -> int | None:
    """Count one request against each ``(key, limit, window)``; seconds to wait if any is over, else None.

    One statement for all counters (an atomic upsert, PostgreSQL and SQLite alike; prepared on
    PostgreSQL, :mod:`lacrima.web.prepared`).
    """
    now = time.time() if now is None else now
    params: list[Any] = []
    for key, _, window in counters:
        params += [key, int(now // window * window)]
    rows = ", ".join(["(%s, %s, 1)"] * len(counters))
    counts = {k: (c, s) for k, c, s in prepared.fetch(_UPSERT.format(rows=rows), params)}
    if counts[counters[0][0]][0] == 1:
        # the first counter's window just rolled over: forget counters idle for a day
        with connection.cursor() as cur:
            cur.execute("DELETE FROM accounts_ratebucket WHERE window_start < %s", [int(now) - 86400])
    wait = None
    for key, limit, window in counters:
        count, start = counts[key]
        if count > limit:
            left = max(1, int(start + window - now + 0.999))
            wait = left if wait is None else max(wait, left)
    return wait


def _bearer(request: HttpRequest) -> str | None:
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return None


class RateLimitMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def counters(self, request: HttpRequest) -> tuple[str, list[tuple[str, int, int]]]:
        limits = settings.LACRIMA_RATE_LIMITS
        path = request.path_info
        address = request.META.get("REMOTE_ADDR") or "unknown"
        if path.startswith("/p/"):
            token = path[3:].split("/", 1)[0]
            out = [("participant:address", f"pa:{address}")]
            if token:
                out.append(("participant:token", f"pt:{_digest(token)}"))
            scope = "participant"
        elif path.startswith("/api/"):
            out = [("api:address", f"aa:{address}")]
            bearer = _bearer(request)
            if bearer:
                out.append(("api:token", f"at:{_digest(bearer)}"))
            scope = "api"
        elif path.startswith("/accounts/password_reset/") and request.method == "POST":
            out = [("reset:address", f"ra:{address}")]
            scope = "reset"
        else:
            return "", []
        return scope, [(key, *limits[name]) for name, key in out]

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        scope, counters = self.counters(request)
        if counters:
            wait = hit(counters)
            if wait is not None:
                return too_many_requests(scope, wait)
        return self.get_response(request)


def too_many_requests(scope: str, wait: int) -> HttpResponse:
    text = f"Too many requests; try again in {wait} seconds."
    response: HttpResponse
    if scope == "api":
        response = JsonResponse({"detail": text, "errors": {}}, status=429)
    else:
        response = HttpResponse(text, content_type="text/plain; charset=utf-8", status=429)
    response["Retry-After"] = str(wait)
    return response


# ---------------------------------------------------------------- sessions and the second factor

LOGIN_AT = "lacrima_login_at"
SEEN_AT = "lacrima_seen_at"
_SEEN_RESOLUTION = 60  # seconds: the idle clock is written at most once a minute


def _staff_path(path: str) -> bool:
    """Staff pages use the session; participant pages, the API (tokens) and static files do not."""
    return not path.startswith(("/p/", "/api/", "/" + settings.STATIC_URL.lstrip("/")))


class SessionTimeoutMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if _staff_path(request.path_info) and request.user.is_authenticated:
            now = time.time()
            session = request.session
            login_at = session.get(LOGIN_AT)
            seen_at = session.get(SEEN_AT)
            if login_at is None or seen_at is None:
                session[LOGIN_AT] = login_at or now
                session[SEEN_AT] = now
            elif now - login_at > settings.LACRIMA_SESSION_MAX_SECONDS:
                request.session_end_reason = "absolute"  # type: ignore[attr-defined]
                logout(request)
            elif now - seen_at > settings.LACRIMA_SESSION_IDLE_SECONDS:
                request.session_end_reason = "idle"  # type: ignore[attr-defined]
                logout(request)
            elif now - seen_at > _SEEN_RESOLUTION:
                session[SEEN_AT] = now
        return self.get_response(request)


# Pages an account may open before it has passed its second factor (and its forced password change).
OPEN_BEFORE_SECOND_FACTOR = ("/accounts/2fa/", "/accounts/logout/", "/accounts/login/")
OPEN_BEFORE_PASSWORD_CHANGE = (*OPEN_BEFORE_SECOND_FACTOR, "/accounts/password_change/")


def second_factor_exempt(user: Any) -> bool:
    """Only the demo's seeded accounts, and only while LACRIMA_DEMO=1 (refused in production)."""
    if not settings.LACRIMA_DEMO:
        return False
    from lacrima.web.accounts.models import StaffSecurity

    sec = StaffSecurity.of(user)
    return bool(sec and sec.demo_account)


class SecondFactorMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        user = request.user
        if not (_staff_path(path) and user.is_authenticated):
            return self.get_response(request)
        if not user.is_verified() and not second_factor_exempt(user):  # type: ignore[attr-defined]
            if path.startswith(OPEN_BEFORE_SECOND_FACTOR):
                return self.get_response(request)
            return redirect(f"/accounts/2fa/?{urlencode({'next': request.get_full_path()})}")
        from lacrima.web.accounts.models import StaffSecurity

        sec = StaffSecurity.of(user)
        if sec and sec.must_change_password and not path.startswith(OPEN_BEFORE_PASSWORD_CHANGE):
            return redirect("/accounts/password_change/")
        return self.get_response(request)
