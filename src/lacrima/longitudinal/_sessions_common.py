"""Checks shared by the session-data helpers: required columns, client ids, session numbers, 0/1 codes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lacrima.errors import DataError, Problem

__all__ = [
    "as_columns",
    "binary_values",
    "id_missing",
    "require_columns",
    "require_ids",
    "require_unique",
    "session_numbers",
]


def as_columns(columns: str | Sequence[str]) -> list[str]:
    """One column name or several as a list (a bare string is one name, not a sequence of letters)."""
    if isinstance(columns, str):
        return [columns]
    out = list(columns)
    if not out:
        raise DataError("no columns given; name at least one column")
    return out


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a DataError naming every column of ``columns`` that ``df`` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{what} needs a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in dict.fromkeys(columns) if c not in df.columns]
    if missing:
        shown = ", ".join(repr(str(c)) for c in list(df.columns)[:30])
        more = " ..." if len(df.columns) > 30 else ""
        raise DataError(
            f"{what}: the data have no column {', '.join(repr(c) for c in missing)}; "
            f"name the right column (available: {shown}{more})",
            [Problem("column not found", column=c) for c in missing],
        )


def id_missing(values: pd.Series) -> np.ndarray:
    """True where an id is missing: NA, or a string that is empty after stripping blanks."""
    missing = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        blank = values.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        missing = missing | blank
    return np.asarray(missing, dtype=bool)


def require_ids(df: pd.DataFrame, by: str, what: str) -> None:
    """Raise a DataError listing the rows whose grouping id (e.g. client_id) is missing."""
    bad = id_missing(df[by])
    if bad.any():
        rows = df.index[bad]
        raise DataError(
            f"{what}: {int(bad.sum())} rows have no {by}; rows cannot be assigned to a client without it. "
            "Fill in the ids or drop those rows first (validate_sessions lists them)",
            [Problem(f"{by} is missing", row=_label(r), column=by) for r in rows],
        )


def session_numbers(df: pd.DataFrame, order: str, what: str) -> pd.Series:
    """The ``order`` column as float64 session numbers; DataError for missing or non-numeric values."""
    raw = df[order]
    if pd.api.types.is_bool_dtype(raw.dtype):
        raise DataError(f"{what}: column {order!r} is boolean; it must hold session numbers")
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = numbers.isna().to_numpy() | ~np.isfinite(numbers.to_numpy())
    if bad.any():
        problems = [
            Problem(
                "session number is missing" if pd.isna(v) else f"session number {v!r} is not a number",
                row=_label(r),
                column=order,
            )
            for r, v in zip(df.index[bad], raw[bad], strict=True)
        ]
        raise DataError(
            f"{what}: {int(bad.sum())} rows have no usable value in {order!r}; every session needs a "
            "number (validate_sessions lists them)",
            problems,
        )
    return numbers


def require_unique(df: pd.DataFrame, by: str, numbers: pd.Series, order: str, what: str) -> None:
    """Raise a DataError listing rows that repeat a session number within a client."""
    key = pd.DataFrame({"by": df[by].to_numpy(), "o": numbers.to_numpy()})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        problems = [
            Problem(f"{by} {c!r} has more than one row for {order} {_num(o)}", row=_label(r), column=order)
            for r, c, o in zip(df.index[dup], key["by"][dup], key["o"][dup], strict=True)
        ]
        raise DataError(
            f"{what}: {int(dup.sum())} rows repeat a {order} number within a {by}; keep one row per "
            "session (validate_sessions lists them)",
            problems,
        )


def binary_values(df: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A boolean or 0/1 column as float64 (NaN where missing); DataError for any other value."""
    raw = df[column]
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64").to_numpy()
    if not pd.api.types.is_numeric_dtype(raw.dtype):
        converted = pd.to_numeric(raw, errors="coerce")
        unparsable = converted.isna() & raw.notna()
        if unparsable.any():
            rows = raw.index[unparsable.to_numpy()]
            raise DataError(
                f"{what}: column {column!r} must be boolean or coded 1 (yes) / 0 (no)",
                [Problem(f"value {raw[r]!r} is not 0 or 1", row=_label(r), column=column) for r in rows],
            )
        raw = converted
    values = raw.astype("float64").to_numpy()
    bad = ~np.isnan(values) & (values != 0.0) & (values != 1.0)
    if bad.any():
        raise DataError(
            f"{what}: column {column!r} must be boolean or coded 1 (yes) / 0 (no)",
            [
                Problem(f"value {v!r} is not 0 or 1", row=_label(r), column=column)
                for r, v in zip(raw.index[bad], values[bad], strict=True)
            ],
        )
    return values


def _label(row: object) -> int | str:
    if isinstance(row, (int, np.integer)):
        return int(row)
    return str(row)


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)
