"""Clinic pages: the therapist's caseload, a client's page, alert acknowledgement, date corrections, the
queued battery report and the client's own view.

Every view reaches client data through one helper in ``lacrima.web.access`` and leaves an audit event;
scores come from the feedback library (``evaluate.py``), never from arithmetic here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from lacrima.errors import DataError
from lacrima.web import access
from lacrima.web.audit.log import record
from lacrima.web.clinic import charts
from lacrima.web.clinic.data import session_dates
from lacrima.web.clinic.forms import AcknowledgeForm, AssignTherapistForm, NoteForm, SessionDateForm
from lacrima.web.clinic.models import Alert, AlertNote, BatteryRun, ClientSummary, SessionDate
from lacrima.web.clinic.tasks import enqueue_evaluation, run_battery
from lacrima.web.participate.models import Response
from lacrima.web.security import allow_inline_styles


@login_required
def caseload(request: HttpRequest) -> HttpResponse:
    """The therapist's home: one row per active client, most urgent first."""
    if not access.is_therapist(request):
        return redirect("studies:list")
    latest = (
        Response.objects.filter(client=OuterRef("pk"), completed_at__isnull=False)
        .order_by()
        .values("client")
        .annotate(m=Max("pk"))
        .values("m")
    )
    clients = list(
        access.caseload_clients(request)
        .select_related("study", "site", "clinic_summary")
        .annotate(latest_response=Subquery(latest))
    )
    rows = []
    stale = []
    for c in clients:
        summary: ClientSummary | None = getattr(c, "clinic_summary", None)
        if summary is None or (c.latest_response or 0) > summary.through_response:
            stale.append(c.pk)
        rows.append(charts.caseload_row(c, summary))
    rows.sort(key=lambda r: (-r["urgency"], r["client"].code))
    for pk in stale:
        enqueue_evaluation(pk)
    record(request, "read", object_type="clinic.caseload", object_id=request.user.pk, clients=len(rows))
    return render(request, "clinic/caseload.html", {"rows": rows, "stale": len(stale)})


def _open_groups(alerts: list[Alert]) -> list[dict[str, Any]]:
    """Open alerts by kind, most urgent kind first: the newest of each kind shown, the older ones folded."""
    order = {"high": 0, "medium": 1, "low": 2}
    groups: dict[str, list[Alert]] = {}
    for a in sorted(alerts, key=lambda a: (-(a.session or 0), -a.pk)):
        if a.open:
            groups.setdefault(a.kind, []).append(a)
    out = [{"kind": k, "newest": v[0], "older": v[1:]} for k, v in groups.items()]
    return sorted(out, key=lambda g: (order.get(g["newest"].priority, 3), -(g["newest"].session or 0)))


@login_required
def client_page(request: HttpRequest, slug: str, code: str) -> HttpResponse:
    study = access.get_study_for_staff(request, slug)
    client = access.get_client_for_therapist(request, study, code)
    from lacrima.web.clinic.evaluate import evaluate_client

    alerts_qs = Alert.objects.filter(client=client)
    try:
        ev = evaluate_client(client)
    except DataError as exc:  # stored answers that the instruments reject: say which, never a 500
        record(request, "read", client, view="clinic_client", problem=str(exc)[:500])
        problem = {"study": study, "client": client, "problem": str(exc), "alerts": list(alerts_qs)}
        return render(request, "clinic/client_problem.html", problem, status=422)
    alerts = list(
        Alert.objects.filter(client=client).select_related("acknowledged_by").prefetch_related("notes")
    )
    record(request, "read", client, view="clinic_client")
    is_admin = access.is_study_admin(request, study)
    ctx: dict[str, Any] = {
        "assign_form": AssignTherapistForm(client=client) if is_admin else None,
        "study": study,
        "client": client,
        "ev": ev,
        "alerts": alerts,
        "open_groups": _open_groups(alerts),
        # the sessions whose date a therapist corrected (the check-in keeps its own date)
        "corrected": set(SessionDate.objects.filter(client=client).values_list("session", flat=True)),
        "ack_form": AcknowledgeForm(),
        "note_form": NoteForm(),
        **charts.client_page_context(ev),
    }
    return render(request, "clinic/client.html", ctx)


