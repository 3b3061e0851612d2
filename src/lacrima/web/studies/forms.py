"""Staff forms. Instrument choices come from the shipped instrument definitions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import User

from lacrima.errors import DataError
from lacrima.instruments import list_instruments, load_instrument
from lacrima.web.accounts.models import Membership
from lacrima.web.studies.models import Client, Site, Study, validate_client_code
from lacrima.web.studies.schedule import EXAMPLE, validate_schedule

LANG_CHOICES = list(settings.LANGUAGES)


def _instrument_choices(kind: str) -> list[tuple[str, str]]:
    out = []
    for iid in list_instruments():
        ins = load_instrument(iid)
        if (kind == "checkin") == (ins.kind == "checkin"):
            note = "" if ins.redistribute_text else " (licensed: attach the item text of your copy)"
            out.append((iid, f"{ins.name}{note}"))
    return out


def _survey_ids() -> list[str]:
    return [i for i in list_instruments() if load_instrument(i).kind != "checkin"]


def parse_instrument_list(text: str) -> list[str]:
    """Instrument ids in page order from ``"demographics, ecr_r, phq9"``; ValidationError naming each
    unknown or repeated id."""
    ids = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    known = _survey_ids()
    errors = [f"{i!r} is not a survey instrument" for i in ids if i not in known]
    errors += [f"{i!r} is listed twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if errors:
        raise forms.ValidationError(errors)
    return ids


class StudyForm(forms.ModelForm):
    """Study set-up. Licensed instruments (WAI-SR, ECR-R, ECR-S) may be chosen; participants see them only
    once their text is attached on the study's licensed-texts page (the one check in studies.licensed)."""

    survey_instruments = forms.CharField(
        required=False,
        help_text="Instrument ids in page order, comma-separated; available: " + ", ".join(_survey_ids()),
    )
    checkin_instruments = forms.MultipleChoiceField(
        choices=lambda: _instrument_choices("checkin"), required=False, widget=forms.CheckboxSelectMultiple
    )
    schedule = forms.JSONField(
        required=False,
        help_text="What a client's link asks: intake instruments and repeated measures by session, e.g. "
        + str(EXAMPLE).replace("'", '"'),
    )

    class Meta:
        model = Study
        fields = [
            "slug",
            "title",
            "kind",
            "survey_instruments",
            "checkin_instruments",
            "schedule",
            "invitation_days",
            "contact",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["survey_instruments"] = ", ".join(self.instance.survey_instruments)

    def clean_survey_instruments(self) -> list[str]:
        return parse_instrument_list(self.cleaned_data.get("survey_instruments") or "")

    def clean_schedule(self) -> dict[str, Any]:
        value = self.cleaned_data.get("schedule") or {}
        try:
            return validate_schedule(value)
        except DataError as exc:
            raise forms.ValidationError([str(p) for p in exc.problems]) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind in (Study.Kind.SURVEY, Study.Kind.BOTH) and not data.get("survey_instruments"):
            self.add_error("survey_instruments", "A study with a survey needs at least one instrument.")
        if kind in (Study.Kind.CHECKIN, Study.Kind.BOTH) and not data.get("checkin_instruments"):
            self.add_error("checkin_instruments", "A study with check-ins needs the check-in instrument.")
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
    """Enrolment: the therapist offered are those who hold the therapist role at the enrolling sites, and
    the one chosen must treat at the chosen site."""

    class Meta:
        model = Client
        fields = ["code", "site", "therapist", "language"]

    def __init__(self, *args: Any, study: Study, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.study = study
        self.fields["site"].queryset = sites
        self.fields["therapist"].queryset = therapist_users(study, sites)
        self.fields["therapist"].label_from_instance = lambda u: (
            f"{u.get_username()} ({', '.join(therapist_sites(study, u))})"
        )
        self.fields["language"] = forms.ChoiceField(choices=LANG_CHOICES)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        site, therapist = data.get("site"), data.get("therapist")
        if (
            site is not None
            and therapist is not None
            and not therapist_users(study=self.study, sites=[site]).filter(pk=therapist.pk).exists()
        ):
            self.add_error("therapist", f"{therapist.get_username()} is not a therapist at {site.name}.")
        return data

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"]).strip()
        validate_client_code(code)  # URL-safe: the code is part of the client page's address
        if Client.objects.filter(study=self.study, code=code).exists():
            raise forms.ValidationError("This code is already enrolled in the study.")
        return code


class InvitationBatchForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    count = forms.IntegerField(min_value=1, max_value=500, initial=10)
    days = forms.IntegerField(min_value=1, max_value=365, help_text="Days until the links expire")

    def __init__(self, *args: Any, sites: Any, study: Study, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["days"].initial = study.invitation_days or 30


def therapist_users(study: Study, sites: Any) -> Any:
    """Users holding the therapist role at one of ``sites`` of the study."""
    return (
        User.objects.filter(
            memberships__study=study, memberships__role=Membership.Role.THERAPIST, memberships__site__in=sites
        )
        .distinct()
        .order_by("username")
    )


def therapist_sites(study: Study, user: Any) -> list[str]:
    return sorted(
        Site.objects.filter(
            study=study, memberships__user=user, memberships__role=Membership.Role.THERAPIST
        ).values_list("name", flat=True)
    )


def licensed_instrument_choices() -> list[tuple[str, str]]:
    return [
        (iid, load_instrument(iid).name)
        for iid in list_instruments()
        if not load_instrument(iid).redistribute_text
    ]


class LicensedTextForm(forms.Form):
    """Upload of one language's item texts of a licensed instrument (previewed before it is attached)."""

    instrument = forms.ChoiceField(choices=licensed_instrument_choices)
    language = forms.ChoiceField(choices=LANG_CHOICES)
    file = forms.FileField(
        required=False,
        help_text="YAML or JSON following lacrima/instruments/texts_schema.json: "
        '"instrument: wai_sr" and "items:" mapping each item number to {language: text}',
    )
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    licence_statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Where the text comes from and under which licence or permission the study uses it",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            data["raw"] = upload.read()
            data["content"] = data["raw"].decode("utf-8", errors="replace")
        elif data.get("content"):
            data["raw"] = str(data["content"]).encode("utf-8")
        else:
            self.add_error("file", "Choose the texts file of your licensed copy.")
        return data


class SessionNumberForm(forms.Form):
    """The therapist's correction of the session number the server gave a check-in."""

    session = forms.IntegerField(min_value=1, max_value=1000)
    reason = forms.CharField(max_length=200, help_text="Why the number was wrong (kept in the audit log)")
