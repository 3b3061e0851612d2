"""Pearson and Spearman correlations, partial correlations and correlation tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from lacrima import _dist
from lacrima._results import Result
from lacrima.analysis._adjust import AdjustMethod, adjust_p
from lacrima.analysis._validate import as_list, complete_rows, numeric_values
from lacrima.errors import DataError

__all__ = ["Correlation", "CorrelationMatrix", "correlate", "correlation_matrix"]

CorMethod = Literal["pearson", "spearman"]


@dataclass(frozen=True, eq=False)
class Correlation(Result):
    """A (partial) correlation with its Fisher-z confidence interval and t-test p value.

    Attributes
    ----------
    x, y : str
        The correlated columns.
    r : float
        Correlation (partial correlation when ``covar`` is not empty).
    ci : tuple of float
        Fisher-z confidence interval at ``level``.
    p : float
        Two-sided p value from ``t = r * sqrt(df / (1 - r^2))`` with ``df`` degrees of freedom.
    t : float
        The t statistic.
    n : int
        Complete cases used.
    df : int
        ``n - 2 - k`` for ``k`` covariates.
    method : str
        ``"pearson"`` or ``"spearman"``.
    covar : tuple of str
        Covariates partialled out.
    excluded : int
        Rows dropped by listwise deletion.
    level : float
        Confidence level.
    """

    x: str
    y: str
    r: float
    ci: tuple[float, float]
    p: float
    t: float
    n: int
    df: int
    method: str
    covar: tuple[str, ...]
    excluded: int
    level: float

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "x": self.x,
                    "y": self.y,
                    "covar": ", ".join(self.covar),
                    "method": self.method,
                    "estimate": self.r,
                    "ci_low": self.ci[0],
                    "ci_high": self.ci[1],
                    "t": self.t,
                    "df": self.df,
                    "p": self.p,
                    "n": self.n,
                    "excluded": self.excluded,
                }
            ]
        )


def correlation_inference(r: float, n: int, k: int, level: float) -> tuple[float, float, tuple[float, float]]:
    """t, two-sided p (df = n - k - 2) and Fisher-z interval (SE 1/sqrt(n - k - 3)) of a (partial)
    correlation ``r`` from ``n`` cases with ``k`` covariates, as ``cor.test`` / ``psych::partial.r``."""
    dof = n - k - 2
    t = r * math.sqrt(dof / (1.0 - r * r)) if abs(r) < 1 else math.copysign(math.inf, r)
    p = float(2 * _dist.t_sf(abs(t), dof))
    if n - k - 3 <= 0:
        return t, p, (math.nan, math.nan)
    half = float(_dist.norm_ppf(0.5 + level / 2)) / math.sqrt(n - k - 3)
    if abs(r) == 1:  # z = +-inf: the degenerate interval (r, r)
        return t, p, (r, r)
    z = math.atanh(r)
    return t, p, (math.tanh(z - half), math.tanh(z + half))


def _residualise(values: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """Residuals of each column of ``values`` after OLS on an intercept and ``covariates``."""
    design = np.column_stack([np.ones(values.shape[0]), covariates])
    beta, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ beta


def _rank(x: np.ndarray) -> np.ndarray:
    from scipy import stats  # imported here: scipy.stats is slow to import

    return stats.rankdata(x, axis=0)


def correlate(
    df: pd.DataFrame,
    x: str,
    y: str,
    covar: str | Sequence[str] | None = None,
    method: CorMethod = "pearson",
    *,
    level: float = 0.95,
) -> Correlation:
    """Correlate two columns, optionally partialling out covariates.

    Rows missing any of ``x``, ``y`` or ``covar`` are dropped (listwise) and counted in ``excluded``.
    With covariates the partial correlation is the correlation of the residuals of ``x`` and ``y`` after
    OLS regression on the covariates; its test uses ``df = n - k - 2`` and its interval the Fisher z with
    standard error ``1 / sqrt(n - k - 3)``. Spearman correlations (and partial Spearman correlations, as
    in ``ppcor``) are Pearson correlations of mid-ranks; their p value uses the same t approximation as
    ``cor.test(method = "spearman", exact = FALSE)`` and their interval the same Fisher z.

    Parameters
    ----------
    df : pandas.DataFrame
    x, y : str
        Numeric columns.
    covar : str or sequence of str, optional
        Covariates to partial out of both ``x`` and ``y``.
    method : {"pearson", "spearman"}
    level : float
        Confidence level of the interval.

    Returns
    -------
    Correlation

    Raises
    ------
    DataError
        A column is missing or not numeric, a variable is constant (the correlation is undefined), or
        there are too few cases (``n - k - 3 <= 0``).

    Notes
    -----
    Checked in ``tests/reference/battery.R`` against ``cor.test(x, y)`` (Pearson: r, t, df, p, conf.int),
    ``cor.test(x, y, method = "spearman", exact = FALSE)`` (r, p) and ``psych::partial.r(d, c(x, y), z)``
    with ``p = 2 * pt(-abs(t), n - k - 2)``.
    """
    if method not in ("pearson", "spearman"):
        raise DataError(f"method must be 'pearson' or 'spearman', got {method!r}")
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1, got {level!r}")
    z_cols = as_list(covar)
    overlap = {x, y} & set(z_cols)
    if overlap or x == y:
        raise DataError(f"x, y and covar must be different columns; {sorted(overlap or {x})!r} repeated")
    cols = [x, y, *z_cols]
    mask, excluded = complete_rows(df, cols)
    data = np.column_stack([numeric_values(df, c)[mask] for c in cols])
    n, k = data.shape[0], len(z_cols)
    dof = n - k - 2
    if n - k - 3 <= 0:
        raise DataError(
            f"{n} complete case(s) for correlating {x!r} and {y!r} with {k} covariate(s); at least "
            f"{k + 4} are needed (n - k - 3 > 0 for the confidence interval)"
        )
    for j, c in enumerate(cols):
        if np.ptp(data[:, j]) == 0:
            raise DataError(
                f"column {c!r} is constant ({data[0, j]!r}) among the {n} complete cases; a correlation "
                "with a constant is undefined - drop it from the analysis"
            )
    if method == "spearman":
        data = _rank(data)
    xy = _residualise(data[:, :2], data[:, 2:]) if k else data[:, :2] - data[:, :2].mean(axis=0)
    ss = np.sum(xy**2, axis=0)
    if np.any(ss <= 1e-12 * np.sum(data[:, :2] ** 2, axis=0)):
        raise DataError(
            f"{x!r} or {y!r} is fully explained by the covariates {z_cols!r}; the partial correlation is "
            "undefined - drop the redundant covariate"
        )
    r = float(np.sum(xy[:, 0] * xy[:, 1]) / np.sqrt(ss[0] * ss[1]))
    r = min(1.0, max(-1.0, r))
    t, p, ci = correlation_inference(r, n, k, level)
    return Correlation(
        x=x,
        y=y,
        r=r,
        ci=ci,
        p=p,
        t=float(t),
        n=int(n),
        df=int(dof),
        method=method,
        covar=tuple(z_cols),
        excluded=excluded,
        level=level,
    )


@dataclass(frozen=True, eq=False)
class CorrelationMatrix(Result):
    """All pairwise (partial) correlations among columns, one row per pair.

    Attributes
    ----------
    pairs : tuple of Correlation
        Each pair's full result.
    p_adjust : str or None
        Method used for the ``p_adjusted`` column.
    """

    pairs: tuple[Correlation, ...]
    p_adjust: str | None

    def table(self) -> pd.DataFrame:
        out = pd.concat([c.table() for c in self.pairs], ignore_index=True)
        if self.p_adjust is not None:
            out["p_adjusted"] = adjust_p(out["p"].to_numpy(), method=self.p_adjust)  # type: ignore[arg-type]
        return out

    def matrix(self, value: str = "estimate") -> pd.DataFrame:
        """A square matrix of one column of :meth:`table` (diagonal 1 for estimates, NaN otherwise)."""
        tab = self.table()
        names = list(dict.fromkeys([*tab["x"], *tab["y"]]))
        m = pd.DataFrame(np.nan, index=names, columns=names)
        for _, row in tab.iterrows():
            m.loc[row["x"], row["y"]] = row[value]
            m.loc[row["y"], row["x"]] = row[value]
        if value == "estimate":
            for nm in names:
                m.loc[nm, nm] = 1.0
        return m


def correlation_matrix(
    df: pd.DataFrame,
    columns: Sequence[str],
    covar: str | Sequence[str] | None = None,
    method: CorMethod = "pearson",
    *,
    level: float = 0.95,
    p_adjust: AdjustMethod | None = None,
) -> CorrelationMatrix:
    """Correlate every pair of ``columns`` (pairwise deletion per pair, each pair's exclusions reported).

    Parameters
    ----------
    columns : sequence of str
        At least two numeric columns.
    covar, method, level
        As in :func:`correlate`.
    p_adjust : str, optional
        A :func:`adjust_p` method; adds a ``p_adjusted`` column over all pairs.

    Notes
    -----
    Each pair is :func:`correlate`; see there for the R checks.
    """
    cols = as_list(columns)
    if len(cols) < 2:
        raise DataError("correlation_matrix needs at least two columns")
    if len(set(cols)) != len(cols):
        raise DataError(f"columns repeat: {cols!r}")
    if p_adjust is not None:
        adjust_p([0.5], method=p_adjust)
    pairs = tuple(
        correlate(df, a, b, covar=covar, method=method, level=level) for a, b in combinations(cols, 2)
    )
    return CorrelationMatrix(pairs=pairs, p_adjust=p_adjust)
