"""Checking item values against an instrument before scoring.

Every problem is collected (not just the first) so that a researcher can fix a file in one pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lacrima._results import Check
from lacrima.errors import DataError, Problem
from lacrima.instruments import Instrument, Item, load_instrument

__all__ = [
    "ValidationReport",
    "as_instrument",
    "item_masks",
    "item_values",
    "shown_mask",
    "shown_masks",
    "validate",
    "validate_with_masks",
]

_STEP_TOL = 1e-9


def as_instrument(instrument: str | Instrument) -> Instrument:
    """An :class:`Instrument` from an id (``"ecr_r"``), a YAML path, or an Instrument itself."""
    if isinstance(instrument, Instrument):
        return instrument
    if isinstance(instrument, str):
        return load_instrument(instrument)
    raise DataError(
        f"instrument must be an id such as 'wai_sr' or an Instrument, not {type(instrument).__name__}"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return repr(value) if isinstance(value, str) else str(value)


def _row_label(label: Any) -> int | str:
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        return int(label)
    return str(label)


def _range_words(item: Item, instrument: Instrument) -> str:
    scale = item.scale
    if scale is None:  # pragma: no cover - callers only pass scored items
        return f"{instrument.id} has no numeric scale for {item.column}"
    if item.type == "boolean":
        return f"{instrument.id} answers to {item.column} are 0 (no) or 1 (yes)"
    lo, hi = _fmt(scale.min), _fmt(scale.max)
    if item.type == "likert" and scale.step != 1:
        return f"{instrument.id} answers run {lo}-{hi} in steps of {_fmt(scale.step)}"
    if item.type == "likert":
        return f"{instrument.id} answers are whole numbers {lo}-{hi}"
    return f"{instrument.id} allows {lo}-{hi} for {item.column}"


@dataclass(frozen=True, eq=False)
class ValidationReport(Check):
    """What :func:`validate` found: every problem, plus the item columns absent from the data.

    Attributes
    ----------
    instrument : str
        Id of the instrument checked against.
    n_rows : int
        Rows checked.
    problems : tuple of Problem
        Each bad value (row label, column, message naming the value and the allowed range), unknown item
        column, duplicated column or answer to an item that was not shown.
    missing_columns : tuple of str
        Item columns of the instrument that the data does not have at all.
    unknown_columns : tuple of str
        Columns named like items of the instrument (``<prefix>_<nn>``) that the instrument does not have.
    """

    instrument: str
    n_rows: int
    problems: tuple[Problem, ...]
    missing_columns: tuple[str, ...]
    unknown_columns: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no value problem and no unknown column was found (absent columns are reported
        separately in :attr:`missing_columns`)."""
        return not self.problems

    def raise_if_invalid(self, *, allow_missing_columns: bool = False) -> None:
        """Raise one :class:`DataError` listing every problem (and absent item columns, unless allowed)."""
        problems = list(self.problems)
        if self.missing_columns and not allow_missing_columns:
            problems.append(
                Problem(
                    f"{len(self.missing_columns)} item column(s) of {self.instrument} are not in the data: "
                    f"{', '.join(self.missing_columns)}; add them (all NaN if the items were not asked) or "
                    "score with strict=False to use the items that are there"
                )
            )
        if problems:
            raise DataError(
                f"the data does not fit instrument {self.instrument!r}: {len(problems)} problem(s); fix "
                "them or score with strict=False to treat bad values as missing",
                problems,
            )

    def table(self) -> pd.DataFrame:
        """One row per problem: ``row``, ``column``, ``message``."""
        return pd.DataFrame(
            {
                "row": [p.row for p in self.problems],
                "column": [p.column for p in self.problems],
                "message": [p.message for p in self.problems],
            },
            dtype=object,
        )


