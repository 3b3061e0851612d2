"""Staff pages: studies, sites, consent texts, enrolment, invitation links, completion, exports.

Every view that touches client data goes through one helper in lacrima.web.access and leaves an audit
event. Plain invitation tokens are shown once, right after they are made, and never stored.
"""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from lacrima.web import access
from lacrima.web.accounts.models import Membership
from lacrima.web.audit.log import record
from lacrima.web.participate.models import Response
from lacrima.web.studies import schedule as plan
from lacrima.web.studies.completion import client_completion, survey_completion
from lacrima.web.studies.forms import (
    ConsentForm,
    EnrolForm,
    InvitationBatchForm,
    SiteForm,
    StudyForm,
)
from lacrima.web.studies.licensed import missing_licensed
from lacrima.web.studies.models import ConsentVersion, Invitation, LicensedText


def qr_svg(url: str) -> str:
    """An inline SVG QR code for a link (no image files, nothing sent anywhere)."""
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return img.to_string(encoding="unicode")


def _link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(f"/p/{token}/")


@login_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = access.visible_studies(request).order_by("title")
    return render(request, "studies/list.html", {"studies": studies})


@login_required
@require_http_methods(["GET", "POST"])
def study_new(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_staff or request.user.is_superuser):
        record(request, "denied", object_type="studies.study", object_id="new", purpose="create")
        raise Http404("not found")
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            study = form.save(commit=False)
            study.created_by = request.user
            study.save()
            Membership.objects.create(user=request.user, study=study, role=Membership.Role.STUDY_ADMIN)
            record(request, "create", study, study_id=study.pk)
        messages.success(request, f"Study {study.title} created; you are its study admin.")
        return redirect("studies:detail", slug=study.slug)
    return render(request, "studies/form.html", {"form": form, "title": "New study"})


@login_required
@require_http_methods(["GET", "POST"])
def study_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """The study admin changes the set-up: instruments and their page order, schedule, link lifetime."""
    study = access.get_study_for_admin(request, slug)
    form = StudyForm(request.POST or None, instance=study)
    form.fields["slug"].disabled = True
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            record(request, "update", study, study_id=study.pk, fields=sorted(form.changed_data))
        messages.success(request, "Study set-up saved.")
        return redirect("studies:detail", slug=study.slug)
    return render(request, "studies/form.html", {"form": form, "title": f"Set up {study.title}"})


