"""Two-group comparisons: Welch t test with Hedges' g, and the Mann-Whitney (Wilcoxon rank-sum) test."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from lacrima import _dist
from lacrima._results import Result
from lacrima._roots import brent_root
from lacrima.analysis._validate import split_groups
from lacrima.errors import DataError

__all__ = ["GroupComparison", "MannWhitney", "compare_groups", "hedges_j", "mann_whitney"]


def hedges_j(df: float) -> float:
    """Exact small-sample correction of Cohen's d, ``J = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))``.

    This is Hedges' (1981) exact factor (the one ``effectsize`` uses); ``1 - 3/(4 df - 1)`` is its
    approximation.
    """
    return float(np.exp(special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2)))


def _ncp_interval(t_obs: float, df: float, level: float) -> tuple[float, float]:
    """Confidence interval for the noncentrality parameter of a t distribution that produced ``t_obs``."""
    upper_tail = 0.5 + level / 2

    def root(target: float) -> float:
        def f(ncp: float) -> float:
            return float(_dist.nct_cdf(t_obs, df, ncp)) - target

        width = 2.0 + 0.5 * abs(t_obs)
        lo, hi = t_obs - width, t_obs + width
        while f(lo) < 0:
            lo -= width
        while f(hi) > 0:
            hi += width
        return brent_root(f, lo, hi, xtol=1e-13, rtol=1e-14, maxiter=500)

    return root(upper_tail), root(1 - upper_tail)


@dataclass(frozen=True, eq=False)
class GroupComparison(Result):
    """Welch two-sample t test of ``group2 - group1`` with Hedges' g.

    Attributes
    ----------
    dv, group : str
        Outcome and grouping columns.
    groups : tuple
        ``(group1, group2)``; every difference is ``group2 - group1``.
    mean_difference : float
        ``mean(group2) - mean(group1)``.
    ci : tuple of float
        Welch confidence interval of the mean difference.
    t, df, p : float
        Welch t statistic, Welch-Satterthwaite degrees of freedom and two-sided p value.
    hedges_g : float
        ``J * (mean2 - mean1) / s_pooled`` with the exact ``J`` of :func:`hedges_j` (df ``n1 + n2 - 2``).
    g_ci : tuple of float
        Noncentral-t interval for Cohen's d, multiplied by ``J``.
    cohens_d : float
        Uncorrected standardised difference (pooled SD).
    means : pandas.DataFrame
        Per group: ``group``, ``n``, ``mean``, ``sd``.
    excluded : int
        Rows without a usable outcome or group (or in other groups).
    level : float
        Confidence level.
    """

    dv: str
    group: str
    groups: tuple[Hashable, Hashable]
    mean_difference: float
    ci: tuple[float, float]
    t: float
    df: float
    p: float
    hedges_g: float
    g_ci: tuple[float, float]
    cohens_d: float
    means: pd.DataFrame
    excluded: int
    level: float

    def table(self) -> pd.DataFrame:
        n = self.means["n"].to_numpy()
        return pd.DataFrame(
            [
                {
                    "dv": self.dv,
                    "contrast": f"{self.groups[1]} - {self.groups[0]}",
                    "estimate": self.mean_difference,
                    "ci_low": self.ci[0],
                    "ci_high": self.ci[1],
                    "t": self.t,
                    "df": self.df,
                    "p": self.p,
                    "hedges_g": self.hedges_g,
                    "g_ci_low": self.g_ci[0],
                    "g_ci_high": self.g_ci[1],
                    "n": int(n.sum()),
                    "n1": int(n[0]),
                    "n2": int(n[1]),
                }
            ]
        )


def _need_two_each(levels: Sequence[Hashable], values: Sequence[np.ndarray], dv: str, what: str) -> None:
    small = [f"{lv!r} (n={v.size})" for lv, v in zip(levels, values, strict=True) if v.size < 2]
    if small:
        raise DataError(
            f"{what} of {dv!r} needs at least 2 cases per group (a variance is needed in each); too few in "
            f"group(s) {', '.join(small)} - merge or drop the group"
        )


def compare_groups(
    df: pd.DataFrame,
    dv: str,
    group: str,
    groups: Sequence[Hashable] | None = None,
    *,
    level: float = 0.95,
) -> GroupComparison:
    """Compare two groups: Welch t test, mean difference with CI, and Hedges' g with CI.

    Parameters
    ----------
    df : pandas.DataFrame
    dv : str
        Numeric outcome.
    group : str
        Grouping column.
    groups : pair of levels, optional
        ``(group1, group2)``; the default is the two sorted levels (e.g. ``(0, 1)`` so that a positive
        difference means group ``1`` scores higher). Rows in other levels are excluded and counted.
    level : float
        Confidence level.

    Returns
    -------
    GroupComparison

    Raises
    ------
    DataError
        Not exactly two groups, fewer than two cases in a group (its variance is undefined), a
        non-numeric outcome, or an outcome that is constant within both groups.

    Notes
    -----
    The t test is Welch's (unequal variances); Hedges' g uses the pooled SD, the exact ``J`` and a CI from
    inverting the noncentral t distribution of ``d / sqrt(1/n1 + 1/n2)`` with ``n1 + n2 - 2`` df (the
    method of ``MBESS::ci.smd`` and ``effectsize::hedges_g``), multiplied by ``J``. Checked in
    ``tests/reference/battery.R`` against ``t.test(y[g == g2], y[g == g1])`` and an R ``uniroot`` over
    ``pt(t, df, ncp)``.
    """
    levels, (y1, y2), excluded = split_groups(df, dv, group, groups, exactly=2)
    _need_two_each(levels, [y1, y2], dv, "a t test")
    n1, n2 = y1.size, y2.size
    m1, m2 = float(y1.mean()), float(y2.mean())
    v1, v2 = float(y1.var(ddof=1)), float(y2.var(ddof=1))
    if v1 == 0 and v2 == 0:
        raise DataError(f"{dv!r} is constant within each group; the t test and Hedges' g are undefined")
    se2 = v1 / n1 + v2 / n2
    se = np.sqrt(se2)
    dof = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    diff = m2 - m1
    t = diff / se
    p = float(2 * _dist.t_sf(abs(t), dof))
    q = float(_dist.t_ppf(0.5 + level / 2, dof))
    df_pooled = n1 + n2 - 2
    sp = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / df_pooled)
    d = diff / sp
    j = hedges_j(df_pooled)
    scale = np.sqrt(1 / n1 + 1 / n2)
    lo, hi = _ncp_interval(d / scale, df_pooled, level)
    means = pd.DataFrame(
        {"group": list(levels), "n": [n1, n2], "mean": [m1, m2], "sd": [np.sqrt(v1), np.sqrt(v2)]}
    )
    return GroupComparison(
        dv=dv,
        group=group,
        groups=(levels[0], levels[1]),
        mean_difference=diff,
        ci=(float(diff - q * se), float(diff + q * se)),
        t=float(t),
        df=float(dof),
        p=p,
        hedges_g=float(j * d),
        g_ci=(float(j * lo * scale), float(j * hi * scale)),
        cohens_d=float(d),
        means=means,
        excluded=excluded,
        level=level,
    )


@dataclass(frozen=True, eq=False)
class MannWhitney(Result):
    """Wilcoxon rank-sum (Mann-Whitney) test of group2 against group1.

    Attributes
    ----------
    u : float
        R's ``W`` from ``wilcox.test(y2, y1)``: the number of (group2, group1) pairs in which the group2
        value is larger, ties counting one half.
    p : float
        Two-sided p value (exact or normal approximation, see ``exact``).
    exact : bool
        Whether the exact null distribution was used.
    rank_biserial : float
        ``2 U / (n1 n2) - 1``: positive when group2 tends to score higher.
    """

    dv: str
    group: str
    groups: tuple[Hashable, Hashable]
    u: float
    p: float
    exact: bool
    correct: bool
    rank_biserial: float
    n1: int
    n2: int
    excluded: int


def mann_whitney(
    df: pd.DataFrame,
    dv: str,
    group: str,
    groups: Sequence[Hashable] | None = None,
    *,
    exact: bool | None = None,
    correct: bool = True,
) -> MannWhitney:
    """Wilcoxon rank-sum test with the rank-biserial correlation, following R's ``wilcox.test`` rules.

    Parameters
    ----------
    groups : pair of levels, optional
        ``(group1, group2)`` as in :func:`compare_groups`.
    exact : bool, optional
        ``None`` (R's default): exact when both groups have fewer than 50 cases and there are no ties.
        With ties the normal approximation is always used (as R does, which also warns).
    correct : bool
        Continuity correction of the normal approximation (R's default ``TRUE``).

    Notes
    -----
    Checked against ``wilcox.test(y[g == g2], y[g == g1])`` in ``tests/reference/battery.R``.
    """
    from scipy import stats  # imported here: scipy.stats is slow to import

    levels, (y1, y2), excluded = split_groups(df, dv, group, groups, exactly=2)
    if y1.size == 0 or y2.size == 0:
        raise DataError(f"a group of {group!r} has no complete cases for {dv!r}")
    nx, ny = y2.size, y1.size
    combined = np.concatenate([y2, y1])
    ranks = stats.rankdata(combined)
    u = float(ranks[:nx].sum() - nx * (nx + 1) / 2)
    _, tie_counts = np.unique(combined, return_counts=True)
    has_ties = bool(np.any(tie_counts > 1))
    use_exact = (nx < 50 and ny < 50) if exact is None else exact
    use_exact = use_exact and not has_ties
    if use_exact:
        p = float(stats.mannwhitneyu(y2, y1, alternative="two-sided", method="exact").pvalue)
    else:
        z = u - nx * ny / 2
        sigma = np.sqrt(
            nx * ny / 12 * ((nx + ny + 1) - np.sum(tie_counts**3 - tie_counts) / ((nx + ny) * (nx + ny - 1)))
        )
        if sigma == 0:
            raise DataError(f"{dv!r} takes a single value in both groups; the rank-sum test is undefined")
        z = (z - (0.5 * np.sign(z) if correct else 0.0)) / sigma
        p = float(2 * min(_dist.norm_cdf(z), _dist.norm_sf(z)))
    return MannWhitney(
        dv=dv,
        group=group,
        groups=(levels[0], levels[1]),
        u=u,
        p=min(1.0, p),
        exact=use_exact,
        correct=correct,
        rank_biserial=2 * u / (nx * ny) - 1,
        n1=int(ny),
        n2=int(nx),
        excluded=excluded,
    )
