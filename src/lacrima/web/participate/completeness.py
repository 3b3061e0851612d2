"""What a participant must answer: the completeness rule of each instrument, as its scoring needs it.

- An item marked ``required`` must be answered when it is shown.
- Each subscale needs what the instrument's missing-data rule needs to score it: with ``prorate``, at
  least ``min_answered`` of its shown items (a fraction such as 0.75, or a count such as 7 of PHQ-9's 9);
  with ``complete``, all of them. Items of the subscale on later pages still count as possible, so a page
  is refused only when the subscale can no longer be scored; then every unanswered item of that subscale
  on the page is marked, and the others may be skipped.
- A page with questions on it and not one answer is refused.

An instrument without subscales (background questions) lets the participant skip any single question.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.utils.translation import gettext as _

from lacrima.instruments import Instrument, Item


def is_visible(item: Item, answers: Mapping[str, Any]) -> bool:
    """Whether an item is shown given the answers so far (``show_if`` names a gate and its values)."""
    if item.show_if is None:
        return True
    column, allowed = item.show_if
    value = answers.get(column)
    return value is not None and any(str(value) == str(a) for a in allowed)


def needed(ins: Instrument, k: int) -> int:
    """How many of a subscale's ``k`` shown items the instrument's scoring needs."""
    if ins.missing_rule == "complete":
        return k
    m = ins.min_answered
    return min(k, math.ceil(m * k - 1e-9)) if m <= 1 else min(k, int(m))


def page_problems(
    entries: Sequence[tuple[Instrument, Item]],
    answers: Mapping[str, Any],
    shown: Collection[str],
    later: Collection[str],
) -> tuple[dict[str, str], bool]:
    """(column -> message for each item that must still be answered, whether the page is blank)."""
    problems: dict[str, str] = {}
    on_page = [it for _ins, it in entries if it.column in shown]
    answered = {c for c, v in answers.items() if v is not None}
    for it in on_page:
        if it.required and it.column not in answered:
            problems[it.column] = _("Please answer this question.")
    instruments = {ins.id: ins for ins, _it in entries}
    for ins in instruments.values():
        page_cols = {it.column for i, it in entries if i is ins and it.column in shown}
        for sub in ins.subscales.values():
            cols = [ins.item(n).column for n in sub.items if is_visible(ins.item(n), answers)]
            need = needed(ins, len(cols))
            have = sum(c in answered for c in cols)
            possible = sum(c in later and c not in answered for c in cols)
            if have + possible >= need:
                continue
            message = _(
                "Please answer this question: %(needed)s of these %(total)s questions are needed, "
                "%(answered)s are answered."
            ) % {"needed": need, "total": len(cols), "answered": have}
            for c in cols:
                if c in page_cols and c not in answered:
                    problems.setdefault(c, message)
    blank = bool(on_page) and not any(it.column in answered for it in on_page)
    return problems, blank


def unmet(ins: Instrument, answers: Mapping[str, Any]) -> list[str]:
    """Columns of ``ins`` that block it from counting as complete (an empty list when it is complete)."""
    shown = [it.column for it in ins.items if is_visible(it, answers)]
    problems, blank = page_problems([(ins, it) for it in ins.items], answers, shown, ())
    return sorted(problems) if problems or not blank else shown
