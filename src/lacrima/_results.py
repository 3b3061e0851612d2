"""Shared behaviour of lacrima's frozen result objects.

A result is a frozen dataclass. It offers ``.table()`` (a tidy DataFrame), ``to_dict()`` (plain Python
types, JSON-ready) and ``_repr_html_`` for notebooks. Numbers are never rounded here: only
:mod:`lacrima.report` rounds.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Result", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Turn numpy/pandas values and containers into JSON-ready Python objects (NaN becomes None)."""
    if isinstance(value, Result):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if not isinstance(value.index, pd.RangeIndex) else value
        return [{str(k): to_jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (int, str)):
        return value
    return str(value)


class Result:
    """Mixin for frozen result dataclasses.

    Subclasses are ``@dataclass(frozen=True)`` and override :meth:`table` when a better tidy layout than
    the default (one row of scalar fields) exists.
    """

    def table(self) -> pd.DataFrame:
        """The result as a tidy DataFrame (default: one row with every scalar field)."""
        row: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, (int, float, str, bool, np.integer, np.floating)) or v is None:
                row[f.name] = v
            elif isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
                row[f"{f.name}_low"], row[f"{f.name}_high"] = v
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-ready Python values."""
        out = {"type": type(self).__name__}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = to_jsonable(getattr(self, f.name))
        return out

    def _repr_html_(self) -> str:
        frame = self.table()
        return f"<strong>{type(self).__name__}</strong>" + frame.to_html(
            index=not isinstance(frame.index, pd.RangeIndex)
        )