def item_values(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numeric values of an item column and a mask of entries that were given but are not numbers.

    Booleans count as 0/1 and numeric text (``"3"``) as its number; anything else that is not missing is
    flagged as non-numeric.
    """
    if pd.api.types.is_bool_dtype(column.dtype):
        values = column.astype("float64").to_numpy()
        return values, np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = column.astype("float64").to_numpy(na_value=np.nan)
        return values, np.zeros(len(values), dtype=bool)
    obj = column.astype(object)
    as_bool = obj.map(lambda v: float(v) if isinstance(v, (bool, np.bool_)) else v)
    numeric = pd.to_numeric(as_bool, errors="coerce").astype("float64")
    values = numeric.to_numpy(na_value=np.nan)
    given = column.notna().to_numpy()
    return values, given & np.isnan(values)


def shown_mask(df: pd.DataFrame, item: Item) -> np.ndarray:
    """True where ``item`` was shown to the respondent (or where that cannot be known)."""
    if item.show_if is None:
        return np.ones(len(df), dtype=bool)
    gate, allowed = item.show_if
    if gate not in df.columns:
        return np.ones(len(df), dtype=bool)
    gate_col = df[gate]
    unknown = gate_col.isna().to_numpy()
    shown = gate_col.isin(list(allowed)).to_numpy(dtype=bool)
    return shown | unknown


def item_masks(
    df: pd.DataFrame, item: Item, shown: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Values of a scored item and masks of its bad entries.

    Returns ``(values, non_numeric, off_scale, hidden_but_answered)``: numeric values (NaN where missing or
    not a number), entries that are not numbers, numbers outside the scale or off its step, and answers to
    an item whose ``show_if`` condition is not met. ``shown`` is :func:`shown_mask` of the item when the
    caller already has it (items behind one gate share it).
    """
    scale = item.scale
    values, non_numeric = item_values(df[item.column])
    if scale is None:  # pragma: no cover - callers only pass scored items
        none = np.zeros(len(values), dtype=bool)
        return values, non_numeric, none, none
    with np.errstate(invalid="ignore"):
        off = (values < scale.min - _STEP_TOL) | (values > scale.max + _STEP_TOL)
        if item.type in ("likert", "boolean"):
            steps = (values - scale.min) / scale.step
            off |= np.abs(steps - np.round(steps)) > 1e-6
    off &= ~np.isnan(values)
    if shown is None:
        shown = shown_mask(df, item)
    hidden = ~shown & ~np.isnan(values)
    return values, non_numeric, off, hidden


Masks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def shown_masks(df: pd.DataFrame, inst: Instrument) -> dict[str, np.ndarray]:
    """:func:`shown_mask` of every item of ``inst``, computed once per gate condition."""
    by_gate: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for item in inst.items:
        key = repr(item.show_if)  # the gate column and its allowed values
        if key not in by_gate:
            by_gate[key] = shown_mask(df, item)
        out[item.column] = by_gate[key]
    return out


def _check_item(
    df: pd.DataFrame,
    item: Item,
    instrument: Instrument,
    masks_out: dict[str, Masks],
    shown: np.ndarray | None = None,
) -> list[Problem]:
    problems: list[Problem] = []
    col = df[item.column]
    labels = df.index
    if item.type == "text":
        return problems
    if item.type in ("choice", "multi_choice"):
        codes = item.allowed_codes() or set()
        codes_text = {str(c) for c in codes}
        for label, value in zip(labels, col.astype(object).to_numpy(), strict=True):
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
                continue
            parts = str(value).split(";") if item.type == "multi_choice" else [value]
            for part in parts:
                if part not in codes and str(part).strip() not in codes_text:
                    allowed = ", ".join(sorted(codes_text))
                    problems.append(
                        Problem(
                            f"item {item.column} has value {_fmt(part)}; {instrument.id} allows {allowed}",
                            row=_row_label(label),
                            column=item.column,
                        )
                    )
        return problems
    if item.scale is None:
        return problems
    values, non_numeric, off_scale, hidden = masks_out[item.column] = item_masks(df, item, shown)
    words = _range_words(item, instrument)
    for i in np.flatnonzero(non_numeric).tolist():
        problems.append(
            Problem(
                f"item {item.column} has value {_fmt(col.iloc[i])}, which is not a number; {words}",
                row=_row_label(labels[i]),
                column=item.column,
            )
        )
    for i in np.flatnonzero(off_scale).tolist():
        problems.append(
            Problem(
                f"item {item.column} has value {_fmt(values[i])}; {words}",
                row=_row_label(labels[i]),
                column=item.column,
            )
        )
    if item.show_if is not None:
        gate_col, shown_for = item.show_if
        for i in np.flatnonzero(hidden).tolist():
            problems.append(
                Problem(
                    f"item {item.column} is answered ({_fmt(values[i])}) although it is only shown when "
                    f"{gate_col} is {' or '.join(map(_fmt, shown_for))} and {gate_col} is "
                    f"{_fmt(df[gate_col].iloc[i])}; check the gate column or the file merge",
                    row=_row_label(labels[i]),
                    column=item.column,
                )
            )
    return problems


def validate(df: pd.DataFrame, instrument: str | Instrument) -> ValidationReport:
    """Check the item columns of ``df`` against an instrument's response scale and item list.

    Parameters
    ----------
    df : DataFrame
        Respondent or session table with item columns named ``<prefix>_<nn>``.
    instrument : str or Instrument
        Instrument id (``"ecr_r"``) or an :class:`~lacrima.instruments.Instrument`.

    Returns
    -------
    ValidationReport
        Every problem found: values outside the scale (min/max), off the scale's step (2.5 on a whole
        number scale), non-numeric values, codes not among a choice item's options, answers to items that
        were not shown (``show_if``), columns named like items the instrument does not have, duplicated
        columns. Missing answers (NaN) are never a problem here. Call ``report.raise_if_invalid()`` to get
        one :class:`~lacrima.errors.DataError` listing them all.

    Examples
    --------
    >>> import pandas as pd, lacrima as lc
    >>> from lacrima.scoring import validate
    >>> df = pd.DataFrame({f"wai_{i:02d}": [3, 9] for i in range(1, 13)})
    >>> report = validate(df, "wai_sr")
    >>> report.ok, report.problems[0].message
    (False, 'item wai_01 has value 9; wai_sr answers are whole numbers 1-5')
    """
    return validate_with_masks(df, as_instrument(instrument))[0]


def validate_with_masks(df: pd.DataFrame, inst: Instrument) -> tuple[ValidationReport, dict[str, Masks]]:
    """:func:`validate`, also returning :func:`item_masks` of every scored item column present."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of item columns, got {type(df).__name__}")
    problems: list[Problem] = []
    duplicated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    for name in duplicated:
        problems.append(Problem(f"column {name} appears more than once; keep one copy", column=name))
    if duplicated:
        df = df.loc[:, ~df.columns.duplicated()]
    known = set(inst.columns)
    pattern = re.compile(rf"^{re.escape(inst.prefix)}_\d+$")
    unknown = tuple(str(c) for c in df.columns if isinstance(c, str) and pattern.match(c) and c not in known)
    if unknown:
        first, last = inst.columns[0], inst.columns[-1]
        for name in unknown:
            problems.append(
                Problem(
                    f"column {name} looks like an item of {inst.id}, whose items are {first}-{last}; "
                    "rename or drop it",
                    column=name,
                )
            )
    missing = tuple(c for c in inst.columns if c not in df.columns)
    masks: dict[str, Masks] = {}
    shown = shown_masks(df, inst)
    for item in inst.items:
        if item.column in df.columns:
            problems.extend(_check_item(df, item, inst, masks, shown[item.column]))
    report = ValidationReport(
        instrument=inst.id,
        n_rows=len(df),
        problems=tuple(problems),
        missing_columns=missing,
        unknown_columns=unknown,
    )
    return report, masks
