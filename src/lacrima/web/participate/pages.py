"""Instruments as web pages: which items go on which page, and server-side validation of answers.

The browser is never trusted: every posted value is checked against the instrument definition, unknown
fields reject the whole page, and only a page that validates in full is saved.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from lacrima.instruments import Instrument, Item, load_instrument
from lacrima.web.participate.catalog import text

PAGE_SIZE = 8
CONTROL_FIELDS = frozenset({"csrfmiddlewaretoken", "page", "idempotency_key", "session", "action"})


@dataclass(frozen=True)
class Page:
    number: int
    instrument: Instrument
    items: tuple[Item, ...]


@dataclass
class PageResult:
    cleaned: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.form_errors


def _gates(instrument: Instrument) -> set[str]:
    return {it.show_if[0] for it in instrument.items if it.show_if is not None}


def build_pages(instrument_ids: Sequence[str]) -> list[Page]:
    """Split each instrument into pages of at most PAGE_SIZE items; an item that gates later items ends
    its page, so that the server knows the gate's answer before it shows what depends on it."""
    pages: list[Page] = []
    for iid in instrument_ids:
        ins = load_instrument(iid)
        gates = _gates(ins)
        chunk: list[Item] = []
        for it in ins.items:
            chunk.append(it)
            if len(chunk) >= PAGE_SIZE or it.column in gates:
                pages.append(Page(len(pages), ins, tuple(chunk)))
                chunk = []
        if chunk:
            pages.append(Page(len(pages), ins, tuple(chunk)))
    return pages


@functools.cache
def checkin_page(instrument_ids: tuple[str, ...]) -> Page:
    """All items of a study's check-in instruments on one page (a check-in takes under a minute)."""
    instruments = [load_instrument(i) for i in instrument_ids]
    return Page(0, instruments[0], tuple(it for ins in instruments for it in ins.items))


def is_visible(item: Item, answers: Mapping[str, Any]) -> bool:
    if item.show_if is None:
        return True
    column, allowed = item.show_if
    value = answers.get(column)
    return value is not None and any(_same(value, a) for a in allowed)


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def visible_items(page: Page, answers: Mapping[str, Any]) -> list[Item]:
    return [it for it in page.items if is_visible(it, answers)]


def _clean_value(item: Item, raw: str, language: str) -> tuple[Any, str | None]:
    if item.type in ("choice",):
        allowed = {str(c) for c in item.allowed_codes() or set()}
        if raw not in allowed:
            return None, text(language, "invalid_choice")
        for opt in item.options:
            if str(opt.code) == raw:
                return opt.code, None
    if item.type == "text":
        return raw[:1000], None
    scale = item.scale
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if scale is None or math.isnan(value):
        return None, text(language, "invalid_choice")
    if item.type == "numeric":
        if not scale.min <= value <= scale.max:
            return None, text(language, "invalid_number", min=f"{scale.min:g}", max=f"{scale.max:g}")
        return (int(value) if value.is_integer() else value), None
    if value not in scale.values():
        return None, text(language, "invalid_choice")
    return int(value) if value.is_integer() else value, None


def validate_page(
    page: Page, post: QueryDict | Mapping[str, Any], language: str, answers: Mapping[str, Any]
) -> PageResult:
    """Check one submitted page against its items; answers of hidden items are dropped, not trusted."""
    result = PageResult()
    page_columns = {it.column for it in page.items}
    multi = {it.column for it in page.items if it.type == "multi_choice"}
    submitted = [k for k in post if k not in CONTROL_FIELDS]
    unknown = [k for k in submitted if k not in page_columns]
    if unknown:
        result.form_errors.append(text(language, "unknown_field"))
        return result
    merged = dict(answers)
    # Gates on this page decide visibility of later items on the same page.
    for it in page.items:
        raw = post.get(it.column, "")
        merged[it.column] = raw if raw != "" else None
    for it in page.items:
        if not is_visible(it, merged):
            result.cleaned[it.column] = None
            continue
        if it.column in multi:
            getlist = getattr(post, "getlist", None)
            raws = getlist(it.column) if getlist else list(post.get(it.column) or [])
            allowed = {str(c) for c in it.allowed_codes() or set()}
            bad = [r for r in raws if r not in allowed]
            if bad:
                result.errors[it.column] = text(language, "invalid_choice")
            elif not raws and it.required:
                result.errors[it.column] = text(language, "required")
            else:
                result.cleaned[it.column] = [o.code for o in it.options if str(o.code) in raws] or None
            continue
        raw = str(post.get(it.column, "")).strip()
        if raw == "":
            if it.required:
                result.errors[it.column] = text(language, "required")
            result.cleaned[it.column] = None
            continue
        value, error = _clean_value(it, raw, language)
        if error:
            result.errors[it.column] = error
        else:
            result.cleaned[it.column] = value
    return result
