"""Input checks shared by the analysis functions: columns present, numeric, enough cases.

Every check raises :class:`lacrima.errors.DataError` with a message that says what was wrong and what to
do; nothing is dropped silently (callers report how many rows listwise deletion excluded).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from lacrima.errors import DataError, Problem

__all__ = ["as_list", "complete_rows", "numeric_values", "require_columns", "split_groups"]


def as_list(columns: str | Sequence[str] | None) -> list[str]:
    """A column argument (one name, several names or ``None``) as a list of names."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    return [str(c) for c in columns]


def require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise a DataError naming every missing column and the columns that are available."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}; pass a DataFrame of data")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        available = ", ".join(map(str, df.columns))
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} not found; available columns: {available}",
            [Problem("column not found", column=c) for c in missing],
        )


def numeric_values(df: pd.DataFrame, column: str) -> np.ndarray:
    """The column as float64 (missing values as NaN); a DataError if it is not numeric or boolean."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    raise DataError(
        f"column {column!r} is not numeric (dtype {s.dtype}); convert it to numbers first, e.g. "
        "with pd.to_numeric or by scoring the instrument",
        [Problem(f"non-numeric dtype {s.dtype}", column=column)],
    )


def complete_rows(
    df: pd.DataFrame, numeric: Sequence[str], other: Sequence[str] = ()
) -> tuple[np.ndarray, int]:
    """Listwise deletion: a boolean mask of rows complete on every named column, and how many were dropped.

    ``numeric`` columns are checked for being numeric; ``other`` columns (e.g. a grouping variable) only for
    being present.
    """
    require_columns(df, [*numeric, *other])
    mask = np.ones(len(df), dtype=bool)
    for c in numeric:
        mask &= ~np.isnan(numeric_values(df, c))
    for c in other:
        mask &= df[c].notna().to_numpy()
    return mask, int(len(df) - mask.sum())


def split_groups(
    df: pd.DataFrame, dv: str, group: str, groups: Sequence[Hashable] | None, *, exactly: int | None = None
) -> tuple[list[Hashable], list[np.ndarray], int]:
    """Values of ``dv`` per level of ``group`` (complete cases only), the levels, and the rows excluded.

    Levels are ``groups`` when given (rows in other levels are excluded and counted) or the sorted
    observed levels. A DataError when the count of levels is not ``exactly`` or a named level is absent.
    """
    mask, excluded = complete_rows(df, [dv], [group])
    g = df[group].to_numpy()[mask]
    y = numeric_values(df, dv)[mask]
    observed = pd.unique(g)
    if groups is None:
        try:
            levels: list[Hashable] = sorted(observed)  # type: ignore[type-var]
        except TypeError:
            levels = list(observed)
    else:
        levels = list(groups)
        absent = [lv for lv in levels if lv not in set(observed)]
        if absent:
            raise DataError(
                f"group level(s) {absent!r} not found in column {group!r} (complete cases); "
                f"observed levels: {list(observed)!r}"
            )
        keep = np.isin(g, np.array(levels, dtype=object))
        excluded += int((~keep).sum())
        g, y = g[keep], y[keep]
    if exactly is not None and len(levels) != exactly:
        raise DataError(
            f"column {group!r} has {len(levels)} level(s) {levels!r} but this test needs exactly {exactly}; "
            "pass groups=(...) to choose them"
        )
    if exactly is None and len(levels) < 2:
        raise DataError(f"column {group!r} has {len(levels)} level(s); at least 2 groups are needed")
    return levels, [y[g == lv] for lv in levels], excluded
