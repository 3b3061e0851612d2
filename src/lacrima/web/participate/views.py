"""Participant pages: no account, reached through an unguessable invitation token.

Flow of a one-off survey link: language -> consent -> instrument pages (save and resume) -> thank you.
A client's one link: language -> consent -> the intake survey the study's schedule assigns -> a check-in
after each session (the server numbers the sessions) -> the measures the schedule assigns to that session.
The link opens nothing else. Pages are rendered in the participant's language with Django's translation
machinery; the text direction comes from Django's language information (``LANGUAGE_BIDI`` in the base
template), in that one place.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lacrima.errors import DataError
from lacrima.web.access import get_invitation_for_participant
from lacrima.web.audit.log import record
from lacrima.web.clinic.tasks import queue_client_evaluation
from lacrima.web.participate.checkins import link_for_invitation, next_session, save_checkin
from lacrima.web.participate.forms import InstrumentPageForm, Page, build_pages
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies import schedule as plan
from lacrima.web.studies.licensed import languages as offered_languages
from lacrima.web.studies.licensed import study_instruments
from lacrima.web.studies.models import ConsentVersion, Invitation


def _languages(inv: Invitation) -> list[str]:
    langs = [lang for lang in (inv.site.languages or []) if lang in offered_languages()]
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


def _render(
    request: HttpRequest, template: str, language: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    with translation.override(language):
        return render(request, template, ctx, status=status)


def _message(
    request: HttpRequest, language: str, title: str, message: str, status: int = 200, **extra: Any
) -> HttpResponse:
    return _render(
        request, "participate/message.html", language, {"title": title, "message": message, **extra}, status
    )


def _actor(inv: Invitation) -> str:
    return f"participant:{inv.client.code}" if inv.client else f"participant:invitation-{inv.pk}"


def _problem_page(request: HttpRequest, inv: Invitation | None, problem: str) -> HttpResponse:
    language = "en"
    if inv is not None:
        language = _language(request, inv) or _languages(inv)[0]
    with translation.override(language):
        texts = {
            "not_found": _("This link is not valid. Please check that you copied the whole link."),
            "expired": _("This link has expired. Please ask the research team for a new one."),
            "used": _("This link has already been used to complete the survey. Thank you for taking part."),
            "revoked": _("This link is no longer active. Please ask the research team for help."),
            "withdrawn": _("You have withdrawn from this study. Thank you for your time."),
        }
        title = _("This link cannot be used")
    return _message(request, language, title, texts[problem], status=410 if inv is not None else 404)


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


def _intake(inv: Invitation) -> list[str]:
    return plan.intake(inv.study.schedule or {}) if inv.client is not None else []


def _open_intake(inv: Invitation) -> bool:
    """Whether the client still has an intake survey to fill in."""
    if not _intake(inv):
        return False
    return not Response.objects.filter(
        client=inv.client, kind=Response.Kind.SURVEY, completed_at__isnull=False
    ).exists()


def _open_measures(inv: Invitation) -> Response | None:
    if inv.client is None:
        return None
    return (
        Response.objects.filter(client=inv.client, kind=Response.Kind.MEASURES, completed_at__isnull=True)
        .order_by("-session")
        .first()
    )


@require_http_methods(["GET"])
def entry(request: HttpRequest, token: str) -> HttpResponse:
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    language = _language(request, inv)
    if language is None:
        choices = [(code, translation.get_language_info(code)["name_local"]) for code in _languages(inv)]
        return _render(request, "participate/language.html", "en", {"token": token, "choices": choices})
    if not _consent_given(inv):
        return redirect("participate:consent", token=token)
    if inv.kind == Invitation.Kind.CHECKIN:
        if _open_intake(inv):
            return redirect("participate:survey", token=token)
        if _open_measures(inv) is not None:
            return redirect("participate:measures", token=token)
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
            with translation.override(language):
                title = _("Thank you")
                body = _(
                    "You chose not to take part. No answers were collected; the study keeps only the "
                    "record that this link was declined, with the date. You can close this page."
                )
            return _message(request, language, title, body, contact=inv.study.contact)
        return redirect("participate:entry", token=token)
    return _render(request, "participate/consent.html", language, {"token": token, "version": version})


def _showable(inv: Invitation, ids: list[str], language: str) -> list[Any] | None:
    try:
        return study_instruments(inv.study_id, ids, language)
    except DataError:
        return None


def _not_ready(request: HttpRequest, inv: Invitation, language: str) -> HttpResponse:
    with translation.override(language):
        title = _("This questionnaire is not ready yet")
        body = _("The study team has not finished preparing this questionnaire in your language.")
    return _message(request, language, title, body, status=503, contact=inv.study.contact)


def _done(request: HttpRequest, token: str, language: str, inv: Invitation) -> HttpResponse:
    with translation.override(language):
        title, body = _("Thank you"), _("Your answers have been saved. You can close this page.")
    if inv.kind == Invitation.Kind.CHECKIN and _open_measures(inv) is not None:
        return redirect("participate:measures", token=token)
    return _message(request, language, title, body)


def _page_flow(
    request: HttpRequest, token: str, inv: Invitation, language: str, response: Response, view: str
) -> HttpResponse:
    """Show or take one page of a multi-page response (survey, intake or scheduled measures)."""
    instruments = _showable(inv, list(response.instruments), language)
    if instruments is None:
        return _not_ready(request, inv, language)
    pages = build_pages(instruments)
    if response.completed_at is not None:
        return _done(request, token, language, inv)
    seen_key = f"page:{response.pk}"
    if request.method == "GET":
        resuming = response.page > 0 and request.session.get(seen_key) != response.page
        request.session[seen_key] = response.page
        return _page(request, token, language, pages, response, resuming=resuming)

    with transaction.atomic():
        response = Response.objects.select_for_update().get(pk=response.pk)
        if response.completed_at is not None or request.POST.get("page", "") != str(response.page):
            return _page(request, token, language, pages, response, stale=True)
        if request.POST.get("action") == "back":
            response.page = max(0, response.page - 1)
            response.save(update_fields=["page", "updated_at"])
            request.session[seen_key] = response.page
            return redirect(f"participate:{view}", token=token)
        page = pages[response.page]
        later = {it.column for p in pages[response.page + 1 :] for it in p.items}
        with translation.override(language):
            form = InstrumentPageForm(
                request.POST, entries=page.entries, language=language, previous=response.answers, later=later
            )
            valid = form.is_valid()
        if not valid:
            return _page(request, token, language, pages, response, form=form, status=422)
        response.answers = {**response.answers, **form.cleaned_data}
        response.page += 1
        response.language = language
        finished = response.page >= len(pages)
        if finished:
            response.completed_at = timezone.now()
            if inv.single_use:
                Invitation.objects.filter(pk=inv.pk).update(used_at=response.completed_at)
        response.save()
        request.session[seen_key] = response.page
        record(request, "submit", response, actor_label=_actor(inv), page=page.number, finished=finished)
        if finished and response.client_id is not None:
            queue_client_evaluation(response.client_id)
    if finished:
        return _done(request, token, language, inv)
    return redirect(f"participate:{view}", token=token)


def _page(
    request: HttpRequest,
    token: str,
    language: str,
    pages: list[Page],
    response: Response,
    form: InstrumentPageForm | None = None,
    resuming: bool = False,
    stale: bool = False,
    status: int = 200,
) -> HttpResponse:
    page = pages[min(response.page, len(pages) - 1)]
    with translation.override(language):
        if form is None:
            form = InstrumentPageForm(
                entries=page.entries, language=language, previous=response.answers, initial=response.answers
            )
        ctx = {
            "token": token,
            "form": form,
            "rows": form.rows(),
            "page": response.page,
            "pages": len(pages),
            "percent": round(100 * response.page / len(pages)),
            "title": page.instrument.title.get(language) or page.instrument.name,
            "instructions": page.instrument.instructions.get(language, ""),
            "resuming": resuming,
            "stale": stale,
            "last": response.page == len(pages) - 1,
        }
    return _render(request, "participate/page.html", language, ctx, status)


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """A one-off survey (anonymous link) or a client's intake survey (the client's link)."""
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    language = _language(request, inv)
    if language is None or not _consent_given(inv):
        return redirect("participate:entry", token=token)
    if inv.kind == Invitation.Kind.CHECKIN:
        ids = _intake(inv)
        existing = Response.objects.filter(client=inv.client, kind=Response.Kind.SURVEY)
    else:
        ids = list(inv.study.survey_instruments)
        existing = Response.objects.filter(invitation=inv, kind=Response.Kind.SURVEY)
    if not ids:
        raise Http404("this link has no survey")
    response = existing.order_by("-pk").first()
    if response is None:
        response = Response.objects.create(
            study=inv.study,
            site=inv.site,
            client=inv.client,
            invitation=inv,
            kind=Response.Kind.SURVEY,
            wave=inv.wave,
            language=language,
            instruments=ids,
            consent=Consent.objects.filter(invitation=inv, agreed=True).order_by("-pk").first(),
        )
    return _page_flow(request, token, inv, language, response, "survey")


@require_http_methods(["GET", "POST"])
def measures(request: HttpRequest, token: str) -> HttpResponse:
    """The measures the study's schedule assigns to the client's latest session."""
    inv, problem = _load(request, token)
    if problem is not None or inv is None:
        return problem  # type: ignore[return-value]
    language = _language(request, inv)
    if language is None or not _consent_given(inv) or inv.kind != Invitation.Kind.CHECKIN:
        return redirect("participate:entry", token=token)
    response = _open_measures(inv)
    if response is None:
        return redirect("participate:entry", token=token)
    return _page_flow(request, token, inv, language, response, "measures")


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
    if _open_intake(inv) or _open_measures(inv) is not None:
        return redirect("participate:entry", token=token)
    instruments = _showable(inv, list(inv.study.checkin_instruments), language)
    if instruments is None:
        return _not_ready(request, inv, language)
    entries = [(ins, it) for ins in instruments for it in ins.items]
    status = 200
    with translation.override(language):
        form = InstrumentPageForm(
            request.POST if request.method == "POST" else None, entries=entries, language=language
        )
        valid = request.method == "POST" and form.is_valid()
        key = (request.POST.get("idempotency_key") or "")[:64] if request.method == "POST" else ""
        if valid and not key:
            form.add_error(
                None, _("This page was submitted out of order; please check it and send it again.")
            )
            valid = False
    if valid:
        saved = save_checkin(
            link_for_invitation(inv),
            answers=form.cleaned_data,
            language=language,
            key=key,
            ip=request.META.get("REMOTE_ADDR") or None,
        )
        with translation.override(language):
            title = _("Thank you")
            if saved.outcome in ("created", "replayed") and saved.session is not None:
                message = _("Thank you, your check-in for session %(session)s has been saved.") % {
                    "session": saved.session
                }
            else:
                message = _("This check-in could not be saved; please try again.")
                status = 409
        if saved.outcome in ("created", "replayed") and _open_measures(inv) is not None:
            return redirect("participate:measures", token=token)
        return _message(request, language, title, message, status=status)
    if request.method == "POST":
        status = 422
    with translation.override(language):
        ctx = {
            "token": token,
            "form": form,
            "rows": form.rows(),
            "session": next_session(inv.client.pk),
            "idempotency_key": uuid.uuid4().hex,
            "title": _("After today's session"),
        }
    return _render(request, "participate/checkin.html", language, ctx, status)


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
        with translation.override(language):
            title = _("Withdraw from the study")
            body = _(
                "You have withdrawn from this study. You will receive no further questionnaires and this "
                "link no longer works. The answers you already gave are kept for the study unless you ask "
                "the study team to delete them."
            )
        return _message(request, language, title, body, contact=inv.study.contact)
    return _render(
        request, "participate/withdraw.html", language, {"token": token, "contact": inv.study.contact}
    )
