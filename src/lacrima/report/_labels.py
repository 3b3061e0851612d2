"""Readable labels for score columns, from the instrument definitions."""

from __future__ import annotations

import functools

from lacrima.instruments import list_instruments, load_instrument

_SPECIAL = {
    "cried_in_therapy": "Cried in therapy",
    "gender": "Gender",
    "site": "Site",
    "age": "Age",
    "wai_total": "Working alliance (WAI-SR total)",
}


@functools.cache
def _by_column() -> dict[str, str]:
    out: dict[str, str] = {}
    for iid in list_instruments():
        ins = load_instrument(iid)
        for name, sub in ins.subscales.items():
            out.setdefault(f"{ins.prefix}_{name}", sub.label.get("en") or name.replace("_", " ").capitalize())
    out.update(_SPECIAL)
    return out


def label(column: str) -> str:
    """``cry_positive_feelings`` -> ``Positive feelings after crying``; unknown columns are prettified."""
    return _by_column().get(column) or column.replace("_", " ").capitalize()
