"""Forms for the clinic's few inputs: acknowledging an alert, adding a note, correcting a session date,
assigning a client's therapist."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, alert: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alert = alert

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        note = (data.get("note") or "").strip()
        data["note"] = note
        if self.alert is not None and self.alert.kind == "risk-item" and self.alert.open and not note:
            raise forms.ValidationError(
                _(
                    "A risk item is resolved with a note: say what you did (e.g. safety plan reviewed, "
                    "crisis contact given)."
                )
            )
        return data


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError(_("The note is empty."))
        return text


class SessionDateForm(forms.Form):
    """A session's corrected date: a session with a check-in, not in the future, and in order with the
    client's other sessions (their dates as the clinic shows them, ``dates``: a date before the previous
    session's or after the next one's would reorder the course and raise alerts for sessions that
    were never missed)."""

    session = forms.IntegerField(label=_("Session"), min_value=1, max_value=500)
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self,
        *args: Any,
        sessions: set[int] | None = None,
        dates: dict[int, datetime.date | None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = sessions or set()
        self.dates = dates or {}

    def clean_session(self) -> int:
        session = self.cleaned_data["session"]
        if session not in self.sessions:
            raise forms.ValidationError(
                _("Session %(session)s has no check-in; only recorded sessions get dates."),
                params={"session": session},
            )
        return session

    def clean_date(self) -> Any:
        day = self.cleaned_data["date"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("A session date cannot be in the future."))
        return day

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        session, day = data.get("session"), data.get("date")
        if session is None or day is None:
            return data
        dated = {s: d for s, d in self.dates.items() if d is not None and s != session}
        before = [s for s in dated if s < session and dated[s] > day]
        after = [s for s in dated if s > session and dated[s] < day]
        if before:
            other = max(before)
            msg = _("Session %(session)s cannot be dated before session %(other)s (%(other_date)s).")
        elif after:
            other = min(after)
            msg = _("Session %(session)s cannot be dated after session %(other)s (%(other_date)s).")
        else:
            return data
        params = {"session": session, "other": other, "other_date": dated[other].isoformat()}
        raise forms.ValidationError(msg, params=params)


class AssignTherapistForm(forms.Form):
    """The study admin assigns a client to a therapist of the client's site (e.g. after the treating
    therapist's account was removed)."""

    therapist = forms.ModelChoiceField(queryset=None, empty_label=None)  # type: ignore[arg-type]

    def __init__(self, *args: Any, client: Any, **kwargs: Any) -> None:
        from lacrima.web.studies.forms import therapist_users

        super().__init__(*args, **kwargs)
        field = self.fields["therapist"]
        field.queryset = therapist_users(client.study, [client.site])  # type: ignore[attr-defined]
        field.error_messages["invalid_choice"] = f"Choose a therapist of {client.site.name}."
