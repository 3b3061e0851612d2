"""Participant pages: no account, reached through an unguessable invitation token.

Flow: link -> language -> consent -> instrument pages (save and resume) -> thank you. Check-in links are
per client and reusable: each visit records one session's check-in, never twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from lacrima.web.access import get_invitation_for_participant
from lacrima.web.audit.log import record
from lacrima.web.clinic.tasks import queue_client_evaluation
from lacrima.web.participate.catalog import SUPPORTED, Catalog, direction, text
from lacrima.web.participate.checkins import link_for_invitation, save_checkin
from lacrima.web.participate.models import Consent, Response
from lacrima.web.participate.pages import Page, build_pages, checkin_page, validate_page, visible_items
from lacrima.web.studies.models import ConsentVersion, Invitation

LANG_NAMES = {"en": "English", "it": "Italiano", "he": "עברית"}


def _languages(inv: Invitation) -> list[str]:
    langs = [lang for lang in (inv.site.languages or []) if lang in SUPPORTED]
    return langs or ["en"]


def _language(request: HttpRequest, inv: Invitation) -> str | None:
    langs = _languages(inv)
    chosen = request.GET.get("lang") or request.session.get(f"lang:{inv.pk}")
    if chosen in langs:
        request.session[f"lang:{inv.pk}"] = chosen
        return str(chosen)
    if inv.client is not None and inv.client.language in langs:
        return inv.client.language
    if len(langs) == 1:
        return langs[0]
    return None


def _ctx(language: str, **extra: Any) -> dict[str, Any]:
    return {"lang": language, "dir": direction(language), "t": Catalog(language), **extra}


def _actor(inv: Invitation) -> str:
    return f"participant:{inv.client.code}" if inv.client else f"participant:invitation-{inv.pk}"


def _problem_page(request: HttpRequest, inv: Invitation | None, problem: str) -> HttpResponse:
    language = "en"
    if inv is not None:
        language = _language(request, inv) or _languages(inv)[0]
    ctx = _ctx(language, message=text(language, problem), title=text(language, "link_problem_title"))
    return render(request, "participate/message.html", ctx, status=410 if inv is not None else 404)


def _load(request: HttpRequest, token: str) -> tuple[Invitation | None, HttpResponse | None]:
    try:
        inv = get_invitation_for_participant(token)
    except Http404:
        return None, _problem_page(request, None, "not_found")
    problem = inv.problem()
    if problem is not None:
        return inv, _problem_page(request, inv, problem)
    return inv, None


def _consent_given(inv: Invitation) -> bool:
    qs = Consent.objects.filter(agreed=True, withdrawn_at__isnull=True)
    if inv.client is not None:
        return qs.filter(client=inv.client).exists()
    return qs.filter(invitation=inv).exists()


@require_http_methods(["GET"])
def entry(request: HttpRequest, token: str) -> HttpResponse:
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    language = _language(request, inv)
    if language is None:
        choices = [(code, LANG_NAMES.get(code, code)) for code in _languages(inv)]
        return render(request, "participate/language.html", _ctx("en", token=token, choices=choices))
    if not _consent_given(inv):
        return redirect("participate:consent", token=token)
    if inv.kind == Invitation.Kind.CHECKIN:
        return redirect("participate:checkin", token=token)
    return redirect("participate:survey", token=token)


def _consent_version(inv: Invitation, language: str) -> ConsentVersion | None:
    versions = ConsentVersion.objects.filter(study=inv.study)
    return (
        versions.filter(language=language).order_by("-version").first()
        or versions.order_by("-version").first()
    )


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, token: str) -> HttpResponse:
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    language = _language(request, inv)
    if language is None:
        return redirect("participate:entry", token=token)
    version = _consent_version(inv, language)
    if version is None:
        raise Http404("this study has no consent text yet")
    if request.method == "POST":
        agreed = request.POST.get("action") == "agree"
        with transaction.atomic():
            given = Consent.objects.create(
                invitation=inv, client=inv.client, version=version, language=language, agreed=agreed
            )
            record(
                request,
                "consent",
                given,
                study_id=inv.study_id,
                actor_label=_actor(inv),
                agreed=agreed,
                version=version.version,
            )
        if not agreed:
            ctx = _ctx(
                language, title=text(language, "declined_title"), message=text(language, "declined_body")
            )
            return render(request, "participate/message.html", ctx)
        return redirect("participate:entry", token=token)
    return render(request, "participate/consent.html", _ctx(language, token=token, version=version))


def _item_view(item: Any, language: str, answers: dict[str, Any], error: str | None) -> dict[str, Any]:
    scale = item.scale
    choices: list[tuple[str, str]] = []
    if item.options:
        choices = [
            (str(o.code), o.label.get(language) or o.label.get("en", str(o.code))) for o in item.options
        ]
    elif item.type in ("likert", "boolean") and scale is not None:
        for v in scale.values():
            label = scale.labels.get(int(v), {})
            shown = label.get(language) or label.get("en") or ""
            choices.append((f"{v:g}", f"{v:g}" + (f" \u2013 {shown}" if shown else "")))
    value = answers.get(item.column)
    is_scale = item.type == "likert" and not item.options and len(choices) >= 4 and scale is not None
    anchors = ("", "")
    if is_scale and scale is not None:
        low = scale.labels.get(int(scale.min), {})
        high = scale.labels.get(int(scale.max), {})
        anchors = (low.get(language) or low.get("en") or "", high.get(language) or high.get("en") or "")
        choices = [(v, v) for v, _ in choices]
    return {
        "column": item.column,
        "is_scale": is_scale,
        "anchors": anchors,
        "type": item.type,
        "text": item.text_in(language) or item.column,
        "choices": choices,
        "value": "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value)),
        "values": [str(v) for v in value] if isinstance(value, list) else [],
        "min": f"{scale.min:g}" if scale else "",
        "max": f"{scale.max:g}" if scale else "",
        "required": item.required,
        "error": error,
        "show_if_column": item.show_if[0] if item.show_if else "",
        "show_if_values": "|".join(str(v) for v in item.show_if[1]) if item.show_if else "",
    }


def _render_page(
    request: HttpRequest,
    token: str,
    language: str,
    pages: list[Page],
    response: Response,
    result: Any = None,
    note: str | None = None,
    status: int = 200,
) -> HttpResponse:
    page = pages[response.page]
    answers = dict(response.answers)
    if result is not None:
        answers.update({k: v for k, v in result.cleaned.items() if v is not None})
    errors = result.errors if result is not None else {}
    items = [_item_view(it, language, answers, errors.get(it.column)) for it in visible_items(page, answers)]
    if result is not None:
        # Gated items stay on the page when the gate is answered on this page (shown/hidden by script).
        shown = {i["column"] for i in items}
        items += [
            _item_view(it, language, answers, errors.get(it.column))
            for it in page.items
            if it.column not in shown and it.show_if is not None
        ]
    ctx = _ctx(
        language,
        token=token,
        page=response.page,
        pages=len(pages),
        page_label=text(language, "page_of", page=response.page + 1, pages=len(pages)),
        percent=round(100 * response.page / len(pages)),
        title=page.instrument.title.get(language) or page.instrument.name,
        instructions=page.instrument.instructions.get(language, ""),
        items=items,
        form_errors=result.form_errors if result is not None else [],
        has_errors=bool(errors) or bool(result and result.form_errors),
        note=note,
        last=response.page == len(pages) - 1,
    )
    return render(request, "participate/page.html", ctx, status=status)


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    language = _language(request, inv)
    if language is None or not _consent_given(inv):
        return redirect("participate:entry", token=token)
    pages = build_pages(inv.study.survey_instruments)
    if not pages:
        raise Http404("this study has no survey instruments")
    response = Response.objects.filter(invitation=inv, kind=Response.Kind.SURVEY).order_by("-pk").first()
    if response is None:
        response = Response.objects.create(
            study=inv.study,
            site=inv.site,
            client=inv.client,
            invitation=inv,
            kind=Response.Kind.SURVEY,
            wave=inv.wave,
            language=language,
            consent=Consent.objects.filter(invitation=inv, agreed=True).order_by("-pk").first(),
        )
    if response.completed_at is not None:
        ctx = _ctx(language, title=text(language, "done_title"), message=text(language, "done_body"))
        return render(request, "participate/message.html", ctx)
    if request.method == "GET":
        note = text(language, "resume_note") if response.page > 0 else None
        return _render_page(request, token, language, pages, response, note=note)

    with transaction.atomic():
        response = Response.objects.select_for_update().get(pk=response.pk)
        posted_page = request.POST.get("page", "")
        if response.completed_at is not None or posted_page != str(response.page):
            return _render_page(request, token, language, pages, response, note=text(language, "stale_form"))
        if request.POST.get("action") == "back":
            response.page = max(0, response.page - 1)
            response.save(update_fields=["page", "updated_at"])
            return _render_page(request, token, language, pages, response)
        page = pages[response.page]
        result = validate_page(page, request.POST, language, response.answers)
        if not result.ok:
            return _render_page(request, token, language, pages, response, result=result, status=422)
        response.answers = {**response.answers, **result.cleaned}
        response.page += 1
        response.language = language
        finished = response.page >= len(pages)
        if finished:
            response.completed_at = timezone.now()
            if inv.single_use:
                Invitation.objects.filter(pk=inv.pk).update(used_at=response.completed_at)
        response.save()
        record(request, "submit", response, actor_label=_actor(inv), page=page.number, finished=finished)
        if finished:
            queue_client_evaluation(response.client_id)
    if finished:
        ctx = _ctx(language, title=text(language, "done_title"), message=text(language, "done_body"))
        return render(request, "participate/message.html", ctx)
    return redirect("participate:survey", token=token)


def _next_session(inv: Invitation) -> int:
    last = Response.objects.filter(
        client=inv.client, kind=Response.Kind.CHECKIN, completed_at__isnull=False
    ).aggregate(m=Max("session"))["m"]
    return int(last or 0) + 1


@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, token: str) -> HttpResponse:
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    if inv.kind != Invitation.Kind.CHECKIN or inv.client is None:
        return redirect("participate:entry", token=token)
    language = _language(request, inv)
    if language is None or not _consent_given(inv):
        return redirect("participate:entry", token=token)
    page = checkin_page(tuple(inv.study.checkin_instruments))
    session_default = _next_session(inv)
    result = None
    status = 200
    message = None
    if request.method == "POST":
        key = (request.POST.get("idempotency_key") or "")[:64]
        try:
            session_no = int(request.POST.get("session", ""))
            if not 1 <= session_no <= 500:
                raise ValueError
        except ValueError:
            session_no = 0
        result = validate_page(page, request.POST, language, {})
        if session_no == 0:
            result.errors["session"] = text(language, "invalid_number", min=1, max=500)
        if result.ok and key:
            saved = save_checkin(
                link_for_invitation(inv),
                session=session_no,
                answers=result.cleaned,
                language=language,
                key=key,
                ip=request.META.get("REMOTE_ADDR") or None,
            )
            if saved.outcome in ("created", "replayed"):
                message = text(language, "checkin_saved", session=saved.session)
            else:
                message = text(language, "checkin_duplicate", session=session_no)
                status = 409
            ctx = _ctx(language, title=text(language, "done_title"), message=message)
            return render(request, "participate/message.html", ctx, status=status)
        if result.ok and not key:
            result.form_errors.append(text(language, "stale_form"))
        status = 422
    answers = dict(result.cleaned) if result else {}
    errors = result.errors if result else {}
    items = [_item_view(it, language, answers, errors.get(it.column)) for it in page.items]
    ctx = _ctx(
        language,
        token=token,
        items=items,
        session=session_default,
        session_error=errors.get("session"),
        idempotency_key=uuid.uuid4().hex,
        form_errors=result.form_errors if result else [],
        has_errors=bool(errors) or bool(result and result.form_errors),
        title=text(language, "checkin_title"),
    )
    return render(request, "participate/checkin.html", ctx, status=status)


@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, token: str) -> HttpResponse:
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    language = _language(request, inv) or _languages(inv)[0]
    if request.method == "POST":
        now = timezone.now()
        with transaction.atomic():
            if inv.client is not None:
                inv.client.withdrawn_at = now
                inv.client.save(update_fields=["withdrawn_at"])
                Consent.objects.filter(client=inv.client, withdrawn_at__isnull=True).update(withdrawn_at=now)
            Consent.objects.filter(invitation=inv, withdrawn_at__isnull=True).update(withdrawn_at=now)
            Invitation.objects.filter(pk=inv.pk).update(revoked_at=now)
            record(request, "withdraw", inv.client or inv, study_id=inv.study_id, actor_label=_actor(inv))
        ctx = _ctx(language, title=text(language, "withdraw_title"), message=text(language, "withdrawn"))
        return render(request, "participate/message.html", ctx)
    return render(request, "participate/withdraw.html", _ctx(language, token=token))
