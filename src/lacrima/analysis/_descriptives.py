"""Descriptive statistics and prevalences (shares with Wilson score intervals)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from lacrima import _dist
from lacrima._results import Result
from lacrima.analysis._validate import as_list, numeric_values, require_columns
from lacrima.errors import DataError

__all__ = ["Descriptives", "Prevalence", "descriptives", "prevalence", "wilson_interval"]

MomentType = Literal[1, 2, 3]


@dataclass(frozen=True, eq=False)
class Descriptives(Result):
    """Descriptive statistics, one row per column (and group).

    Attributes
    ----------
    rows : pandas.DataFrame
        Columns ``variable`` (and ``group``), ``n``, ``n_missing``, ``pct_missing``, ``mean``, ``sd``,
        ``se``, ``median``, ``min``, ``max``, ``skew``, ``kurtosis``.
    moment_type : int
        Definition of skew and (excess) kurtosis, numbered as in ``psych::describe(type=)``.
    by : str or None
        Grouping column.
    """

    rows: pd.DataFrame
    moment_type: int
    by: str | None

    def table(self) -> pd.DataFrame:
        return self.rows.copy()


def _moments(x: np.ndarray, kind: int) -> tuple[float, float]:
    """Skew and excess kurtosis of complete values ``x`` (types as in e1071/psych)."""
    n = x.size
    if n < 2:
        return float("nan"), float("nan")
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0.0:
        return float("nan"), float("nan")
    g1 = float(np.mean(d**3)) / m2**1.5
    g2 = float(np.mean(d**4)) / m2**2 - 3.0
    if kind == 1:
        return g1, g2
    if kind == 2:
        skew = g1 * np.sqrt(n * (n - 1)) / (n - 2) if n > 2 else float("nan")
        kurt = ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3)) if n > 3 else float("nan")
        return float(skew), float(kurt)
    factor = (n - 1) / n
    return g1 * factor**1.5, (g2 + 3.0) * factor**2 - 3.0


def _describe(x_all: np.ndarray, kind: int) -> dict[str, float]:
    x = x_all[~np.isnan(x_all)]
    n = x.size
    total = x_all.size
    out: dict[str, float] = {
        "n": n,
        "n_missing": total - n,
        "pct_missing": 100.0 * (total - n) / total if total else float("nan"),
    }
    if n == 0:
        out.update(dict.fromkeys(("mean", "sd", "se", "median", "min", "max", "skew", "kurtosis"), np.nan))
        return out
    sd = float(np.std(x, ddof=1)) if n > 1 else float("nan")
    skew, kurt = _moments(x, kind)
    out.update(
        mean=float(x.mean()),
        sd=sd,
        se=sd / np.sqrt(n),
        median=float(np.median(x)),
        min=float(x.min()),
        max=float(x.max()),
        skew=skew,
        kurtosis=kurt,
    )
    return out


def _group_positions(df: pd.DataFrame, by: str | None) -> list[tuple[Hashable | None, np.ndarray]]:
    """Row positions per level of ``by`` (sorted); rows with a missing group form ``"<missing>"``."""
    if by is None:
        return [(None, np.arange(len(df)))]
    indices = df.groupby(by, sort=True, dropna=True, observed=True).indices
    out: list[tuple[Hashable | None, np.ndarray]] = [
        (level, np.asarray(pos)) for level, pos in indices.items()
    ]
    missing = np.flatnonzero(df[by].isna().to_numpy())
    if missing.size:
        out.append(("<missing>", missing))
    return out


def descriptives(
    df: pd.DataFrame, columns: str | Sequence[str], by: str | None = None, *, moment_type: MomentType = 3
) -> Descriptives:
    """Describe numeric columns: n, missing, mean, SD, SE, median, min, max, skew and kurtosis.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    columns : str or sequence of str
        Numeric columns to describe.
    by : str, optional
        Grouping column; rows with a missing group form a group ``"<missing>"`` so that none disappear.
    moment_type : {3, 1, 2}
        Skew and excess kurtosis definition as in ``psych::describe``: 3 (default, psych's default:
        ``b1 = m3/s^3`` and ``b2 = m4/s^4 - 3`` with the sample SD ``s``), 1 (moment ratios ``g1``, ``g2``)
        or 2 (SAS/SPSS adjusted ``G1``, ``G2``).

    Returns
    -------
    Descriptives

    Notes
    -----
    Checked against ``psych::describe(x, type = 3)`` (and types 1, 2) in ``tests/reference/battery.R``.
    """
    cols = as_list(columns)
    if not cols:
        raise DataError("no columns given; pass columns=[...] naming the numeric columns to describe")
    if moment_type not in (1, 2, 3):
        raise DataError(f"moment_type must be 1, 2 or 3, got {moment_type!r}")
    require_columns(df, [*cols, *as_list(by)])
    values = {c: numeric_values(df, c) for c in cols}
    rows = []
    for level, pos in _group_positions(df, by):
        for c in cols:
            row: dict[str, object] = {"variable": c}
            if by is not None:
                row["group"] = level
            row.update(_describe(values[c][pos], moment_type))
            rows.append(row)
    return Descriptives(rows=pd.DataFrame(rows), moment_type=moment_type, by=by)


@dataclass(frozen=True, eq=False)
class Prevalence(Result):
    """Share of ``True``/1 answers with a Wilson score interval, per group.

    Attributes
    ----------
    rows : pandas.DataFrame
        Columns (``group``), ``count``, ``n``, ``n_missing``, ``estimate``, ``ci_low``, ``ci_high``.
    column, by : str
        Analysed and grouping column.
    level : float
        Confidence level.
    """

    rows: pd.DataFrame
    column: str
    by: str | None
    level: float

    def table(self) -> pd.DataFrame:
        return self.rows.copy()


def wilson_interval(count: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions ``count / n`` (arrays allowed); NaN where ``n`` is 0.

    Notes
    -----
    Equal to R's ``prop.test(count, n, correct = FALSE)$conf.int`` (``tests/reference/sessions.R``,
    ``battery.R``).
    """
    if not 0.0 < level < 1.0:
        raise DataError(f"level is {level!r}; give a confidence level between 0 and 1, e.g. 0.95")
    k = np.asarray(count, dtype="float64")
    m = np.asarray(n, dtype="float64")
    z = float(_dist.norm_ppf(0.5 + level / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        centre = p + z * z / (2.0 * m)
        half = z * np.sqrt(p * (1.0 - p) / m + z * z / (4.0 * m * m))
        denom = 1.0 + z * z / m
        low = np.clip((centre - half) / denom, 0.0, 1.0)
        high = np.clip((centre + half) / denom, 0.0, 1.0)
    empty = m <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def _wilson(count: float, n: int, level: float) -> tuple[float, float]:
    low, high = wilson_interval(count, n, level)
    return float(low), float(high)


def prevalence(df: pd.DataFrame, column: str, by: str | None = None, *, level: float = 0.95) -> Prevalence:
    """Share of cases with ``column`` true (1) and its Wilson score confidence interval, per group.

    The column must be boolean or coded 0/1; missing answers are excluded and counted in ``n_missing``.

    Notes
    -----
    The Wilson interval equals ``prop.test(count, n, correct = FALSE)$conf.int`` in R (checked in
    ``tests/reference/battery.R``).
    """
    require_columns(df, [column, *as_list(by)])
    x = numeric_values(df, column)
    bad = ~np.isnan(x) & ~np.isin(x, [0.0, 1.0])
    if bad.any():
        raise DataError(
            f"column {column!r} has values other than 0/1 (e.g. {x[bad][0]!r}); prevalence needs a "
            "boolean or 0/1 column"
        )
    rows = []
    for level_value, pos in _group_positions(df, by):
        v = x[pos]
        ok = v[~np.isnan(v)]
        n = int(ok.size)
        count = float(ok.sum())
        low, high = _wilson(count, n, level)
        row: dict[str, object] = {} if by is None else {"group": level_value}
        row.update(
            count=int(count),
            n=n,
            n_missing=int(v.size - n),
            estimate=count / n if n else float("nan"),
            ci_low=low,
            ci_high=high,
        )
        rows.append(row)
    return Prevalence(rows=pd.DataFrame(rows), column=column, by=by, level=level)
