"""Participant pages as Django forms generated from the instrument definitions.

A page holds items of one instrument (a survey page) or of all check-in instruments (the check-in). Each
item becomes a field: a choice field whose options carry the instrument's labels, a number field with the
scale's range, or a short text. ``clean()`` applies ``show_if`` (answers to hidden items are dropped,
never trusted), refuses answers to questions not on the page, and applies the completeness rule
(:mod:`lacrima.web.participate.completeness`). The participant page and the JSON API validate through
this form, so both refuse the same answers with the same messages.

Build forms inside ``translation.override(language)``: labels and messages are taken in the active
language. Item texts are instrument data (with the study's licensed texts attached), never gettext.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import global_settings
from django.utils.translation import gettext as _

from lacrima.instruments import Instrument, Item
from lacrima.web.participate.completeness import is_visible, page_problems

PAGE_SIZE = 8
CONTROL_FIELDS = frozenset({"csrfmiddlewaretoken", "page", "idempotency_key", "action"})

Entry = tuple[Instrument, Item]


@dataclass(frozen=True)
class Page:
    number: int
    instrument: Instrument
    items: tuple[Item, ...]

    @property
    def entries(self) -> list[Entry]:
        return [(self.instrument, it) for it in self.items]


def build_pages(instruments: Sequence[Instrument]) -> list[Page]:
    """Each instrument on pages of at most PAGE_SIZE items, in the order the researcher set. A question
    gated by another on the same page is shown or hidden by the page's script as the gate is answered;
    the form applies the same rule on the server."""
    pages: list[Page] = []
    for ins in instruments:
        for start in range(0, len(ins.items), PAGE_SIZE):
            pages.append(Page(len(pages), ins, tuple(ins.items[start : start + PAGE_SIZE])))
    return pages


def _number(raw: str) -> int | float:
    value = float(raw)
    return int(value) if value.is_integer() else value


def _scale_choices(item: Item, language: str) -> list[tuple[str, str]]:
    scale = item.scale
    if scale is None:
        return []
    values = scale.values()
    labels = {v: scale.labels.get(int(v), {}).get(language) for v in values if float(v).is_integer()}
    every = all(labels.get(v) for v in values)
    out = []
    for v in values:
        label = labels.get(v)
        out.append((f"{v:g}", label if every and label else (f"{v:g} – {label}" if label else f"{v:g}")))
    return out


def country_choices() -> list[tuple[str, str]]:
    """Countries (ISO 3166-1 alpha-2) named in the active language, sorted by name."""
    from django_countries import countries

    return [(str(code), str(name)) for code, name in countries]


def language_choices() -> list[tuple[str, str]]:
    """Languages (ISO 639-1) named in the active language, from Django's own list and catalogs."""
    seen: dict[str, str] = {}
    for code, name in global_settings.LANGUAGES:
        base = code.split("-")[0]
        if len(base) == 2 and base not in seen:
            seen[base] = _(name)
    return sorted(seen.items(), key=lambda kv: kv[1].casefold())


# Background questions answered from a list (named in the participant's language), not typed codes.
LISTS: dict[tuple[str, str], Callable[[], list[tuple[str, str]]]] = {
    ("demographics", "country"): country_choices,
    ("demographics", "language"): language_choices,
}


def _messages() -> dict[str, str]:
    return {
        "invalid_choice": _("Please choose one of the answers shown."),
        "invalid": _("Please choose one of the answers shown."),
        "required": _("Please answer this question."),
    }


def build_field(ins: Instrument, item: Item, language: str) -> forms.Field:
    """The form field of one item, labelled in ``language`` (the instrument's own texts and labels)."""
    label = item.text[language]
    messages = _messages()
    listed = LISTS.get((ins.id, item.column))
    if listed is not None:
        return forms.ChoiceField(
            label=label, choices=[("", "—"), *listed()], required=False, error_messages=messages
        )
    if item.options:
        codes = {str(o.code): o.code for o in item.options}
        choices = [(str(o.code), o.label[language]) for o in item.options]
        if item.type == "multi_choice":
            return forms.TypedMultipleChoiceField(
                label=label,
                choices=choices,
                coerce=codes.__getitem__,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                error_messages=messages,
            )
        return forms.TypedChoiceField(
            label=label,
            choices=choices,
            coerce=codes.__getitem__,
            empty_value=None,
            required=False,
            widget=forms.RadioSelect,
            error_messages=messages,
        )
    scale = item.scale
    if item.type == "numeric" and scale is not None:
        between = _("Please enter a number between %(min)s and %(max)s.") % {
            "min": f"{scale.min:g}",
            "max": f"{scale.max:g}",
        }
        return forms.FloatField(
            label=label,
            min_value=scale.min,
            max_value=scale.max,
            required=False,
            widget=forms.NumberInput(attrs={"inputmode": "decimal"}),
            error_messages={**messages, "invalid": between, "min_value": between, "max_value": between},
        )
    if item.type in ("likert", "boolean") and scale is not None:
        return forms.TypedChoiceField(
            label=label,
            choices=_scale_choices(item, language),
            coerce=_number,
            empty_value=None,
            required=False,
            widget=forms.RadioSelect,
            error_messages=messages,
        )
    return forms.CharField(
        label=label, max_length=1000, required=False, empty_value=None, error_messages=messages
    )