@login_required
def alert_open(request: HttpRequest, alert_id: int) -> HttpResponse:
    """The link in an alert e-mail: the client page at this alert (after the access check)."""
    alert = access.get_alert_for_therapist(request, alert_id)
    url = reverse("clinic:client", kwargs={"slug": alert.study.slug, "code": alert.client.code})
    return redirect(f"{url}#alert-{alert.pk}")


def _back_to_client(alert: Alert, at_alert: bool = True) -> HttpResponse:
    """The client page at the alert, or at its top (the confirmation and the alerts still open)."""
    url = reverse("clinic:client", kwargs={"slug": alert.study.slug, "code": alert.client.code})
    return redirect(f"{url}#alert-{alert.pk}" if at_alert else url)


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Acknowledge an alert once, with an optional note (required for risk items); never deleted."""
    alert = access.get_alert_for_therapist(request, alert_id)
    form = AcknowledgeForm(request.POST, alert=alert)
    if not form.is_valid():
        return render(
            request,
            "clinic/form_error.html",
            {"alert": alert, "form": form},
            status=422,
        )
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_by=request.user,
            acknowledged_label=request.user.get_username(),
            acknowledged_at=timezone.now(),
            acknowledged_note=form.cleaned_data["note"],
        )
        if done:
            record(request, "update", alert, action_detail="acknowledge", kind=alert.kind, key=alert.key)
            messages.success(request, _("Alert acknowledged; it stays in the alert history."))
        elif form.cleaned_data["note"]:
            _add_note(request, alert, form.cleaned_data["note"])
    enqueue_evaluation(alert.client_id)  # the caseload's badges follow
    # A new acknowledgement: to the top, where its confirmation and the next open alert are; a note
    # added to one acknowledged before: back to that alert.
    return _back_to_client(alert, at_alert=not done)


@login_required
@require_POST
def alert_note(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = access.get_alert_for_therapist(request, alert_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "clinic/form_error.html",
            {"alert": alert, "form": form},
            status=422,
        )
    with transaction.atomic():
        _add_note(request, alert, form.cleaned_data["text"])
    return _back_to_client(alert)


def _add_note(request: HttpRequest, alert: Alert, text: str) -> None:
    """Append a note to an alert (notes are never edited or deleted), audit-logged."""
    AlertNote.objects.create(alert=alert, by=request.user, by_label=request.user.get_username(), text=text)
    record(request, "update", alert, action_detail="note", kind=alert.kind, key=alert.key)


@login_required
@require_POST
def session_date(request: HttpRequest, slug: str, code: str) -> HttpResponse:
    """Correct the date of a session (the check-in's own date is kept; the correction is audit-logged)."""
    study = access.get_study_for_staff(request, slug)
    client = access.get_client_for_therapist(request, study, code)
    sessions = set(
        Response.objects.filter(client=client, completed_at__isnull=False, session__isnull=False).values_list(
            "session", flat=True
        )
    )
    form = SessionDateForm(request.POST, sessions=sessions, dates=session_dates(client))
    url = reverse("clinic:client", kwargs={"slug": slug, "code": code})
    if not form.is_valid():
        return render(
            request,
            "clinic/form_error.html",
            {"form": form, "client": client, "study": study, "back": url},
            status=422,
        )
    with transaction.atomic():
        fix = SessionDate.objects.create(
            client=client,
            session=form.cleaned_data["session"],
            date=form.cleaned_data["date"],
            by=request.user,
        )
        record(request, "update", fix, study_id=study.pk, session=fix.session, date=fix.date.isoformat())
    enqueue_evaluation(client.pk)
    messages.success(
        request,
        _("The date of session %(session)s is now %(date)s.")
        % {"session": fix.session, "date": fix.date.isoformat()},
    )
    return redirect(url)


@login_required
@require_POST
def assign_therapist(request: HttpRequest, slug: str, code: str) -> HttpResponse:
    """The study admin (re)assigns a client to a therapist of the client's site; audit-logged."""
    study = access.get_study_for_admin(request, slug)
    client = access.get_client_for_therapist(request, study, code)
    form = AssignTherapistForm(request.POST, client=client)
    url = reverse("clinic:client", kwargs={"slug": slug, "code": code})
    if not form.is_valid():
        ctx = {"form": form, "client": client, "study": study, "back": url}
        return render(request, "clinic/form_error.html", ctx, status=422)
    therapist = form.cleaned_data["therapist"]
    with transaction.atomic():
        before = client.therapist.get_username() if client.therapist else None
        client.therapist = therapist
        client.save(update_fields=["therapist"])
        record(
            request,
            "update",
            client,
            action_detail="assign_therapist",
            before=before,
            after=therapist.username,
        )
    enqueue_evaluation(client.pk)  # the new therapist's caseload row
    return redirect(url)


@login_required
@require_POST
def battery_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Queue the replication battery; the status page follows its progress."""
    scope = access.get_study_for_research(request, slug, "battery")
    study = scope.study
    site_ids = None if scope.whole_study else list(scope.sites.values_list("pk", flat=True))
    with transaction.atomic():
        run = BatteryRun.objects.create(study=study, requested_by=request.user, site_ids=site_ids)
        record(request, "create", run, study_id=study.pk, view="battery")
        transaction.on_commit(lambda: run_battery.enqueue(run.pk))
    return redirect("clinic:battery_status", slug=slug, run_id=run.pk)


@login_required
@require_POST
def refit_start(request: HttpRequest, slug: str) -> HttpResponse:
    """The study admin's button: queue an expected-recovery refit of each symptom measure now."""
    from lacrima.web.clinic.tasks import REFIT_INSTRUMENTS, queue_refit

    study = access.get_study_for_admin(request, slug)
    with transaction.atomic():
        queued = [name for name in REFIT_INSTRUMENTS if queue_refit(study.pk, name)]
        record(request, "update", study, action_detail="refit_expected_recovery", queued=queued)
    if queued:
        messages.success(request, "Expected-recovery refit queued; the worker stores it in a few seconds.")
    else:
        messages.info(request, "A refit is already waiting for the worker.")
    return redirect("studies:detail", slug=slug)


def _run_for(request: HttpRequest, slug: str, run_id: int) -> BatteryRun:
    study = access.get_study_for_research(request, slug, "battery").study
    run = BatteryRun.objects.filter(pk=run_id, study=study, requested_by=request.user).first()
    if run is None:
        raise Http404("not found")
    return run


@login_required
def battery_runs(request: HttpRequest, slug: str) -> HttpResponse:
    """The study's report page (``/studies/<slug>/report/``): the button that queues the battery and the
    user's own runs with their progress. Nothing is computed here."""
    scope = access.get_study_for_research(request, slug, "report")
    study = scope.study
    runs = list(BatteryRun.objects.filter(study=study, requested_by=request.user).order_by("-pk")[:10])
    record(request, "read", study, study_id=study.pk, view="report", runs=len(runs))
    running = any(r.status in (BatteryRun.Status.QUEUED, BatteryRun.Status.RUNNING) for r in runs)
    ctx = {"study": study, "runs": runs, "running": running, "whole_study": scope.whole_study}
    return render(request, "clinic/battery_runs.html", ctx)


@login_required
def battery_status(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    run = _run_for(request, slug, run_id)
    running = run.status in (BatteryRun.Status.QUEUED, BatteryRun.Status.RUNNING)
    return render(request, "clinic/battery_status.html", {"run": run, "study": run.study, "running": running})


@login_required
def battery_report(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    run = _run_for(request, slug, run_id)
    if run.status != BatteryRun.Status.DONE:
        return redirect("clinic:battery_status", slug=slug, run_id=run.pk)
    record(request, "read", run, study_id=run.study_id, view="battery_report")
    page = HttpResponse(run.html, content_type="text/html; charset=utf-8")
    return allow_inline_styles(page)  # the self-contained report keeps its CSS inline (by hash)


@require_http_methods(["GET"])
def client_view(request: HttpRequest, token: str) -> HttpResponse:
    """The client's own alliance and symptom chart (when the study offers it), by their check-in link."""
    from lacrima.web.clinic.evaluate import clinic_settings, evaluate_client

    client = access.get_checkin_client_for_participant(token)
    if not clinic_settings(client.study).client_view:
        raise Http404("not found")
    ev = evaluate_client(client)
    record(request, "read", client, view="client_view", actor_label=f"participant:{client.code}")
    from django.conf import settings
    from django.utils import translation

    lang = client.language if client.language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    direction = "rtl" if translation.get_language_info(lang)["bidi"] else "ltr"
    ctx = {"lang": lang, "dir": direction, "client": client, **charts.client_view_context(ev, lang)}
    with translation.override(lang):
        return render(request, "clinic/client_view.html", ctx)
