"""Access rules, one helper per rule. Every view that touches client data goes through one of these.

Each helper returns the object or raises Http404 (not 403), so that an outsider cannot even learn that a
study, client or response exists. Every denial is audit-logged (action ``denied``, with what was asked for).

The rules:

- any role in a study: :func:`get_study_for_staff` (the study page);
- study admin: :func:`get_study_for_admin` (sites, consent texts, the audit trail);
- research scope: :func:`get_study_for_research` returns the study with the sites whose rows the user may
  see (all for a study admin, their own for a site researcher) and denies everyone else; exports, the
  report and enrolment use it, and the rows are filtered in the database query by those sites;
- clients: :func:`visible_clients` (admins all, site researchers their sites', therapists their own) and
  :func:`get_client_for_therapist` (the clinical dashboard: the treating therapist or a study admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from lacrima.web.accounts.models import Membership
from lacrima.web.audit.log import record
from lacrima.web.studies.models import Client, Invitation, Site, Study, hash_token

Role = Membership.Role


def memberships(request: HttpRequest, study: Study) -> QuerySet[Membership]:
    if not request.user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=request.user, study=study)


def is_study_admin(request: HttpRequest, study: Study) -> bool:
    return (
        bool(request.user.is_superuser) or memberships(request, study).filter(role=Role.STUDY_ADMIN).exists()
    )


def visible_studies(request: HttpRequest) -> QuerySet[Study]:
    if not request.user.is_authenticated:
        return Study.objects.none()
    if request.user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(memberships__user=request.user).distinct()


def _deny(
    request: HttpRequest, what: str, ident: object, study_id: int | None = None, purpose: str | None = None
) -> Http404:
    detail = {"purpose": purpose} if purpose else {}
    record(request, "denied", object_type=what, object_id=str(ident)[:64], study_id=study_id, **detail)
    return Http404("not found")


def get_study_for_staff(request: HttpRequest, slug: str) -> Study:
    """The study, if the user holds any role in it."""
    study = Study.objects.filter(slug=slug).first()
    if study is None or not (request.user.is_superuser or memberships(request, study).exists()):
        raise _deny(request, "studies.study", slug, study.pk if study else None)
    return study


def get_study_for_admin(request: HttpRequest, slug: str) -> Study:
    study = Study.objects.filter(slug=slug).first()
    if study is None or not is_study_admin(request, study):
        raise _deny(request, "studies.study", slug, study.pk if study else None)
    return study


def research_sites(request: HttpRequest, study: Study) -> QuerySet[Site]:
    """The sites whose rows the user may see as a researcher: every site for a study admin, the sites of
    their site-researcher memberships otherwise (none for a therapist or an outsider)."""
    if is_study_admin(request, study):
        return study.sites.all()
    own = memberships(request, study).filter(role=Role.SITE_RESEARCHER, site__isnull=False)
    return study.sites.filter(pk__in=own.values("site_id"))


@dataclass(frozen=True)
class ResearchScope:
    """A study and the sites whose data the user may read (``whole_study`` for study admins)."""

    study: Study
    sites: QuerySet[Site]
    whole_study: bool


def get_study_for_research(request: HttpRequest, slug: str, purpose: str) -> ResearchScope:
    """The study with the user's research sites, for exports, the report and enrolment (``purpose``
    names which, for the audit trail). Study admins and site researchers pass; a therapist, an outsider
    or an anonymous caller gets a 404 and an audit event."""
    study = get_study_for_staff(request, slug)
    admin = is_study_admin(request, study)
    sites = research_sites(request, study)
    if not admin and not sites.exists():
        raise _deny(request, "studies.study", slug, study.pk, purpose=purpose)
    return ResearchScope(study=study, sites=sites, whole_study=admin)


def visible_clients(request: HttpRequest, study: Study) -> QuerySet[Client]:
    """Clients the user may see: admins all, site researchers their sites', therapists their own."""
    if is_study_admin(request, study):
        return study.clients.all()
    cond = Q(site__in=research_sites(request, study))
    if memberships(request, study).filter(role=Role.THERAPIST).exists():
        cond |= Q(therapist=request.user)
    return study.clients.filter(cond)


def get_client_for_staff(request: HttpRequest, study: Study, code: str) -> Client:
    client = visible_clients(request, study).filter(code=code).first()
    if client is None:
        raise _deny(request, "studies.client", code, study.pk)
    return client


def may_open_client_page(
    request: HttpRequest, study: Study, client: Client, admin: bool | None = None
) -> bool:
    """Whether the user may open the client's clinical page: the treating therapist or a study admin
    (``admin``: :func:`is_study_admin`, when the caller has it already, for a list of clients)."""
    if client.therapist_id == request.user.pk:
        return True
    return is_study_admin(request, study) if admin is None else admin


def get_client_for_therapist(request: HttpRequest, study: Study, code: str) -> Client:
    """Only the treating therapist (or a study admin) sees a client's clinical dashboard."""
    client = study.clients.filter(code=code).first()
    if client is None or not may_open_client_page(request, study, client):
        raise _deny(request, "studies.client", code, study.pk)
    return client


def get_invitation_for_participant(token: str) -> Invitation:
    """The invitation behind a participant's link (looked up by the token's hash)."""
    if not token or len(token) > 100:
        raise Http404("not found")
    inv = (
        Invitation.objects.select_related("study", "site", "client")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if inv is None:
        raise Http404("not found")
    return inv


# --- clinic (caseload, client page, alerts) -------------------------------------------------------------


def is_therapist(request: HttpRequest) -> bool:
    """Whether the user is a therapist in any study (their home page is then the caseload)."""
    if not request.user.is_authenticated:
        return False
    return Membership.objects.filter(user=request.user, role=Role.THERAPIST).exists()


def caseload_clients(request: HttpRequest) -> QuerySet[Client]:
    """The active clients the user treats, in the studies where the user is a therapist."""
    if not request.user.is_authenticated:
        return Client.objects.none()
    studies = Membership.objects.filter(user=request.user, role=Role.THERAPIST).values("study_id")
    return Client.objects.filter(therapist=request.user, withdrawn_at__isnull=True, study_id__in=studies)


def get_alert_for_therapist(request: HttpRequest, alert_id: int) -> Any:
    """An alert, if the user treats its client or is an admin of its study (same rule as the client page)."""
    from lacrima.web.clinic.models import Alert

    if not request.user.is_authenticated:
        raise _deny(request, "clinic.alert", alert_id)
    admin_of = Membership.objects.filter(user=request.user, role=Role.STUDY_ADMIN).values("study_id")
    alerts = Alert.objects.select_related("client", "study")
    if not request.user.is_superuser:
        alerts = alerts.filter(Q(client__therapist=request.user) | Q(study_id__in=admin_of))
    alert = alerts.filter(pk=alert_id).first()
    if alert is None:
        raise _deny(request, "clinic.alert", alert_id)
    return alert


def get_checkin_client_for_participant(token: str) -> Client:
    """The client behind a usable check-in link who has consented (the client's own view)."""
    inv = get_invitation_for_participant(token)
    if inv.kind != Invitation.Kind.CHECKIN or inv.client is None or inv.problem() is not None:
        raise Http404("not found")
    from lacrima.web.participate.models import Consent

    if not Consent.objects.filter(client=inv.client, agreed=True, withdrawn_at__isnull=True).exists():
        raise Http404("not found")
    return inv.client