_FIELDS: dict[tuple[Any, ...], dict[str, forms.Field]] = {}


def _fields(entries: Sequence[Entry], language: str) -> dict[str, forms.Field]:
    """The page's fields, built once per page and language and shared by its forms (nothing mutates a
    field while a form validates; building them was a third of a check-in's CPU time)."""
    key = (language, *((ins.id, it.column, it.text.get(language)) for ins, it in entries))
    built = _FIELDS.get(key)
    if built is None:
        if len(_FIELDS) > 500:
            _FIELDS.clear()
        built = _FIELDS[key] = {it.column: build_field(ins, it, language) for ins, it in entries}
    return built


class InstrumentPageForm(forms.Form):
    """One page of items; ``previous`` are the answers already saved, ``later`` the columns of pages
    still to come (the completeness rule counts on them)."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        entries: Sequence[Entry],
        language: str,
        previous: Mapping[str, Any] | None = None,
        later: Collection[str] = (),
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=initial)
        self.entries = list(entries)
        self.language = language
        self.previous = dict(previous or {})
        self.later = frozenset(later)
        self.fields.update(_fields(self.entries, language))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        unknown = sorted(k for k in self.data if k not in self.fields and k not in CONTROL_FIELDS)
        if unknown:
            raise forms.ValidationError(
                _(
                    "The form contained answers to questions that are not part of this survey; "
                    "please reload the page and try again."
                ),
                code="unknown",
            )
        merged = dict(self.previous)
        for _ins, it in self.entries:
            if not is_visible(it, merged):
                data[it.column] = None
                self.errors.pop(it.column, None)
            value = data.get(it.column)
            merged[it.column] = None if value in ("", []) else value
            data[it.column] = merged[it.column]
        shown = [it.column for _ins, it in self.entries if is_visible(it, merged)]
        problems, blank = page_problems(self.entries, merged, shown, self.later)
        for column, message in problems.items():
            if column not in self.errors:
                self.add_error(column, message)
        if blank and not self.errors:
            raise forms.ValidationError(_("Please answer at least one question on this page."), code="blank")
        return data

    def problems(self) -> dict[str, str]:
        """Field -> first message, and ``__all__`` for the page's own message (the API returns these)."""
        return {k: str(v[0]) for k, v in self.errors.items()}

    def rows(self) -> list[dict[str, Any]]:
        """What the template shows per item: the bound field and the attributes the gating script uses."""
        out = []
        on_page = set(self.fields)
        for _ins, it in self.entries:
            bound = self[it.column]
            field = bound.field
            radio = isinstance(field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple)
            out.append(
                {
                    "field": bound,
                    "column": it.column,
                    "choices": radio,
                    "gate": it.show_if[0] if it.show_if else "",
                    "gate_values": "|".join(str(v) for v in it.show_if[1]) if it.show_if else "",
                    # a gate on this page is applied by the page's script (without it, all are shown)
                    "hidden": it.show_if is not None
                    and it.show_if[0] not in on_page
                    and not is_visible(it, {**self.previous, **self._current()}),
                }
            )
        return out

    def _current(self) -> dict[str, Any]:
        if hasattr(self, "cleaned_data"):
            return {k: v for k, v in self.cleaned_data.items() if v is not None}
        if self.is_bound:
            return {k: self.data.get(k) for k in self.fields if self.data.get(k) not in (None, "")}
        return {k: v for k, v in self.initial.items() if v is not None}


def form_data(answers: Mapping[str, Any]) -> dict[str, Any]:
    """JSON answers as form data (what a browser would post)."""
    out: dict[str, Any] = {}
    for k, v in answers.items():
        if v is None or (isinstance(v, float) and v != v):
            out[k] = ""
        elif isinstance(v, list):
            out[k] = [str(x) for x in v]
        elif isinstance(v, float) and v.is_integer():
            out[k] = str(int(v))
        else:
            out[k] = str(v)
    return out
