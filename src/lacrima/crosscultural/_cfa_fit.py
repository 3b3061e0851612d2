"""Fit statistics of a multi-group CFA, computed as lavaan 0.6-14's ``fitMeasures`` does for ML.

- chi-square ``N f`` with ``f = sum_g (N_g/N) F_g`` (lavaan's ``likelihood = "normal"``);
- baseline: the independence model with free means and variances in every group;
- CFI, TLI as lavaan (``lav_fit_cfi``, ``lav_fit_tli``);
- RMSEA ``sqrt(max(X2/(N df) - 1/N, 0)) * sqrt(G)`` with the 90% interval from the non-central
  chi-square (``lav_fit_rmsea``, ``lav_fit_rmsea_ci``);
- SRMR: lavaan's ``srmr`` (Bentler's, including the means), averaged over groups with weights N_g/N;
- log-likelihood, AIC ``-2 logL + 2 npar`` and BIC ``-2 logL + npar log N``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from lacrima._roots import brent_root
from lacrima.crosscultural import _cfa_engine as engine

__all__ = ["FitMeasures", "chisq_sf", "fit_measures", "rmsea_ci"]


@dataclass(frozen=True)
class FitMeasures:
    chisq: float
    df: int
    pvalue: float
    cfi: float
    tli: float
    rmsea: float
    rmsea_ci_low: float
    rmsea_ci_high: float
    srmr: float
    loglik: float
    aic: float
    bic: float
    baseline_chisq: float
    baseline_df: int


def chisq_sf(x2: float, df: float) -> float:
    """Upper tail of the central chi-square (``scipy.stats.chi2.sf``, computed by the same ``chdtrc``)."""
    if x2 <= 0.0:
        return 1.0
    return float(special.chdtrc(df, x2))


def _cdf(x2: float, df: float, ncp: float) -> float:
    """The (non-central) chi-square cdf, as ``scipy.stats.ncx2.cdf`` computes it (``chndtr``, and
    ``chdtr`` for ``ncp = 0``) without the distribution-object overhead."""
    if ncp <= 0.0:
        return float(special.chdtr(df, x2))
    return float(special.chndtr(x2, df, ncp))


def rmsea_ci(x2: float, df: int, n: int, groups: int, level: float = 0.90) -> tuple[float, float]:
    """The RMSEA confidence interval as lavaan's ``lav_fit_rmsea_ci`` computes it.

    Each bound solves ``P(X2 | df, lambda) = p`` for the non-centrality ``lambda`` with Brent's
    bracketed root finder on ``[0, X2]`` (lower) and ``[0, max(N, 4 X2)]`` (upper).
    """
    if df < 1 or not math.isfinite(x2) or x2 <= 0.0:
        return 0.0, 0.0
    upper_p = 1.0 - (1.0 - level) / 2.0
    lower_p = (1.0 - level) / 2.0
    scale = math.sqrt(groups)

    def lower_fn(lam: float) -> float:
        return _cdf(x2, df, lam) - upper_p

    def upper_fn(lam: float) -> float:
        return _cdf(x2, df, lam) - lower_p

    at_zero = _cdf(x2, df, 0.0)
    if at_zero - upper_p < 0.0:
        low = 0.0
    else:
        lam_l = brent_root(lower_fn, 0.0, x2, xtol=1e-12)
        low = math.sqrt(lam_l / (n * df)) * scale
    n_rmsea = max(n, 4.0 * x2)
    if upper_fn(n_rmsea) > 0.0 or at_zero - lower_p < 0.0:
        high = 0.0
    else:
        lam_u = brent_root(upper_fn, 0.0, n_rmsea, xtol=1e-12)
        high = math.sqrt(lam_u / (n * df)) * scale
    return low, high


def fit_measures(
    structure: engine.Structure, moments: Sequence[engine.GroupMoments], x: np.ndarray, f_min: float
) -> FitMeasures:
    n_groups = len(moments)
    n_total = sum(mo.n for mo in moments)
    p = len(structure.observed)
    df = n_groups * (p * (p + 1) // 2 + p) - structure.npar
    chisq = max(n_total * f_min, 0.0)  # F >= 0; only rounding noise makes it negative
    loglik = 0.0
    baseline = 0.0
    srmr = 0.0
    for gi, mo in zip(structure.indices(), moments, strict=True):
        sigma, mu = engine.implied(x, gi)
        _, logdet = np.linalg.slogdet(sigma)
        s_inv = np.linalg.inv(sigma)
        d = mo.mean - mu
        loglik += (
            -0.5
            * mo.n
            * (p * math.log(2.0 * math.pi) + logdet + float(np.sum(mo.cov * s_inv)) + float(d @ s_inv @ d))
        )
        sd = np.sqrt(np.diag(mo.cov))
        baseline += mo.n * (float(np.sum(np.log(np.diag(mo.cov)))) - mo.logdet)
        resid = (mo.cov - sigma) / np.outer(sd, sd)
        lower = resid[np.tril_indices(p)]
        mean_resid = d / sd
        srmr_g = math.sqrt((float(lower @ lower) + float(mean_resid @ mean_resid)) / (p * (p + 1) / 2 + p))
        srmr += mo.n / n_total * srmr_g
    baseline_df = n_groups * p * (p - 1) // 2
    t1 = max(chisq - df, 0.0)
    t2 = max(chisq - df, baseline - baseline_df, 0.0)
    cfi = 1.0 if t1 == 0.0 and t2 == 0.0 else 1.0 - t1 / t2
    tl1 = (chisq - df) * baseline_df
    tl2 = (baseline - baseline_df) * df
    tli = 1.0 - tl1 / tl2 if df > 0 and abs(tl2) > 0 else 1.0
    rmsea = math.sqrt(max(chisq / n_total / df - 1.0 / n_total, 0.0)) * math.sqrt(n_groups) if df > 0 else 0.0
    low, high = rmsea_ci(chisq, df, n_total, n_groups)
    npar = structure.npar
    return FitMeasures(
        chisq=chisq,
        df=df,
        pvalue=chisq_sf(chisq, df) if df > 0 else math.nan,
        cfi=cfi,
        tli=tli,
        rmsea=rmsea,
        rmsea_ci_low=low,
        rmsea_ci_high=high,
        srmr=srmr,
        loglik=loglik,
        aic=-2.0 * loglik + 2.0 * npar,
        bic=-2.0 * loglik + npar * math.log(n_total),
        baseline_chisq=baseline,
        baseline_df=baseline_df,
    )
