"""Completion counts for the study page, each counted once per person.

Survey links (one person each): per site and wave, how many were invited, consented (the link has an
agreed consent, however often the page was sent), declined (only declines), completed, and withdrawn.
Clients (one person each, the client's one link): per site, how many are enrolled, consented, finished the
intake, withdrew, and how many check-ins they saved. Check-in consents never count as survey consents.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies.models import Client, Invitation, Site, Study


def _sites(study: Study, site_ids: list[int] | None) -> Any:
    sites = study.sites.all() if site_ids is None else study.sites.filter(pk__in=site_ids)
    return sites.order_by("code")


def survey_completion(study: Study, site_ids: list[int] | None) -> list[dict[str, Any]]:
    agreed = Consent.objects.filter(invitation=OuterRef("pk"), agreed=True)
    declined = Consent.objects.filter(invitation=OuterRef("pk"), agreed=False)
    withdrawn = Consent.objects.filter(invitation=OuterRef("pk"), withdrawn_at__isnull=False)
    done = Response.objects.filter(
        invitation=OuterRef("pk"), kind=Response.Kind.SURVEY, completed_at__isnull=False
    )
    links = (
        Invitation.objects.filter(study=study, kind=Invitation.Kind.SURVEY, site__in=_sites(study, site_ids))
        .annotate(
            agreed=Exists(agreed), declined=Exists(declined), withdrawn=Exists(withdrawn), done=Exists(done)
        )
        .values("site_id", "wave")
        .annotate(
            invited=Count("pk"),
            consented=Count("pk", filter=Q(agreed=True)),
            declined_only=Count("pk", filter=Q(declined=True, agreed=False)),
            completed=Count("pk", filter=Q(done=True)),
            withdrawn_n=Count("pk", filter=Q(withdrawn=True)),
        )
        .order_by("site_id", "wave")
    )
    sites = {s.pk: s for s in Site.objects.filter(study=study)}
    rows = []
    for r in links:
        rows.append(
            {
                "site": sites[r["site_id"]],
                "wave": r["wave"],
                "invited": r["invited"],
                "consented": r["consented"],
                "declined": r["declined_only"],
                "completed": r["completed"],
                "withdrawn": r["withdrawn_n"],
                "rate": 100 * r["completed"] / r["invited"] if r["invited"] else None,
            }
        )
    rows.sort(key=lambda r: (r["site"].code, r["wave"]))
    return rows


def client_completion(study: Study, site_ids: list[int] | None) -> list[dict[str, Any]]:
    agreed = Consent.objects.filter(client=OuterRef("pk"), agreed=True)
    intake = Response.objects.filter(
        client=OuterRef("pk"), kind=Response.Kind.SURVEY, completed_at__isnull=False
    )
    checkins = Response.objects.filter(
        study=study, kind=Response.Kind.CHECKIN, completed_at__isnull=False, site__in=_sites(study, site_ids)
    )
    per_site_checkins = dict(
        checkins.values_list("site_id").annotate(n=Count("pk")).values_list("site_id", "n")
    )
    counts = (
        Client.objects.filter(study=study, site__in=_sites(study, site_ids))
        .annotate(agreed=Exists(agreed), intake=Exists(intake))
        .values("site_id")
        .annotate(
            enrolled=Count("pk"),
            consented=Count("pk", filter=Q(agreed=True)),
            intake_done=Count("pk", filter=Q(intake=True)),
            withdrawn=Count("pk", filter=Q(withdrawn_at__isnull=False)),
        )
    )
    by_site = {r["site_id"]: r for r in counts}
    rows = []
    for site in _sites(study, site_ids):
        r = by_site.get(site.pk, {})
        rows.append(
            {
                "site": site,
                "enrolled": r.get("enrolled", 0),
                "consented": r.get("consented", 0),
                "intake": r.get("intake_done", 0),
                "withdrawn": r.get("withdrawn", 0),
                "checkins": per_site_checkins.get(site.pk, 0),
            }
        )
    return rows