@login_required
def study_detail(request: HttpRequest, slug: str) -> HttpResponse:
    study = access.get_study_for_staff(request, slug)
    sites = access.research_sites(request, study)
    site_ids = list(sites.values_list("pk", flat=True))
    counts = bool(site_ids)
    clients = list(
        access.visible_clients(request, study).select_related("site", "therapist").order_by("code")
    )
    # Only the codes whose clinical page the user may open are links (a site researcher sees the codes).
    admin = access.is_study_admin(request, study)
    openable = {c.pk for c in clients if access.may_open_client_page(request, study, c, admin)}
    record(request, "read", study, view="study_detail")
    languages = sorted({lang for site in study.sites.all() for lang in site.languages})
    used = list(dict.fromkeys([*study.survey_instruments, *plan.instruments(study.schedule or {})]))
    ctx = {
        "study": study,
        "completion": survey_completion(study, site_ids) if counts else [],
        "client_counts": client_completion(study, site_ids) if counts else [],
        "clients": clients,
        "openable": openable,
        "is_admin": admin,
        "can_export": counts,
        "consents": ConsentVersion.objects.filter(study=study).order_by("language", "-version"),
        "licensed": LicensedText.objects.filter(study=study).select_related("attached_by"),
        "missing_texts": missing_licensed(study, used, languages),
        "intake": plan.intake(study.schedule or {}),
        "repeated": (study.schedule or {}).get("repeated", []),
    }
    return render(request, "studies/detail.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def site_new(request: HttpRequest, slug: str) -> HttpResponse:
    study = access.get_study_for_admin(request, slug)
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        site = form.save(commit=False)
        site.study = study
        site.save()
        record(request, "create", site, study_id=study.pk)
        messages.success(request, f"Site {site.name} added.")
        return redirect("studies:detail", slug=slug)
    return render(request, "studies/form.html", {"form": form, "title": f"New site in {study.title}"})


@login_required
@require_http_methods(["GET", "POST"])
def consent_new(request: HttpRequest, slug: str) -> HttpResponse:
    study = access.get_study_for_admin(request, slug)
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        lang = form.cleaned_data["language"]
        with transaction.atomic():
            last = ConsentVersion.objects.filter(study=study, language=lang).order_by("-version").first()
            cv = ConsentVersion.objects.create(
                study=study,
                language=lang,
                text=form.cleaned_data["text"],
                version=(last.version + 1 if last else 1),
            )
            record(request, "create", cv, study_id=study.pk)
        messages.success(request, f"Consent text version {cv.version} ({cv.language}) saved.")
        return redirect("studies:detail", slug=slug)
    return render(request, "studies/form.html", {"form": form, "title": "New consent text version"})


@login_required
@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest, slug: str) -> HttpResponse:
    scope = access.get_study_for_research(request, slug, "enrol")
    study, sites = scope.study, scope.sites
    form = EnrolForm(request.POST or None, study=study, sites=sites)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            client = form.save(commit=False)
            client.study = study
            client.save()
            record(request, "create", client, study_id=study.pk)
            inv, token = Invitation.issue(
                study=study,
                site=client.site,
                kind="checkin",
                client=client,
                days=0,
                single_use=False,
                created_by=request.user,
            )
            record(request, "create", inv, study_id=study.pk, kind="checkin")
        link = _link(request, token)
        messages.success(request, f"Client {client.code} enrolled.")
        ctx = {"study": study, "client": client, "links": [(link, qr_svg(link))], "kind": "check-in"}
        return render(request, "studies/links.html", ctx)
    return render(request, "studies/form.html", {"form": form, "title": f"Enrol a client in {study.title}"})


@login_required
@require_http_methods(["GET", "POST"])
def invitations_new(request: HttpRequest, slug: str) -> HttpResponse:
    scope = access.get_study_for_research(request, slug, "enrol")
    study, sites = scope.study, scope.sites
    form = InvitationBatchForm(request.POST or None, sites=sites, study=study)
    if request.method == "POST" and form.is_valid():
        links = []
        with transaction.atomic():
            for _ in range(form.cleaned_data["count"]):
                _, token = Invitation.issue(
                    study=study,
                    site=form.cleaned_data["site"],
                    kind="survey",
                    days=form.cleaned_data["days"],
                    created_by=request.user,
                )
                links.append(_link(request, token))
            record(request, "create", object_type="studies.invitation", study_id=study.pk, count=len(links))
        if request.POST.get("format") == "csv":
            body = "link\n" + "\n".join(links) + "\n"
            resp = HttpResponse(body, content_type="text/csv; charset=utf-8")
            resp["Content-Disposition"] = f'attachment; filename="{study.slug}-invitations.csv"'
            return resp
        messages.success(request, f"{len(links)} survey link{'s' if len(links) != 1 else ''} made.")
        ctx = {"study": study, "links": [(u, qr_svg(u)) for u in links], "kind": "survey"}
        return render(request, "studies/links.html", ctx)
    ctx = {"form": form, "title": "New survey invitation links", "csv": True}
    return render(request, "studies/form.html", ctx)


