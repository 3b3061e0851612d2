"""Sign-in events into the audit log: every login, logout, failed login and lockout."""

from __future__ import annotations

import time
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from lacrima.web.audit.log import record
from lacrima.web.security import LOGIN_AT, SEEN_AT


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    now = time.time()
    request.session[LOGIN_AT] = now
    request.session[SEEN_AT] = now
    record(request, "login", object_type="auth.user", object_id=user.pk, step="password")


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or user is None:
        return
    reason = getattr(request, "session_end_reason", "logout")
    record(
        request,
        "logout",
        object_type="auth.user",
        object_id=user.pk,
        actor_label=user.get_username(),
        reason=reason,
    )


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    record(request, "login_failed", object_type="auth.user", object_id=username[:64], username=username)


@receiver(user_locked_out)
def _locked_out(
    sender: Any,
    request: HttpRequest | None,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    record(
        request,
        "lockout",
        object_type="auth.user",
        object_id=(username or "")[:64],
        username=username or "",
        address=ip_address or "",
    )
