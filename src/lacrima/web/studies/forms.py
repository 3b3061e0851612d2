"""Staff forms. Instrument choices come from the shipped instrument definitions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from lacrima.instruments import list_instruments, load_instrument
from lacrima.web.accounts.models import Membership
from lacrima.web.participate.catalog import SUPPORTED
from lacrima.web.studies.models import Client, Site, Study, validate_client_code

LANG_CHOICES = [(c, c) for c in SUPPORTED]


def _instrument_choices(kind: str) -> list[tuple[str, str]]:
    out = []
    for iid in list_instruments():
        ins = load_instrument(iid)
        if (kind == "checkin") == (ins.kind == "checkin"):
            note = "" if ins.redistribute_text else " (licensed: item text must be supplied)"
            out.append((iid, f"{ins.name}{note}"))
    return out


class StudyForm(forms.ModelForm):
    survey_instruments = forms.MultipleChoiceField(
        choices=lambda: _instrument_choices("survey"), required=False, widget=forms.CheckboxSelectMultiple
    )
    checkin_instruments = forms.MultipleChoiceField(
        choices=lambda: _instrument_choices("checkin"), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Study
        fields = ["slug", "title", "kind", "survey_instruments", "checkin_instruments", "invitation_days"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind in (Study.Kind.SURVEY, Study.Kind.BOTH) and not data.get("survey_instruments"):
            self.add_error("survey_instruments", "A study with a survey needs at least one instrument.")
        if kind in (Study.Kind.CHECKIN, Study.Kind.BOTH) and not data.get("checkin_instruments"):
            self.add_error("checkin_instruments", "A study with check-ins needs the check-in instrument.")
        for iid in [*data.get("survey_instruments", []), *data.get("checkin_instruments", [])]:
            if not load_instrument(iid).redistribute_text:
                self.add_error(
                    None,
                    f"{iid} is a licensed instrument whose item text lacrima cannot ship; add its text from "
                    "your licensed copy before using it in a web survey.",
                )
        return data


class SiteForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(choices=LANG_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Site
        fields = ["code", "name", "country", "languages"]


class ConsentForm(forms.Form):
    language = forms.ChoiceField(choices=LANG_CHOICES)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}))


class EnrolForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = ["code", "site", "therapist", "language"]

    def __init__(self, *args: Any, study: Study, sites: Any, therapists: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.study = study
        self.fields["site"].queryset = sites
        self.fields["therapist"].queryset = therapists
        self.fields["language"] = forms.ChoiceField(choices=LANG_CHOICES)

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"]).strip()
        validate_client_code(code)  # URL-safe: the code is part of the client page's address
        if Client.objects.filter(study=self.study, code=code).exists():
            raise forms.ValidationError("This code is already enrolled in the study.")
        return code


class InvitationBatchForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    count = forms.IntegerField(min_value=1, max_value=500, initial=10)
    days = forms.IntegerField(min_value=1, max_value=365, initial=30, help_text="Days until the links expire")

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites


def therapist_users(study: Study) -> Any:
    role = Membership.Role.THERAPIST
    return User.objects.filter(memberships__study=study, memberships__role=role).distinct()
