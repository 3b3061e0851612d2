"""Tests across several groups (Welch ANOVA, Kruskal-Wallis) and for contingency tables."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from lacrima import _dist
from lacrima._results import Result
from lacrima.analysis._groups import _need_two_each
from lacrima.analysis._validate import require_columns, split_groups
from lacrima.errors import DataError, SmallSampleWarning

__all__ = ["CrosstabTest", "Kruskal", "WelchAnova", "crosstab_test", "kruskal", "welch_anova"]


@dataclass(frozen=True, eq=False)
class WelchAnova(Result):
    """Welch's heteroscedastic one-way ANOVA with eta^2 and omega^2.

    Attributes
    ----------
    f, df1, df2, p : float
        Welch F, its numerator and (Welch) denominator df, and p.
    eta_squared : float
        ``SS_between / SS_total`` of the classical one-way ANOVA.
    omega_squared : float
        ``(SS_between - (k - 1) MS_within) / (SS_total + MS_within)`` (classical ANOVA; may be negative).
    means : pandas.DataFrame
        ``group``, ``n``, ``mean``, ``sd``.
    """

    dv: str
    group: str
    f: float
    df1: float
    df2: float
    p: float
    eta_squared: float
    omega_squared: float
    means: pd.DataFrame
    excluded: int


def _describe_groups(levels: Sequence[Hashable], values: Sequence[np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": list(levels),
            "n": [v.size for v in values],
            "mean": [float(v.mean()) for v in values],
            "sd": [float(v.std(ddof=1)) if v.size > 1 else float("nan") for v in values],
        }
    )


def welch_anova(
    df: pd.DataFrame, dv: str, group: str, groups: Sequence[Hashable] | None = None
) -> WelchAnova:
    """Welch's one-way ANOVA (unequal variances) of ``dv`` across the levels of ``group``.

    Raises
    ------
    DataError
        Fewer than two groups, a group with fewer than two cases or with zero variance (Welch's weights
        ``n / s^2`` are then undefined).

    Notes
    -----
    Checked against ``oneway.test(y ~ g, var.equal = FALSE)``; eta^2 and omega^2 against sums of squares
    of ``aov(y ~ g)`` in ``tests/reference/battery.R``.
    """
    levels, values, excluded = split_groups(df, dv, group, groups)
    _need_two_each(levels, values, dv, "Welch's ANOVA")
    n = np.array([v.size for v in values], dtype=float)
    m = np.array([v.mean() for v in values])
    var = np.array([v.var(ddof=1) for v in values])
    if np.any(var == 0):
        zero = [lv for lv, s in zip(levels, var, strict=True) if s == 0]
        raise DataError(f"{dv!r} is constant within group(s) {zero!r}; Welch's ANOVA needs variance in each")
    k = len(values)
    w = n / var
    sw = w.sum()
    mw = np.sum(w * m) / sw
    tmp = np.sum((1 - w / sw) ** 2 / (n - 1)) / (k * k - 1)
    f = np.sum(w * (m - mw) ** 2) / ((k - 1) * (1 + 2 * (k - 2) * tmp))
    df2 = 1 / (3 * tmp)
    y = np.concatenate(values)
    ss_total = float(np.sum((y - y.mean()) ** 2))
    ss_between = float(np.sum(n * (m - y.mean()) ** 2))
    ms_within = (ss_total - ss_between) / (y.size - k)
    return WelchAnova(
        dv=dv,
        group=group,
        f=float(f),
        df1=float(k - 1),
        df2=float(df2),
        p=float(_dist.f_sf(f, k - 1, df2)),
        eta_squared=ss_between / ss_total,
        omega_squared=(ss_between - (k - 1) * ms_within) / (ss_total + ms_within),
        means=_describe_groups(levels, values),
        excluded=excluded,
    )


@dataclass(frozen=True, eq=False)
class Kruskal(Result):
    """Kruskal-Wallis rank-sum test with epsilon^2 = ``H / ((n^2 - 1) / (n + 1))``."""

    dv: str
    group: str
    h: float
    df: float
    p: float
    epsilon_squared: float
    n: int
    excluded: int


def kruskal(df: pd.DataFrame, dv: str, group: str, groups: Sequence[Hashable] | None = None) -> Kruskal:
    """Kruskal-Wallis test (tie-corrected H, chi-square with ``k - 1`` df) and rank epsilon^2.

    Notes
    -----
    Checked against ``kruskal.test(y ~ g)`` in ``tests/reference/battery.R``; epsilon^2 is the formula of
    ``effectsize::rank_epsilon_squared`` (Tomczak & Tomczak, 2014).
    """
    from scipy import stats  # imported here: scipy.stats is slow to import

    levels, values, excluded = split_groups(df, dv, group, groups)
    empty = [lv for lv, v in zip(levels, values, strict=True) if v.size == 0]
    if empty:
        raise DataError(f"group(s) {empty!r} of {group!r} have no complete cases for {dv!r}")
    y = np.concatenate(values)
    if np.ptp(y) == 0:
        raise DataError(f"{dv!r} is constant; the Kruskal-Wallis test is undefined")
    h, p = stats.kruskal(*values)
    n = y.size
    return Kruskal(
        dv=dv,
        group=group,
        h=float(h),
        df=float(len(values) - 1),
        p=float(p),
        epsilon_squared=float(h) / ((n * n - 1) / (n + 1)),
        n=int(n),
        excluded=excluded,
    )


@dataclass(frozen=True, eq=False)
class CrosstabTest(Result):
    """Chi-square test of independence of two categorical columns, with Cramer's V and (2x2) Fisher's test.

    Attributes
    ----------
    observed, expected : pandas.DataFrame
        Counts and expected counts under independence (rows: levels of ``a``, columns: levels of ``b``).
    chi2, df, p : float
        Pearson chi-square (Yates-corrected on a 2x2 table when ``correct``), its df and p.
    cramers_v : float
        ``sqrt(X2 / (n (min(r, c) - 1)))`` from the *uncorrected* chi-square.
    fisher_p : float or None
        Two-sided Fisher exact p (2x2 tables only).
    odds_ratio : float or None
        Sample odds ratio ``(n11 n22) / (n12 n21)`` of a 2x2 table (R's ``fisher.test`` reports the
        conditional MLE instead, which differs slightly).
    odds_ratio_ci : tuple or None
        Woolf (log) interval of the sample odds ratio (``None`` with a zero cell).
    """

    a: str
    b: str
    observed: pd.DataFrame
    expected: pd.DataFrame
    chi2: float
    df: float
    p: float
    correct: bool
    cramers_v: float
    fisher_p: float | None
    odds_ratio: float | None
    odds_ratio_ci: tuple[float, float] | None
    n: int
    excluded: int


def _fisher_2x2(x: np.ndarray) -> float:
    """Two-sided Fisher p as in R: sum of tables no more probable than the observed (relative tol 1e-7)."""
    m, n_ = int(x[0].sum()), int(x[1].sum())
    k = int(x[:, 0].sum())
    lo, hi = max(0, k - n_), min(k, m)
    support = np.arange(lo, hi + 1, dtype=float)
    # log hypergeometric density up to a constant, from log-gamma: scipy's hypergeom.pmf takes seconds on
    # tables with hundreds of thousands of cases, this takes milliseconds; rescaled by its maximum as R does
    logd = -(
        special.gammaln(support + 1)
        + special.gammaln(m - support + 1)
        + special.gammaln(k - support + 1)
        + special.gammaln(n_ - k + support + 1)
    )
    d = np.exp(logd - logd.max())
    d = d / d.sum()
    observed = d[int(x[0, 0]) - lo]
    return float(min(1.0, d[d <= observed * (1 + 1e-7)].sum()))


def crosstab_test(
    df: pd.DataFrame, a: str, b: str, *, correct: bool = True, level: float = 0.95
) -> CrosstabTest:
    """Chi-square test of a two-way table, Cramer's V, and on 2x2 tables Fisher's exact test.

    Parameters
    ----------
    a, b : str
        Categorical columns (rows with either missing are excluded and counted).
    correct : bool
        Yates' continuity correction on 2x2 tables (R's ``chisq.test`` default ``TRUE``).

    Warns
    -----
    SmallSampleWarning
        An expected count is below 5: the chi-square p is unreliable (use ``fisher_p`` on a 2x2 table).

    Notes
    -----
    Checked against ``chisq.test(table(a, b), correct = ...)`` and ``fisher.test(table(a, b))$p.value`` in
    ``tests/reference/battery.R``.
    """
    require_columns(df, [a, b])
    mask = df[a].notna().to_numpy() & df[b].notna().to_numpy()
    sub = df.loc[mask, [a, b]]
    observed = pd.crosstab(sub[a], sub[b])
    if observed.shape[0] < 2 or observed.shape[1] < 2:
        raise DataError(
            f"the table of {a!r} by {b!r} is {observed.shape[0]}x{observed.shape[1]}; each column needs at "
            "least two observed levels"
        )
    x = observed.to_numpy(dtype=float)
    n = x.sum()
    e = np.outer(x.sum(axis=1), x.sum(axis=0)) / n
    is_2x2 = x.shape == (2, 2)
    yates = min(0.5, float(np.min(np.abs(x - e)))) if (correct and is_2x2) else 0.0
    chi2 = float(np.sum((np.abs(x - e) - yates) ** 2 / e))
    chi2_plain = float(np.sum((x - e) ** 2 / e))
    dof = float((x.shape[0] - 1) * (x.shape[1] - 1))
    if np.any(e < 5):
        warnings.warn(
            f"an expected count in the table of {a!r} by {b!r} is below 5 (smallest {e.min():.3g}); the "
            "chi-square p value may be inaccurate - prefer Fisher's exact test (fisher_p) or merge levels",
            SmallSampleWarning,
            stacklevel=2,
        )
    fisher_p = odds = None
    odds_ci = None
    if is_2x2:
        fisher_p = _fisher_2x2(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = float((x[0, 0] * x[1, 1]) / (x[0, 1] * x[1, 0]))
        if np.all(x > 0):
            half = float(_dist.norm_ppf(0.5 + level / 2)) * np.sqrt(np.sum(1 / x))
            odds_ci = (float(np.exp(np.log(odds) - half)), float(np.exp(np.log(odds) + half)))
    return CrosstabTest(
        a=a,
        b=b,
        observed=observed,
        expected=pd.DataFrame(e, index=observed.index, columns=observed.columns),
        chi2=chi2,
        df=dof,
        p=float(_dist.chi2_sf(chi2, dof)),
        correct=correct and is_2x2,
        cramers_v=float(np.sqrt(chi2_plain / (n * (min(x.shape) - 1)))),
        fisher_p=fisher_p,
        odds_ratio=odds,
        odds_ratio_ci=odds_ci,
        n=int(n),
        excluded=int(len(df) - mask.sum()),
    )
