"""A study admin's page to read the audit trail of their study, filtered and paginated."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from lacrima.web import access
from lacrima.web.audit.log import record
from lacrima.web.audit.models import AuditEvent

PAGE_SIZE = 50


class TrailFilter(forms.Form):
    action = forms.ChoiceField(choices=[("", "any action"), *AuditEvent.Action.choices], required=False)
    actor = forms.CharField(max_length=150, required=False, help_text="A user name or participant:CODE")
    object_type = forms.CharField(max_length=64, required=False, label="Object type")
    object_id = forms.CharField(max_length=64, required=False, label="Object id")
    since = forms.DateField(
        required=False, label="From (date)", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(required=False, label="To (date)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date is before the start date.")
        return data

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("actor"):
            events = events.filter(actor_label=data["actor"].strip())
        if data.get("object_type"):
            events = events.filter(object_type=data["object_type"].strip())
        if data.get("object_id"):
            events = events.filter(object_id=data["object_id"].strip())
        tz = timezone.get_current_timezone()
        if data.get("since"):
            events = events.filter(at__gte=datetime.combine(data["since"], time.min, tzinfo=tz))
        if data.get("until"):
            events = events.filter(at__lte=datetime.combine(data["until"], time.max, tzinfo=tz))
        return events


@login_required
def study_trail(request: HttpRequest, slug: str) -> HttpResponse:
    """Audit events of one study, newest first, for its study admins only (others: 404, audit-logged)."""
    study = access.get_study_for_admin(request, slug)
    form = TrailFilter(request.GET or None)
    events = AuditEvent.objects.filter(study_id=study.pk).order_by("-at", "-id")
    status = 200
    if form.is_bound:
        if form.is_valid():
            events = form.apply(events)
        else:
            events, status = events.none(), 422
    filters = {k: request.GET[k][:150] for k in form.fields if request.GET.get(k)}
    # recorded before the page is counted, so that this reading is on the page it produced
    record(
        request, "read", object_type="audit.trail", object_id=study.slug, study_id=study.pk, filters=filters
    )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"study": study, "form": form, "page": page, "query": urlencode(filters)}
    return render(request, "audit/trail.html", ctx, status=status)
