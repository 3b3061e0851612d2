"""Forms for the clinic's few inputs: acknowledging an alert, adding a note, correcting a session date,
assigning a client's therapist."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone


class AcknowledgeForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, alert: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alert = alert

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        note = (data.get("note") or "").strip()
        data["note"] = note
        if self.alert is not None and self.alert.kind == "risk-item" and self.alert.open and not note:
            raise forms.ValidationError(
                "A risk item is resolved with a note: say what you did (e.g. safety plan reviewed, "
                "crisis contact given)."
            )
        return data


class NoteForm(forms.Form):
    text = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("The note is empty.")
        return text


class SessionDateForm(forms.Form):
    session = forms.IntegerField(min_value=1, max_value=500)
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, sessions: set[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = sessions or set()

    def clean_session(self) -> int:
        session = self.cleaned_data["session"]
        if session not in self.sessions:
            raise forms.ValidationError(
                f"Session {session} has no check-in; only recorded sessions get dates."
            )
        return session

    def clean_date(self) -> Any:
        day = self.cleaned_data["date"]
        if day > timezone.localdate():
            raise forms.ValidationError("A session date cannot be in the future.")
        return day


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
