"""Template filters of the clinic pages."""

from __future__ import annotations

from typing import Any

from django import template

from lacrima.web.clinic.charts import ALERT_LABELS, CHANGE_NAMES, PRIORITY_LABELS

register = template.Library()


@register.filter
def alert_label(kind: str) -> str:
    """The translated name of an alert kind (the one list of names: ``charts.ALERT_LABELS``)."""
    return str(ALERT_LABELS.get(kind, kind))


@register.filter
def priority_label(priority: str) -> str:
    """The translated name of an alert priority."""
    return str(PRIORITY_LABELS.get(priority, priority))


@register.filter
def change_label(change: str) -> str:
    """The translated name of a reliable-change status (``evaluate.SymptomStatus.change``)."""
    return str(CHANGE_NAMES.get(change, change))


@register.inclusion_tag("clinic/_recovery_fits.html")
def recovery_fits(study: Any) -> dict[str, Any]:
    """The study's newest expected-recovery fit per measure, for the study admin's refit button."""
    from lacrima.web.clinic.charts import SYMPTOM_NAMES
    from lacrima.web.clinic.models import ExpectedRecoveryFit

    rows = []
    for instrument, name in SYMPTOM_NAMES.items():
        fit = ExpectedRecoveryFit.objects.filter(study=study, instrument=instrument).order_by("-pk").first()
        rows.append({"instrument": instrument, "name": name, "fit": fit})
    return {"study": study, "rows": rows}
