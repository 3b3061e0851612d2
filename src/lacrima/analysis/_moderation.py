"""Moderation by OLS with an interaction: simple slopes and Johnson-Neyman regions of significance."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lacrima import _dist
from lacrima._results import Result
from lacrima.analysis._validate import as_list, complete_rows, numeric_values
from lacrima.errors import DataError

__all__ = ["JohnsonNeyman", "Moderation", "moderation"]


@dataclass(frozen=True)
class _OLSFit:
    beta: np.ndarray
    vcov: np.ndarray
    df_resid: float
    rsquared: float


def _ols(y: np.ndarray, design: np.ndarray, *, hc3: bool) -> _OLSFit:
    """OLS of ``y`` on a full-rank ``design`` whose first column is the intercept, via QR.

    The classical covariance is ``s^2 (X'X)^-1``; HC3 is ``(X'X)^-1 X' diag(e^2 / (1 - h)^2) X (X'X)^-1``
    (``sandwich::vcovHC(fit, type = "HC3")``). Written on numpy rather than statsmodels, whose import alone
    took longer than the rest of the battery.
    """
    n, p = design.shape
    q, r = np.linalg.qr(design)
    beta = np.linalg.solve(r, q.T @ y)
    resid = y - design @ beta
    df_resid = float(n - p)
    r_inv = np.linalg.inv(r)
    xtx_inv = r_inv @ r_inv.T
    if hc3:
        hat = np.sum(q * q, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = resid**2 / (1.0 - hat) ** 2
        meat = design.T @ (design * w[:, None])
        vcov = xtx_inv @ meat @ xtx_inv
    else:
        vcov = xtx_inv * float(resid @ resid) / df_resid
    centred = y - y.mean()
    rsquared = 1.0 - float(resid @ resid) / float(centred @ centred)
    return _OLSFit(beta=beta, vcov=vcov, df_resid=df_resid, rsquared=rsquared)


@dataclass(frozen=True, eq=False)
class JohnsonNeyman(Result):
    """Values of the moderator at which the slope of ``x`` is significant at ``alpha``.

    Attributes
    ----------
    bounds : tuple of float
        Real roots of the Johnson-Neyman quadratic on the raw moderator scale (0, 1 or 2 values; these are
        the moderator values where the slope's p equals ``alpha``), whether or not they lie in the data.
    regions : tuple of (float, float)
        Intervals of the *observed* moderator range where the slope is significant (empty: nowhere;
        ``((min, max),)``: everywhere observed). Endpoints equal to the observed min or max mean the region
        runs to the edge of the data, not that significance stops there.
    observed_range : (float, float)
        Minimum and maximum of the moderator in the analysed cases.
    alpha : float
    """

    bounds: tuple[float, ...]
    regions: tuple[tuple[float, float], ...]
    observed_range: tuple[float, float]
    alpha: float

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"region_low": lo, "region_high": hi, "alpha": self.alpha} for lo, hi in self.regions],
            columns=["region_low", "region_high", "alpha"],
        )


@dataclass(frozen=True, eq=False)
class Moderation(Result):
    """OLS moderation model ``y ~ x + m + x:m (+ covariates)``.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Index ``(Intercept)``, ``x``, ``m``, ``x:m``, covariates; columns ``estimate, se, t, p, ci_low,
        ci_high`` (t tests with the residual df; HC3 standard errors when ``hc3``).
    r2 : float
        R^2 of the full model.
    r2_change, f_change, p_change : float
        Increase in R^2 from adding the interaction, its F (1 and ``df_resid`` df) and p (classical, also
        when ``hc3``).
    simple_slopes : pandas.DataFrame
        Slope of ``x`` at the moderator's mean - 1 SD, mean and mean + 1 SD: ``at`` (label),
        ``m_value`` (raw scale), ``intercept`` (the predicted ``y`` there where ``x`` is 0 on the model's
        scale, centred when ``centered``, with covariates at 0: the line a simple-slopes plot draws),
        ``estimate, se, t, p, ci_low, ci_high``.
    johnson_neyman : JohnsonNeyman
    centered : bool
        Whether ``x`` and ``m`` were mean-centred (covariates are never centred).
    """

    y: str
    x: str
    m: str
    covar: tuple[str, ...]
    coefficients: pd.DataFrame
    r2: float
    r2_change: float
    f_change: float
    p_change: float
    df_resid: float
    simple_slopes: pd.DataFrame
    johnson_neyman: JohnsonNeyman
    centered: bool
    hc3: bool
    n: int
    excluded: int
    level: float

    def table(self) -> pd.DataFrame:
        out = self.coefficients.copy()
        out.index.name = "term"
        return out.reset_index()


def _jn_regions(
    b1: float, b3: float, v11: float, v13: float, v33: float, tcrit: float, lo: float, hi: float
) -> tuple[tuple[float, ...], tuple[tuple[float, float], ...]]:
    """Roots of ``(b1 + b3 m)^2 = t^2 var(b1 + b3 m)`` and the significant parts of ``[lo, hi]``."""
    qa = b3 * b3 - tcrit**2 * v33
    qb = 2 * (b1 * b3 - tcrit**2 * v13)
    qc = b1 * b1 - tcrit**2 * v11
    disc = qb * qb - 4 * qa * qc
    if qa == 0:
        roots: tuple[float, ...] = () if qb == 0 else (-qc / qb,)
    elif disc < 0:
        roots = ()
    else:
        sq = np.sqrt(disc)
        roots = tuple(sorted(((-qb - sq) / (2 * qa), (-qb + sq) / (2 * qa))))

    def significant(mv: float) -> bool:
        return qa * mv * mv + qb * mv + qc >= 0

    cuts = sorted({lo, hi, *[r for r in roots if lo < r < hi]})
    regions: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(cuts):
        if significant((a + b) / 2):
            if regions and regions[-1][1] == a:
                regions[-1] = (regions[-1][0], b)
            else:
                regions.append((a, b))
    return roots, tuple(regions)


def moderation(
    df: pd.DataFrame,
    y: str,
    x: str,
    m: str,
    covar: str | Sequence[str] | None = None,
    *,
    center: bool = True,
    hc3: bool = False,
    level: float = 0.95,
) -> Moderation:
    """Does ``m`` moderate the effect of ``x`` on ``y``? OLS with the ``x*m`` interaction.

    Parameters
    ----------
    df : pandas.DataFrame
    y, x, m : str
        Outcome, focal predictor and moderator (numeric; a 0/1 moderator works too).
    covar : str or sequence of str, optional
        Covariates entered in both the full and the reduced (no-interaction) model.
    center : bool
        Mean-centre ``x`` and ``m`` (over the analysed cases) before forming the product. Simple slopes and
        Johnson-Neyman bounds are reported on the raw moderator scale either way.
    hc3 : bool
        HC3 heteroscedasticity-consistent standard errors for coefficients, simple slopes and the
        Johnson-Neyman bounds (tests keep the residual df).
    level : float
        Confidence level; the Johnson-Neyman ``alpha`` is ``1 - level``.

    Returns
    -------
    Moderation

    Notes
    -----
    Checked in ``tests/reference/battery.R`` against ``lm(y ~ xc * mc + z)`` (coefficients, R^2,
    ``anova(reduced, full)``), simple slopes from ``vcov(fit)`` (and ``sandwich``-free HC3 computed from
    the hat values) and Johnson-Neyman roots at which the R-computed slope p is exactly ``1 - level``.
    """
    z_cols = as_list(covar)
    cols = [y, x, m, *z_cols]
    if len(set(cols)) != len(cols):
        raise DataError(f"y, x, m and covar must be different columns, got {cols!r}")
    mask, excluded = complete_rows(df, cols)
    data = {c: numeric_values(df, c)[mask] for c in cols}
    n = int(mask.sum())
    p_full = 4 + len(z_cols)
    if n <= p_full + 1:
        raise DataError(f"{n} complete case(s) for a moderation model with {p_full} coefficients; need more")
    for c in cols:
        if np.ptp(data[c]) == 0:
            raise DataError(
                f"column {c!r} is constant among the {n} complete cases; it cannot enter the model"
            )
    m_mean = float(data[m].mean())
    xv = data[x] - data[x].mean() if center else data[x]
    mv = data[m] - m_mean if center else data[m]
    shift = m_mean if center else 0.0
    inter = f"{x}:{m}"
    names = ["(Intercept)", x, m, inter, *z_cols]
    design = np.column_stack([np.ones(n), xv, mv, xv * mv, *[data[c] for c in z_cols]])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise DataError(f"the predictors {[x, m, *z_cols]!r} are linearly dependent; drop a redundant one")
    fit = _ols(data[y], design, hc3=hc3)
    reduced = _ols(data[y], np.delete(design, 3, axis=1), hc3=False)
    beta, vcov = fit.beta, fit.vcov
    se = np.sqrt(np.diag(vcov))
    dfr = fit.df_resid
    tcrit = float(_dist.t_ppf(0.5 + level / 2, dfr))
    tvals = beta / se
    coefficients = pd.DataFrame(
        {
            "estimate": beta,
            "se": se,
            "t": tvals,
            "p": 2 * _dist.t_sf(np.abs(tvals), dfr),
            "ci_low": beta - tcrit * se,
            "ci_high": beta + tcrit * se,
        },
        index=pd.Index(names, name="term"),
    )
    sd_m = float(data[m].std(ddof=1))
    rows = []
    for label, raw in (("-1 SD", m_mean - sd_m), ("mean", m_mean), ("+1 SD", m_mean + sd_m)):
        at = raw - shift
        est = beta[1] + beta[3] * at
        s = float(np.sqrt(vcov[1, 1] + 2 * at * vcov[1, 3] + at * at * vcov[3, 3]))
        t = est / s
        rows.append(
            {
                "at": label,
                "m_value": raw,
                "intercept": float(beta[0] + beta[2] * at),
                "estimate": est,
                "se": s,
                "t": t,
                "p": float(2 * _dist.t_sf(abs(t), dfr)),
                "ci_low": est - tcrit * s,
                "ci_high": est + tcrit * s,
            }
        )
    lo, hi = float(data[m].min()), float(data[m].max())
    roots, regions = _jn_regions(
        beta[1], beta[3], vcov[1, 1], vcov[1, 3], vcov[3, 3], tcrit, lo - shift, hi - shift
    )
    jn = JohnsonNeyman(
        bounds=tuple(float(r + shift) for r in roots),
        regions=tuple((float(a + shift), float(b + shift)) for a, b in regions),
        observed_range=(lo, hi),
        alpha=1 - level,
    )
    r2_change = float(fit.rsquared - reduced.rsquared)
    f_change = r2_change / ((1 - fit.rsquared) / dfr)
    return Moderation(
        y=y,
        x=x,
        m=m,
        covar=tuple(z_cols),
        coefficients=coefficients,
        r2=float(fit.rsquared),
        r2_change=r2_change,
        f_change=float(f_change),
        p_change=float(_dist.f_sf(f_change, 1, dfr)),
        df_resid=dfr,
        simple_slopes=pd.DataFrame(rows),
        johnson_neyman=jn,
        centered=center,
        hc3=hc3,
        n=n,
        excluded=excluded,
        level=level,
    )
