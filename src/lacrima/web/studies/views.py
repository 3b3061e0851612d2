"""Staff pages: studies, sites, consent texts, enrolment, invitation links, completion, exports.

Every view that touches client data goes through one helper in lacrima.web.access and leaves an audit
event. Plain invitation tokens are shown once, right after they are made, and never stored.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from lacrima.web import access
from lacrima.web.accounts.models import Membership
from lacrima.web.audit.log import record
from lacrima.web.participate.models import Consent, Response
from lacrima.web.security import allow_inline_styles
from lacrima.web.studies.forms import (
    ConsentForm,
    EnrolForm,
    InvitationBatchForm,
    SiteForm,
    StudyForm,
    therapist_users,
)
from lacrima.web.studies.models import ConsentVersion, Invitation, Study

logger = logging.getLogger("lacrima.web")


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
        return redirect("studies:detail", slug=study.slug)
    return render(request, "studies/form.html", {"form": form, "title": "New study"})


def _completion(study: Study, site_ids: list[int]) -> list[dict[str, Any]]:
    sites = study.sites.filter(pk__in=site_ids)
    rows = []
    for site in sites.order_by("code"):
        inv = Invitation.objects.filter(site=site, kind=Invitation.Kind.SURVEY)
        resp = Response.objects.filter(site=site, kind=Response.Kind.SURVEY)
        waves = sorted(
            set(resp.values_list("wave", flat=True)) | set(inv.values_list("wave", flat=True))
        ) or [1]
        for wave in waves:
            r = resp.filter(wave=wave).aggregate(
                started=Count("pk"), completed=Count("pk", filter=Q(completed_at__isnull=False))
            )
            invited = inv.filter(wave=wave).count()
            consents = Consent.objects.filter(invitation__site=site, invitation__wave=wave)
            rows.append(
                {
                    "site": site,
                    "wave": wave,
                    "invited": invited,
                    "consented": consents.filter(agreed=True).count(),
                    "declined": consents.filter(agreed=False).count(),
                    "started": r["started"],
                    "completed": r["completed"],
                    "rate": (100 * r["completed"] / invited) if invited else None,
                    "checkins": Response.objects.filter(
                        site=site, kind=Response.Kind.CHECKIN, completed_at__isnull=False
                    ).count(),
                }
            )
    return rows


@login_required
def study_detail(request: HttpRequest, slug: str) -> HttpResponse:
    study = access.get_study_for_staff(request, slug)
    sites = access.research_sites(request, study)
    site_ids = list(sites.values_list("pk", flat=True))
    completion = _completion(study, site_ids) if site_ids else []
    clients = access.visible_clients(request, study).select_related("site").order_by("code")
    record(request, "read", study, view="study_detail")
    ctx = {
        "study": study,
        "completion": completion,
        "clients": clients,
        "is_admin": access.is_study_admin(request, study),
        "can_export": bool(site_ids),
        "consents": ConsentVersion.objects.filter(study=study),
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
        return redirect("studies:detail", slug=slug)
    return render(request, "studies/form.html", {"form": form, "title": "New consent text version"})


@login_required
@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest, slug: str) -> HttpResponse:
    scope = access.get_study_for_research(request, slug, "enrol")
    study, sites = scope.study, scope.sites
    form = EnrolForm(request.POST or None, study=study, sites=sites, therapists=therapist_users(study))
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
        ctx = {"study": study, "client": client, "links": [(link, qr_svg(link))], "kind": "check-in"}
        return render(request, "studies/links.html", ctx)
    return render(request, "studies/form.html", {"form": form, "title": f"Enrol a client in {study.title}"})


@login_required
@require_http_methods(["GET", "POST"])
def invitations_new(request: HttpRequest, slug: str) -> HttpResponse:
    scope = access.get_study_for_research(request, slug, "enrol")
    study, sites = scope.study, scope.sites
    form = InvitationBatchForm(request.POST or None, sites=sites)
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
        ctx = {"study": study, "links": [(u, qr_svg(u)) for u in links], "kind": "survey"}
        return render(request, "studies/links.html", ctx)
    return render(request, "studies/form.html", {"form": form, "title": "New survey invitation links"})


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
def report(request: HttpRequest, slug: str) -> HttpResponse:
    """Run the replication battery on the study's completed surveys and show the report (pseudonymised)."""
    scope = access.get_study_for_research(request, slug, "report")
    study = scope.study
    import numpy as np

    from lacrima.errors import DataError
    from lacrima.report import analyze
    from lacrima.report.render import build_html
    from lacrima.web.studies.tables import study_tables

    respondents, _ = study_tables(study, scope.sites)
    record(request, "read", study, study_id=study.pk, view="report", rows=len(respondents))
    try:
        if len(respondents) < 5:
            raise DataError(
                f"the study has {len(respondents)} completed surveys; the battery needs at least 5"
            )
        result = analyze(
            respondents, seed=2024, n_boot=1000, title=f"{study.title}: replication report", missing="skip"
        )
    except (ArithmeticError, np.linalg.LinAlgError) as exc:  # numerical trouble the library did not type
        logger.exception("report of study %s: the battery failed on this data", study.slug)
        ctx = {"study": study, "message": f"The battery was not run, because the computation failed: {exc}"}
        return render(request, "studies/report_unavailable.html", ctx, status=422)
    except DataError as exc:
        ctx = {"study": study, "message": str(exc)}
        return render(request, "studies/report_unavailable.html", ctx, status=422)
    page = HttpResponse(build_html(result).render(), content_type="text/html; charset=utf-8")
    return allow_inline_styles(page)  # the self-contained report keeps its CSS inline (by hash)
