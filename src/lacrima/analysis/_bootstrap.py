"""Nonparametric bootstrap confidence intervals (percentile and BCa), vectorised over resamples.

The interval arithmetic follows R's ``boot`` package (``boot.ci``): endpoints are order statistics of the
replicates interpolated on the normal-quantile scale (``boot:::norm.inter``), and the BCa acceleration comes
from empirical influence values. For an ordinary bootstrap ``boot.ci(type = "bca")`` estimates these by
*regression* of the replicates on the resampling frequencies (``empinf(type = "reg")``, the default when
``boot`` was called with index-type statistics), not by the jackknife; both are offered here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from lacrima import _dist
from lacrima._results import Result
from lacrima.analysis._validate import as_list, complete_rows, numeric_values, require_columns
from lacrima.errors import DataError, SmallSampleWarning

__all__ = [
    "BootstrapCI",
    "bca_interval",
    "bootstrap_ci",
    "influence_jackknife",
    "influence_regression",
    "percentile_interval",
]

Statistic = Callable[[np.ndarray], np.ndarray]
BUILTIN = ("pearson", "spearman", "partial", "partial_spearman", "mean_difference", "hedges_g")


@dataclass(frozen=True, eq=False)
class BootstrapCI(Result):
    """A bootstrap confidence interval.

    Attributes
    ----------
    statistic : str
        Name of the statistic (a built-in name or the callable's ``__name__``).
    estimate : float
        The statistic on the original data (``t0``).
    ci : tuple of float
        Interval at ``level`` by ``method``.
    method : str
        ``"percentile"`` or ``"bca"``.
    se, bias : float
        SD of the finite replicates and their mean minus ``t0``.
    z0, acceleration : float
        BCa bias correction ``qnorm(mean(t* < t0))`` and acceleration ``sum(L^3) / (6 sum(L^2)^1.5)``
        (NaN for the percentile method).
    n_boot, n_failed : int
        Resamples drawn, and resamples whose statistic was not finite (left out, as ``boot.ci`` does).
    n : int
        Cases resampled (complete cases; ``excluded`` rows were dropped first).
    replicates : numpy.ndarray
        The bootstrap replicates ``t*`` (length ``n_boot``, non-finite ones included).
    """

    statistic: str
    estimate: float
    ci: tuple[float, float]
    method: str
    level: float
    se: float
    bias: float
    z0: float
    acceleration: float
    n_boot: int
    n_failed: int
    n: int
    excluded: int
    seed: int | None
    replicates: np.ndarray

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "statistic": self.statistic,
                    "method": self.method,
                    "estimate": self.estimate,
                    "se": self.se,
                    "bias": self.bias,
                    "ci_low": self.ci[0],
                    "ci_high": self.ci[1],
                    "z0": self.z0,
                    "acceleration": self.acceleration,
                    "n": self.n,
                    "n_boot": self.n_boot,
                    "n_failed": self.n_failed,
                }
            ]
        )


# --- vectorised statistics: data has shape (..., n, p); result has shape (...) --------------------------


def _pearson(data: np.ndarray) -> np.ndarray:
    c = data[..., :2] - data[..., :2].mean(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(c[..., 0] * c[..., 1], axis=-1) / np.sqrt(
            np.sum(c[..., 0] ** 2, axis=-1) * np.sum(c[..., 1] ** 2, axis=-1)
        )


def _ranks(data: np.ndarray) -> np.ndarray:
    from scipy import stats  # imported here: scipy.stats is slow to import

    return np.asarray(stats.rankdata(data, axis=-2), dtype=float)


def _spearman(data: np.ndarray) -> np.ndarray:
    return _pearson(_ranks(data[..., :2]))


def _partial(data: np.ndarray) -> np.ndarray:
    if data.shape[-1] == 2:
        return _pearson(data)
    c = data - data.mean(axis=-2, keepdims=True)
    cov = np.einsum("...ni,...nj->...ij", c, c)
    with np.errstate(invalid="ignore", divide="ignore"):
        # a singular resample (constant column) gives NaN, which is counted as a failed replicate
        det = np.linalg.det(cov)
        ok = np.abs(det) > 0
        safe = np.where(ok[..., None, None], cov, np.eye(cov.shape[-1]))
        prec = np.linalg.inv(safe)
        r = -prec[..., 0, 1] / np.sqrt(prec[..., 0, 0] * prec[..., 1, 1])
    return np.where(ok, r, np.nan)


def _partial_spearman(data: np.ndarray) -> np.ndarray:
    return _partial(_ranks(data))


def _group_moments(data: np.ndarray) -> tuple[np.ndarray, ...]:
    y, g = data[..., 0], data[..., 1]
    n2 = g.sum(axis=-1)
    n1 = g.shape[-1] - n2
    with np.errstate(invalid="ignore", divide="ignore"):
        m2 = np.sum(y * g, axis=-1) / n2
        m1 = np.sum(y * (1 - g), axis=-1) / n1
        ss = np.sum(((y - m2[..., None]) ** 2) * g + ((y - m1[..., None]) ** 2) * (1 - g), axis=-1)
    return m1, m2, n1, n2, ss


def _mean_difference(data: np.ndarray) -> np.ndarray:
    m1, m2, *_ = _group_moments(data)
    return m2 - m1


def _g_from_moments(
    m1: np.ndarray, m2: np.ndarray, n1: np.ndarray, n2: np.ndarray, ss: np.ndarray
) -> np.ndarray:
    dfp = n1 + n2 - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        j = np.exp(special.gammaln(dfp / 2) - 0.5 * np.log(dfp / 2) - special.gammaln((dfp - 1) / 2))
        return j * (m2 - m1) / np.sqrt(ss / dfp)


def _hedges_g(data: np.ndarray) -> np.ndarray:
    return _g_from_moments(*_group_moments(data))


_FUNCS: dict[str, Statistic] = {
    "pearson": _pearson,
    "spearman": _spearman,
    "partial": _partial,
    "partial_spearman": _partial_spearman,
    "mean_difference": _mean_difference,
    "hedges_g": _hedges_g,
}


# --- the same statistics from resampling frequencies ----------------------------------------------------
#
# Pearson's r, partial r and the group statistics are functions of a resample's first and second moments,
# which are sums over the cases weighted by how often each was drawn. One product F @ Z of the (B, n)
# frequency matrix with a few columns Z gives them for every resample, instead of gathering a (B, n, p)
# copy of the data. Z holds the columns centred on the full-sample means (a resample's means stay close to
# those, so its sums of squares about its own means lose little to cancellation) and their products.
# Where such a formula could lose digits - a column (nearly) constant in the resample, so that its sum of
# squares is the small difference of two large numbers, collinear columns, an empty group - the resample
# is computed again from its gathered rows, so it gets exactly what the statistic gives there (NaN for a
# constant column, counted as a failed replicate, as before).

_MOMENT_STATS = ("pearson", "partial", "mean_difference", "hedges_g")
# recompute a resample from its rows when a sum of squares about its own mean is below this share of the
# sum about the full-sample mean, or (partial r) that share over the largest variance inflation factor is:
# rounding errors grow by about the inverse of these ratios, so at least ~12 digits remain
_TRUST = 1e-3
_Moments = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _rows_times(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``a @ z`` in blocks of rows, each small enough for OpenBLAS to keep on one thread (see _crossprod)."""
    block = max(1, 200_000 // max(1, a.shape[1] * z.shape[1]))
    out = np.empty((a.shape[0], z.shape[1]))
    for start in range(0, a.shape[0], block):
        np.matmul(a[start : start + block], z, out=out[start : start + block])
    return out


def _sscp(m: np.ndarray, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of squares and products about each resample's means, ``(B, p, p)``, from the weighted sums ``m``
    of the centred columns and of their products; and the smallest ratio of a sum of squares to the same
    sum about the full-sample mean (NaN for a column that is constant at that mean)."""
    i, j = np.triu_indices(p)
    raw = np.empty((m.shape[0], p, p))
    raw[:, i, j] = m[:, p:]
    raw[:, j, i] = m[:, p:]
    s1 = m[:, :p]
    sscp = raw - s1[:, :, None] * s1[:, None, :] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.diagonal(sscp, axis1=1, axis2=2) / np.diagonal(raw, axis1=1, axis2=2)
    return sscp, share.min(axis=1)


def _correlation_moments(data: np.ndarray) -> tuple[np.ndarray, _Moments]:
    n, p = data.shape
    c = data - data.mean(axis=0)
    i, j = np.triu_indices(p)
    z = np.column_stack([c, c[:, i] * c[:, j]])

    def finish(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, share = _sscp(m, n, p)
        ok = share >= _TRUST
        if p == 2:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = s[:, 0, 1] / np.sqrt(s[:, 0, 0] * s[:, 1, 1])
            return r, ~(ok & np.isfinite(r))
        eye = np.eye(p)
        d = np.sqrt(np.where(ok[:, None], np.diagonal(s, axis1=1, axis2=2), 1.0))
        corr = np.where(ok[:, None, None], s / (d[:, :, None] * d[:, None, :]), eye)
        # det(corr) >= the product of 1 / VIF, so this drops only resamples the VIF test below would drop,
        # and keeps singular matrices out of inv
        ok &= np.linalg.det(corr) > _TRUST**p
        prec = np.linalg.inv(np.where(ok[:, None, None], corr, eye))
        vif = np.diagonal(prec, axis1=1, axis2=2)
        with np.errstate(invalid="ignore"):
            r = -prec[:, 0, 1] / np.sqrt(vif[:, 0] * vif[:, 1])
        ok &= (share / vif.max(axis=1) >= _TRUST) & np.isfinite(r)
        return r, ~ok

    return z, finish


def _group_stat_moments(data: np.ndarray, hedges: bool) -> tuple[np.ndarray, _Moments]:
    n = data.shape[0]
    y, g = data[:, 0], data[:, 1]
    mean1, mean2 = float(y[g == 0].mean()), float(y[g == 1].mean())
    c = y - np.where(g == 1, mean2, mean1)
    z = np.column_stack([g, c * g, c * c * g, c * (1 - g), c * c * (1 - g)])

    def finish(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n2 = m[:, 0]
        n1 = n - n2
        with np.errstate(invalid="ignore", divide="ignore"):
            d1, d2 = m[:, 3] / n1, m[:, 1] / n2
            m1, m2 = mean1 + d1, mean2 + d2
            if not hedges:
                t = m2 - m1
                return t, ~np.isfinite(t)
            ss = (m[:, 4] - m[:, 3] * d1) + (m[:, 2] - m[:, 1] * d2)
            t = _g_from_moments(m1, m2, n1, n2, ss)
            return t, ~((ss >= _TRUST * (m[:, 2] + m[:, 4])) & np.isfinite(t))

    return z, finish


def _moment_replicates(
    name: str, data: np.ndarray, idx: np.ndarray, freq: np.ndarray | None, vectorized: bool
) -> np.ndarray:
    """Replicates of the built-in statistic ``name`` from the resampling frequencies ``freq`` (computed
    here, in chunks, when not given); resamples the moments cannot be trusted on are gathered instead."""
    if name in ("pearson", "partial"):
        z, finish = _correlation_moments(data if name == "partial" else data[:, :2])
    else:
        z, finish = _group_stat_moments(data, hedges=name == "hedges_g")
    b, n = idx.shape
    t = np.empty(b)
    redo = np.empty(b, dtype=bool)
    chunk = b if freq is not None else max(1, 4_000_000 // n)
    for start in range(0, b, chunk):
        rows = slice(start, start + chunk)
        f = freq[rows] if freq is not None else _frequencies(idx[rows])
        t[rows], redo[rows] = finish(_rows_times(f, z))
    if redo.any():
        t[redo] = _evaluate(_FUNCS[name], data, idx[redo], vectorized)
    return t


# --- interval arithmetic (as boot) ----------------------------------------------------------------------


def _norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Quantiles of ``t`` at ``alpha`` interpolated on the normal scale, as ``boot:::norm.inter``."""
    ts = np.sort(t)
    r = ts.size
    rk = (r + 1) * alpha
    if not np.all((rk > 1) & (rk < r)):
        warnings.warn(
            "extreme order statistics used as bootstrap interval endpoints; the interval is unstable - "
            "increase n_boot",
            SmallSampleWarning,
            stacklevel=3,
        )
    k = np.trunc(rk).astype(int)
    out = np.empty(alpha.size)
    for i in range(alpha.size):
        if k[i] <= 0:
            out[i] = ts[0]
        elif k[i] >= r:
            out[i] = ts[-1]
        elif k[i] == rk[i]:
            out[i] = ts[k[i] - 1]
        else:
            z, zk, zk1 = _dist.norm_ppf([alpha[i], k[i] / (r + 1), (k[i] + 1) / (r + 1)])
            out[i] = ts[k[i] - 1] + (z - zk) / (zk1 - zk) * (ts[k[i]] - ts[k[i] - 1])
    return out


def percentile_interval(t: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite replicates ``t`` (``boot.ci(type = "perc")``)."""
    t = np.asarray(t, dtype=float)
    lo, hi = _norm_inter(t[np.isfinite(t)], np.array([(1 - level) / 2, (1 + level) / 2]))
    return float(lo), float(hi)


def bca_interval(
    t: np.ndarray, t0: float, influence: np.ndarray, level: float = 0.95
) -> tuple[tuple[float, float], float, float]:
    """BCa interval from replicates ``t``, estimate ``t0`` and empirical influence values.

    Returns ``((low, high), z0, a)``; as ``boot:::bca.ci``, ``z0 = qnorm(mean(t < t0))`` over finite
    replicates and ``a = sum(L^3) / (6 sum(L^2)^1.5)``.
    """
    t = np.asarray(t, dtype=float)
    t = t[np.isfinite(t)]
    z0 = float(_dist.norm_ppf(np.mean(t < t0)))
    lv = np.asarray(influence, dtype=float)
    a = float(np.sum(lv**3) / (6 * np.sum(lv**2) ** 1.5))
    if not (np.isfinite(z0) and np.isfinite(a)):
        warnings.warn(
            f"the BCa interval is undefined (bias correction z0={z0}, acceleration a={a}): every replicate "
            "lies on one side of the estimate or the influence values are degenerate; use the percentile "
            "interval",
            SmallSampleWarning,
            stacklevel=2,
        )
        return (float("nan"), float("nan")), z0, a
    zalpha = _dist.norm_ppf([(1 - level) / 2, (1 + level) / 2])
    adj = _dist.norm_cdf(z0 + (z0 + zalpha) / (1 - a * (z0 + zalpha)))
    lo, hi = _norm_inter(t, adj)
    return (float(lo), float(hi)), z0, a


def _strata_codes(strata: np.ndarray | None, n: int) -> np.ndarray:
    if strata is None:
        return np.zeros(n, dtype=int)
    return np.asarray(pd.factorize(strata, sort=True)[0], dtype=int)


def _crossprod(x: np.ndarray, block: int = 16) -> np.ndarray:
    """``x.T @ x`` accumulated over blocks of rows, in ``x``'s dtype.

    One product of a (2000, 120) array with itself is small enough that OpenBLAS splits it across threads,
    and on a busy machine waiting for those threads made it 50-100x slower (about 0.1 s instead of 1 ms,
    per hypothesis). Blocks of 16 rows stay below OpenBLAS' threshold for threading, so the cost is a few
    milliseconds whatever the load; the sum differs from one product only by rounding.
    """
    out = np.zeros((x.shape[1], x.shape[1]), dtype=x.dtype)
    for start in range(0, x.shape[0], block):
        part = x[start : start + block]
        out += part.T @ part
    return out


def _solve_spd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``a x = b`` for a symmetric positive definite ``a`` by block elimination in halves.

    OpenBLAS factors a matrix of 10,000 or more elements (here: more than 99 cases) on several threads,
    with the trouble described in _crossprod: on a busy machine one solve of the battery's 120-odd cases
    took up to tens of milliseconds instead of 0.3 ms. Blocks of at most 96 rows are factored on one thread
    (and, up to about 130 cases, the products joining them stay below the threshold too). Elimination
    without pivoting is stable for a positive definite matrix; the answer differs from one LU solve only by
    rounding.
    """
    n = a.shape[0]
    if n <= 96:
        return np.asarray(np.linalg.solve(a, b))
    k = n // 2
    rhs = b.reshape(n, -1)
    top = _solve_spd(a[:k, :k], np.hstack([a[:k, k:], rhs[:k]]))
    w, y = top[:, : n - k], top[:, n - k :]
    low = _solve_spd(a[k:, k:] - a[k:, :k] @ w, rhs[k:] - a[k:, :k] @ y)
    return np.vstack([y - w @ low, low]).reshape(b.shape)


def _frequencies(idx: np.ndarray) -> np.ndarray:
    """``(n_boot, n)`` resampling frequencies: how often each case is drawn in each resample."""
    b, n = idx.shape
    flat = (idx + (np.arange(b) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def _influence_from_frequencies(t: np.ndarray, freq: np.ndarray, codes: np.ndarray) -> np.ndarray:
    fin = np.isfinite(t)
    f = freq if fin.all() else freq[fin]
    b, n = f.shape
    ns = np.bincount(codes)
    first = np.array([np.flatnonzero(codes == s)[0] for s in range(ns.size)])
    inc = np.setdiff1d(np.arange(n), first)
    # OLS with an intercept = OLS of centred t on centred frequencies; the centred normal equations are
    # well conditioned (the multinomial covariance without one column per stratum) and, unlike an SVD
    # least-squares solver, fast even when BLAS threads compete for the cores. The regressors are the
    # proportions f / n_s, so the coefficients are n_s times those on the counts f. The counts are small
    # integers: their cross-products are exact, in float32 too (faster) while every sum stays below 2^24,
    # and centring them afterwards, G - s s' / b, rounds once.
    exact32 = float(f.max(initial=0.0)) ** 2 * b < 2**24
    g = _crossprod(f.astype(np.float32) if exact32 else f).astype(float)
    s = f.sum(axis=0)
    cf = g - np.outer(s, s) / b
    tc = t[fin] - t[fin].mean()
    # the centred frequencies times tc: sum(tc) is not 0 after rounding, and the solve amplifies an error
    # along the all-ones direction (in the bfi reference case: 1e-13 instead of 1e-14 in the influence values)
    xt = f.T @ tc - s * (tc.sum() / b)
    beta = _solve_spd(cf[np.ix_(inc, inc)], xt[inc])
    lv = np.zeros(n)
    lv[inc] = beta * ns[codes[inc]]
    means = np.bincount(codes, weights=lv) / ns
    return lv - means[codes]


def influence_regression(
    t: np.ndarray, resamples: np.ndarray, strata: np.ndarray | None = None
) -> np.ndarray:
    """Empirical influence values by regressing replicates on resampling frequencies (``empinf(type="reg")``).

    ``resamples`` is the ``(n_boot, n)`` array of 0-based row indices of each resample.
    """
    idx = np.asarray(resamples)
    return _influence_from_frequencies(
        np.asarray(t, dtype=float), _frequencies(idx), _strata_codes(strata, idx.shape[1])
    )


def influence_jackknife(
    data: np.ndarray, func: Statistic, strata: np.ndarray | None = None, *, vectorized: bool = True
) -> np.ndarray:
    """Jackknife influence values ``(n_s - 1)(t0 - t_(-i))`` (``empinf(type = "jack")``)."""
    n = data.shape[0]
    codes = _strata_codes(strata, n)
    ns = np.bincount(codes)
    t0 = float(func(data))
    chunk = max(1, 4_000_000 // max(1, data.size))
    t_loo = np.empty(n)
    for start in range(0, n, chunk):
        rows = range(start, min(n, start + chunk))
        loo = np.stack([np.delete(data, i, axis=0) for i in rows])
        t_loo[start : start + len(rows)] = (
            np.asarray(func(loo), dtype=float) if vectorized else [float(func(d)) for d in loo]
        )
    return (ns[codes] - 1) * (t0 - t_loo)


# --- the public function --------------------------------------------------------------------------------


def _draw(rng: np.random.Generator, codes: np.ndarray, n_boot: int) -> np.ndarray:
    n = codes.size
    levels = np.unique(codes)
    if levels.size == 1:
        return rng.integers(0, n, size=(n_boot, n))
    idx = np.empty((n_boot, n), dtype=np.int64)
    for s in levels:
        pos = np.flatnonzero(codes == s)
        draws = rng.integers(0, pos.size, size=(n_boot, pos.size))
        if pos[-1] - pos[0] + 1 == pos.size:  # a run of consecutive rows: no fancy indexing needed
            idx[:, pos[0] : pos[-1] + 1] = draws + pos[0]
        else:
            idx[:, pos] = pos[draws]
    return idx


def _evaluate(func: Statistic, data: np.ndarray, idx: np.ndarray, vectorized: bool) -> np.ndarray:
    if not vectorized:
        return np.array([float(func(data[row])) for row in idx])
    chunk = max(1, 8_000_000 // max(1, data.size))
    parts = [np.asarray(func(data[idx[i : i + chunk]]), dtype=float) for i in range(0, idx.shape[0], chunk)]
    return np.concatenate(parts)


def bootstrap_ci(
    df: pd.DataFrame,
    statistic: str | Statistic,
    *,
    columns: Sequence[str],
    seed: int,
    n_boot: int = 2000,
    method: Literal["percentile", "bca"] = "bca",
    level: float = 0.95,
    strata: str | None = None,
    groups: Sequence[Hashable] | None = None,
    acceleration: Literal["regression", "jackknife"] = "regression",
    vectorized: bool = True,
    resamples: np.ndarray | None = None,
) -> BootstrapCI:
    """Nonparametric (case-resampling) bootstrap confidence interval of a statistic.

    Parameters
    ----------
    df : pandas.DataFrame
    statistic : str or callable
        A built-in name - ``"pearson"``, ``"spearman"`` (columns ``[x, y]``), ``"partial"``,
        ``"partial_spearman"`` (columns ``[x, y, *covar]``), ``"mean_difference"``, ``"hedges_g"``
        (columns ``[dv, group]``; ``group2 - group1`` as in :func:`compare_groups`) - or a function of an
        array of shape ``(..., n, p)`` (the ``columns`` as floats, one stack per resample) returning shape
        ``(...)``. With ``vectorized=False`` it receives one ``(n, p)`` array at a time.
    columns : sequence of str
        Columns handed to the statistic, in order; rows missing any are dropped first (``excluded``).
    seed : int
        Seed of numpy's default generator (ignored when ``resamples`` is given).
    n_boot : int
        Number of resamples.
    method : {"bca", "percentile"}
    level : float
    strata : str, optional
        Resample within the levels of this column (e.g. the group column of a group difference, so that
        group sizes stay fixed, as ``boot(..., strata = g)``).
    groups : pair of levels, optional
        For the group statistics: ``(group1, group2)``; default the two sorted levels.
    acceleration : {"regression", "jackknife"}
        Influence values for the BCa acceleration: ``"regression"`` is ``boot.ci``'s default for an
        ordinary bootstrap; ``"jackknife"`` is ``empinf(type = "jack")`` (Efron's textbook choice).
    vectorized : bool
        Whether a callable statistic accepts stacks of resamples.
    resamples : array of int, optional
        ``(n_boot, n)`` 0-based row indices (into the complete cases) to use instead of drawing, e.g. to
        reproduce another program's resamples.

    Returns
    -------
    BootstrapCI

    Raises
    ------
    DataError
        Unknown statistic or wrong columns, fewer than 3 complete cases, a statistic that is not finite on
        the data, or BCa with regression influence values and no more resamples than cases (the regression
        has one coefficient per case).

    Warns
    -----
    SmallSampleWarning
        Endpoints at the extreme order statistics (too few resamples), or an undefined BCa interval.

    Notes
    -----
    Given the same resamples, the endpoints equal ``boot::boot.ci(b, type = c("perc", "bca"))`` to
    floating-point precision (checked in ``tests/reference/battery.R`` with R's resampling indices from
    ``boot.array(b, indices = TRUE)``); with fresh resamples they agree within Monte Carlo error.

    The built-in Pearson and partial r, mean difference and Hedges' g are computed from each resample's
    weighted moments (one product of the resampling frequencies with the centred columns and their
    products); a resample where that could lose more than a few digits (a column constant or nearly so,
    collinear columns, an empty group) is evaluated from its rows, so failed replicates stay the same.
    """
    if method not in ("percentile", "bca"):
        raise DataError(f"method must be 'percentile' or 'bca', got {method!r}")
    if acceleration not in ("regression", "jackknife"):
        raise DataError(f"acceleration must be 'regression' or 'jackknife', got {acceleration!r}")
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1, got {level!r}")
    cols = as_list(columns)
    if isinstance(statistic, str):
        if statistic not in _FUNCS:
            raise DataError(f"unknown statistic {statistic!r}; use one of {list(BUILTIN)} or a function")
        func, name = _FUNCS[statistic], statistic
    elif callable(statistic):
        func, name = statistic, getattr(statistic, "__name__", "statistic")
    else:
        raise DataError("statistic must be a built-in name or a function")
    group_stat = name in ("mean_difference", "hedges_g") and isinstance(statistic, str)
    if group_stat and len(cols) != 2:
        raise DataError(f"{name} needs columns=[dv, group], got {cols!r}")
    if name in ("pearson", "spearman") and len(cols) != 2:
        raise DataError(f"{name} needs columns=[x, y], got {cols!r}")
    if name in ("partial", "partial_spearman") and len(cols) < 2:
        raise DataError(f"{name} needs columns=[x, y, *covar], got {cols!r}")
    require_columns(df, [*cols, *as_list(strata)])
    numeric = cols[:1] if group_stat else cols
    other = [cols[1]] if group_stat else []
    mask, excluded = complete_rows(df, numeric, [*other, *as_list(strata)])
    arrays = [numeric_values(df, c)[mask] for c in numeric]
    if group_stat:
        g = df[cols[1]].to_numpy()[mask]
        levels = list(groups) if groups is not None else sorted(pd.unique(g))
        if len(levels) != 2:
            raise DataError(
                f"column {cols[1]!r} needs exactly two groups, found {levels!r}; pass groups=(...)"
            )
        keep = np.isin(g, np.array(levels, dtype=object))
        excluded += int((~keep).sum())
        arrays = [arrays[0][keep], (g[keep] == levels[1]).astype(float)]
        strata_values = df[strata].to_numpy()[mask][keep] if strata else None
    else:
        strata_values = df[strata].to_numpy()[mask] if strata else None
    data = np.column_stack(arrays)
    n = data.shape[0]
    if n < 3:
        raise DataError(f"{n} complete case(s); the bootstrap needs at least 3")
    t0 = float(func(data))
    if not np.isfinite(t0):
        raise DataError(f"the statistic {name!r} is not finite on the data (t0 = {t0}); check the columns")
    codes = _strata_codes(strata_values, n)
    if resamples is None:
        if n_boot < 2:
            raise DataError(f"n_boot must be at least 2, got {n_boot}")
        idx = _draw(np.random.default_rng(seed), codes, n_boot)
        used_seed: int | None = seed
    else:
        idx = np.asarray(resamples, dtype=np.int64)
        if idx.ndim != 2 or idx.shape[1] != n or idx.min() < 0 or idx.max() >= n:
            raise DataError(f"resamples must be an (n_boot, {n}) array of 0-based indices below {n}")
        used_seed = None
    n_strata = int(np.unique(codes).size)
    if method == "bca" and acceleration == "regression" and idx.shape[0] <= n - n_strata + 1:
        raise DataError(
            f"BCa with regression influence values needs more resamples than cases "
            f"({idx.shape[0]} resamples, {n} cases): the replicates are regressed on one resampling "
            "frequency per case. Increase n_boot "
            "(well beyond n), or use acceleration='jackknife' or method='percentile'"
        )
    # the frequencies are shared by the moment statistics and the regression for the acceleration
    freq = _frequencies(idx) if method == "bca" and acceleration == "regression" else None
    if isinstance(statistic, str) and name in _MOMENT_STATS:
        t = _moment_replicates(name, data, idx, freq, vectorized)
    else:
        t = _evaluate(func, data, idx, vectorized)
    fin = np.isfinite(t)
    if fin.sum() < 2:
        raise DataError(f"only {int(fin.sum())} bootstrap replicate(s) are finite; the interval is undefined")
    z0 = a = float("nan")
    if method == "percentile":
        ci = percentile_interval(t, level)
    else:
        if acceleration == "regression":
            lv = _influence_from_frequencies(t, _frequencies(idx) if freq is None else freq, codes)
        else:
            lv = influence_jackknife(data, func, strata_values, vectorized=vectorized)
        ci, z0, a = bca_interval(t, t0, lv, level)
    return BootstrapCI(
        statistic=name,
        estimate=t0,
        ci=ci,
        method=method,
        level=level,
        se=float(np.std(t[fin], ddof=1)),
        bias=float(np.mean(t[fin]) - t0),
        z0=z0,
        acceleration=a,
        n_boot=int(idx.shape[0]),
        n_failed=int((~fin).sum()),
        n=int(n),
        excluded=excluded,
        seed=used_seed,
        replicates=t,
    )
