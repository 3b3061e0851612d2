"""What an importer returns: the data, its codebook, what was excluded and why, and notes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from lacrima._results import FrozenDict, Result
from lacrima.errors import DataError

__all__ = ["Codebook", "ImportResult"]


def _plain(code: Any) -> Any:
    """A value label's code as a plain int, float or str (so that 1, 1.0 and numpy ints compare equal)."""
    if isinstance(code, bool):
        return int(code)
    if hasattr(code, "item") and not isinstance(code, str):
        code = code.item()
    if isinstance(code, float) and math.isfinite(code) and code.is_integer():
        return int(code)
    return code


@dataclass(frozen=True)
class Codebook:
    """Variable labels and value labels of a table.

    Attributes
    ----------
    labels
        ``{column: label}``, e.g. ``{"wai_03": "I believe my therapist likes me"}``.
    values
        ``{column: {code: label}}``, e.g. ``{"gender": {1: "woman", 2: "man"}}``.
    """

    labels: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", FrozenDict({str(k): str(v) for k, v in self.labels.items()}))
        frozen = {
            str(k): FrozenDict({_plain(c): str(lab) for c, lab in v.items()})
            for k, v in self.values.items()
            if v
        }
        object.__setattr__(self, "values", FrozenDict(frozen))

    @property
    def columns(self) -> list[str]:
        """Every column that has a variable label or value labels."""
        return list(dict.fromkeys([*self.labels, *self.values]))

    def renamed(self, names: Mapping[str, str]) -> Codebook:
        """A copy with columns renamed by ``{old: new}`` (columns not named are kept)."""
        return Codebook(
            {names.get(k, k): v for k, v in self.labels.items()},
            {names.get(k, k): v for k, v in self.values.items()},
        )

    def restricted(self, columns: Iterable[str]) -> Codebook:
        """A copy holding only ``columns``."""
        keep = set(columns)
        return Codebook(
            {k: v for k, v in self.labels.items() if k in keep},
            {k: v for k, v in self.values.items() if k in keep},
        )

    def merged(self, other: Codebook) -> Codebook:
        """A copy with ``other``'s entries added where this codebook has none."""
        return Codebook({**other.labels, **self.labels}, {**other.values, **self.values})

    def to_frame(self) -> pd.DataFrame:
        """One row per column and value label: ``variable, label, value, value_label``.

        A column without value labels has one row with ``value`` and ``value_label`` missing.
        """
        rows: list[dict[str, Any]] = []
        for col in self.columns:
            label = self.labels.get(col)
            codes = self.values.get(col)
            if not codes:
                rows.append({"variable": col, "label": label, "value": None, "value_label": None})
            for code, text in (codes or {}).items():
                rows.append({"variable": col, "label": label, "value": code, "value_label": text})
        return pd.DataFrame(rows, columns=["variable", "label", "value", "value_label"])

    def to_json(self) -> str:
        """The codebook as JSON (value labels as ``[code, label]`` pairs, so codes keep their type)."""
        payload = {
            "variables": [
                {
                    "name": col,
                    "label": self.labels.get(col),
                    "values": [[code, text] for code, text in (self.values.get(col) or {}).items()],
                }
                for col in self.columns
            ]
        }
        return json.dumps(payload, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Codebook:
        """Read a codebook written by :meth:`to_json`."""
        try:
            payload = json.loads(text)
            labels = {v["name"]: v["label"] for v in payload["variables"] if v.get("label") is not None}
            values = {v["name"]: {c: lab for c, lab in v.get("values") or []} for v in payload["variables"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"the codebook is not in lacrima's JSON layout ({exc}); write it with Codebook.to_json()"
            ) from exc
        return cls(labels, values)


@dataclass(frozen=True, eq=False)
class ImportResult(Result):
    """A table brought in from a file, ready for :func:`lacrima.score` and the analyses.

    Attributes
    ----------
    data
        The respondent table (or session table) following lacrima's column contract: item columns named
        ``<prefix>_<nn>``, missing answers as NaN (never a sentinel such as -99).
    codebook
        Variable labels and value labels carried over from the source (SPSS labels, REDCap choices) or
        taken from the instruments.
    excluded
        ``{reason: number of rows dropped}``, e.g. ``{"Survey Preview": 2}``. Nothing is dropped silently.
    notes
        What the importer did that a careful reader should know (sentinels turned into NaN, renames).
    tables
        Further long tables from the same source, e.g. REDCap repeating instruments by instrument name.
    sessions
        The session table, when the source holds session check-ins (REDCap repeating instrument).
    source
        The file the data came from.
    table_codebooks
        The codebook of each of ``.tables`` by the same name, and of ``.sessions`` as ``"sessions"``.
    """

    data: pd.DataFrame
    codebook: Codebook = field(default_factory=Codebook)
    excluded: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    sessions: pd.DataFrame | None = None
    source: str = ""
    table_codebooks: Mapping[str, Codebook] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", MappingProxyType(dict(self.excluded)))
        object.__setattr__(self, "tables", MappingProxyType(dict(self.tables)))
        object.__setattr__(self, "table_codebooks", MappingProxyType(dict(self.table_codebooks)))
        object.__setattr__(self, "notes", tuple(self.notes))

    def all_tables(self) -> list[tuple[str | None, pd.DataFrame, Codebook]]:
        """Every table the import produced with its codebook, as ``(name, table, codebook)``: the main
        table first (name ``None``), then ``"sessions"`` (if any), then each of ``.tables``."""
        out: list[tuple[str | None, pd.DataFrame, Codebook]] = [(None, self.data, self.codebook)]
        if self.sessions is not None:
            out.append(("sessions", self.sessions, self.table_codebooks.get("sessions", Codebook())))
        for name, frame in self.tables.items():
            out.append((name, frame, self.table_codebooks.get(name, Codebook())))
        return out

    @property
    def n_excluded(self) -> int:
        """Rows dropped in total."""
        return sum(self.excluded.values())

    def table(self) -> pd.DataFrame:
        """What was kept and what was dropped: one row per reason (``reason, n``), ``kept`` first."""
        rows = [{"reason": "kept", "n": len(self.data)}]
        rows += [{"reason": reason, "n": n} for reason, n in self.excluded.items()]
        return pd.DataFrame(rows, columns=["reason", "n"])