@login_required
def export(request: HttpRequest, slug: str, table: str, fmt: str) -> HttpResponse:
    """Pseudonymised export of respondents or sessions (CSV, SPSS .sav or Parquet)."""
    scope = access.get_study_for_research(request, slug, "export")
    study = scope.study
    if table not in ("respondents", "sessions") or fmt not in ("csv", "sav", "parquet"):
        raise Http404("not found")
    from lacrima.io import neutralize_formulas
    from lacrima.web.studies.tables import study_tables

    respondents, sessions = study_tables(study, scope.sites)
    frame = respondents if table == "respondents" else sessions
    record(request, "export", study, study_id=study.pk, table=table, format=fmt, rows=len(frame))
    buf = io.BytesIO()
    if fmt == "csv":
        buf.write(neutralize_formulas(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8"))
        content_type = "text/csv; charset=utf-8"
    elif fmt == "parquet":
        frame.to_parquet(buf, index=False)
        content_type = "application/vnd.apache.parquet"
    else:
        import tempfile
        from pathlib import Path

        import pyreadstat

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "export.sav"
            out = frame.copy()
            for col in out.columns:
                if out[col].dtype == object or str(out[col].dtype).startswith("str"):
                    out[col] = out[col].astype("string").fillna("").astype(object)
            pyreadstat.write_sav(out, str(path))
            buf.write(path.read_bytes())
        content_type = "application/octet-stream"
    resp = HttpResponse(buf.getvalue(), content_type=content_type)
    resp["Content-Disposition"] = f'attachment; filename="{study.slug}-{table}.{fmt}"'
    return resp


@login_required
@require_http_methods(["GET", "POST"])
def licensed_texts(request: HttpRequest, slug: str) -> HttpResponse:
    """The study admin attaches item text from the study's licensed copy: one file per language, shown
    item by item before it is attached; a file with any problem is refused whole, every problem listed."""
    from lacrima.errors import DataError
    from lacrima.web.studies.forms import LicensedTextForm
    from lacrima.web.studies.licensed import attach, parse_texts_file

    study = access.get_study_for_admin(request, slug)
    form = LicensedTextForm(request.POST or None, request.FILES or None)
    preview: list[tuple[str, str]] = []
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("action") == "attach":
                row = attach(
                    request,
                    study,
                    data["instrument"],
                    data["language"],
                    data["raw"],
                    data["licence_statement"],
                )
                messages.success(
                    request, f"{len(row.texts)} item texts of {row.instrument} ({row.language}) attached."
                )
                return redirect("studies:licensed", slug=slug)
            texts = parse_texts_file(data["instrument"], data["language"], data["raw"])
            preview = list(texts.items())
            form = LicensedTextForm(
                initial={**{k: data[k] for k in ("instrument", "language", "licence_statement")},
                         "content": data["content"]}
            )  # fmt: skip
        except DataError as exc:
            problems = [str(p) for p in exc.problems] or [exc.summary]
    ctx = {
        "study": study,
        "form": form,
        "preview": preview,
        "problems": problems,
        "attached": LicensedText.objects.filter(study=study)
        .select_related("attached_by")
        .order_by("instrument", "language"),
    }
    return render(request, "studies/licensed.html", ctx, status=422 if problems else 200)


@login_required
@require_http_methods(["GET", "POST"])
def checkin_session(request: HttpRequest, slug: str, code: str, pk: int) -> HttpResponse:
    """The treating therapist corrects the session number the server gave a check-in (audit-logged)."""
    from django.db import IntegrityError

    from lacrima.web.studies.forms import SessionNumberForm

    study = access.get_study_for_staff(request, slug)
    client = access.get_client_for_therapist(request, study, code)
    checkin = Response.objects.filter(
        client=client, kind=Response.Kind.CHECKIN, completed_at__isnull=False, pk=pk
    ).first()
    if checkin is None:
        raise Http404("not found")
    form = SessionNumberForm(request.POST or None, initial={"session": checkin.session})
    if request.method == "POST" and form.is_valid():
        old, new = checkin.session, form.cleaned_data["session"]
        try:
            with transaction.atomic():
                checkin.session = new
                checkin.save(update_fields=["session", "updated_at"])
                record(
                    request, "update", checkin, study_id=study.pk, field="session", old=old, new=new,
                    reason=form.cleaned_data["reason"],
                )  # fmt: skip
        except IntegrityError:
            form.add_error("session", f"Client {client.code} already has a check-in for session {new}.")
        else:
            messages.success(request, f"Check-in of session {old} is now session {new}.")
            return redirect("studies:client", slug=slug, code=code)
    title = f"Session number of {client.code}'s check-in of {checkin.session_date:%Y-%m-%d}"
    return render(request, "studies/form.html", {"form": form, "title": title})
