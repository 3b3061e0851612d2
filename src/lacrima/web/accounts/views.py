"""Staff sign-in beyond the password: the second factor (TOTP with recovery codes), password change and
reset (Django's views, audited), and the lockout answer.

After the password step (Django's LoginView, throttled by django-axes) the session is signed in but not
verified; lacrima.web.security.SecondFactorMiddleware sends it here until the account has passed its
second factor: enrolment (QR code, one code to confirm, ten recovery codes shown once) when it has none,
else a code from the authenticator app or one recovery code.
"""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import django_otp
from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from lacrima.web.accounts.models import StaffSecurity
from lacrima.web.audit.log import record

RECOVERY_CODES = 10


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
        help_text="The six digits from your authenticator app, or one of your recovery codes.",
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/studies/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return "/studies/"
    return target


def _qr_svg(url: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return img.to_string(encoding="unicode")


def _passed(request: HttpRequest, device: Any, how: str) -> None:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session id once the second factor is passed
    record(request, "2fa_ok", object_type="auth.user", object_id=request.user.pk, device=how)


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """Ask for a code from the account's confirmed authenticator (or a recovery code)."""
    user = request.user
    if user.is_verified():  # type: ignore[union-attr]
        return redirect(_next(request))
    totp = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
    if totp is None:
        return redirect(f"{reverse_lazy('second_factor_setup')}?{urlencode({'next': _next(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip().replace(" ", "").lower()
        device: Any = None
        if code.isdigit() and len(code) == 6:
            device = django_otp.verify_token(user, totp.persistent_id, code)
            how = "totp"
        else:
            static = StaticDevice.objects.devices_for_user(user, confirmed=True).first()
            if static is not None:
                device = django_otp.verify_token(user, static.persistent_id, code)
            how = "recovery_code"
        if device is not None:
            _passed(request, device, how)
            return redirect(_next(request))
        record(request, "2fa_failed", object_type="auth.user", object_id=user.pk, device=how)
        form.add_error("code", "That code was not accepted. Wait for the next code and try again.")
    ctx = {"form": form, "next": _next(request)}
    return render(request, "registration/second_factor.html", ctx, status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def second_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code, confirm with one code, keep the recovery codes."""
    user = request.user
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        return redirect(f"{reverse_lazy('second_factor')}?{urlencode({'next': _next(request)})}")
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip().replace(" ", "")
        if code.isdigit() and device.verify_token(code):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            StaticDevice.objects.filter(user=user).delete()
            static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
            codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
            StaticToken.objects.bulk_create([StaticToken(device=static, token=c) for c in codes])
            record(request, "2fa_enrolled", object_type="auth.user", object_id=user.pk)
            _passed(request, device, "totp")
            ctx = {"codes": codes, "next": _next(request)}
            return render(request, "registration/recovery_codes.html", ctx)
        record(request, "2fa_failed", object_type="auth.user", object_id=user.pk, device="enrolment")
        form.add_error("code", "That code did not match. Check the time on your phone and try again.")
    secret = b32encode(device.bin_key).decode()
    ctx = {
        "form": form,
        "qr": _qr_svg(device.config_url),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "next": _next(request),
    }
    return render(request, "registration/second_factor_setup.html", ctx, status=422 if form.errors else 200)


def _password_set(request: HttpRequest, user: Any, how: str) -> None:
    StaffSecurity.objects.update_or_create(
        user=user, defaults={"must_change_password": False, "password_changed_at": timezone.now()}
    )
    record(request, how, object_type="auth.user", object_id=user.pk, actor_label=user.get_username())


class LoginView(auth_views.LoginView):
    """Django's sign-in, telling the page whether demo mode is on (its accounts skip the second factor)."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "demo_mode": bool(settings.LACRIMA_DEMO)}


class PasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        _password_set(self.request, form.user, "password_change")
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        _password_set(self.request, form.user, "password_reset")
        return response


def locked_out(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' answer to a locked-out account or address: 429 with Retry-After."""
    from django.conf import settings

    minutes = max(1, round(float(settings.AXES_COOLOFF_TIME) * 60))
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
