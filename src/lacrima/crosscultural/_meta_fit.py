"""Numerical core of the random-effects meta-analysis (no input checking, no result objects).

Everything works on a design matrix ``X`` (k x p, first column the intercept), effects ``y`` and sampling
variances ``v``, so the same code serves the intercept-only model and meta-regression. The estimators follow
the definitions in metafor's ``rma.uni`` (Viechtbauer, 2010); see :mod:`lacrima.crosscultural.meta`.

metafor writes its estimators with the k x k residual-forming matrix P = W - W X (X'WX)^-1 X'W. Forming P
costs O(k^2) memory and time (800 MB at k = 10,000), so nothing here builds it: every quantity the
estimators need is a weighted sum over studies plus p x p algebra (:func:`residual_terms`), which is O(k p^2)
and gives the same numbers (tests/crosscultural/test_meta_large.py checks them against the dense P).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from lacrima import _dist
from lacrima._roots import brent_root
from lacrima.errors import ConvergenceWarning

FloatArray = NDArray[np.float64]

METHODS = ("REML", "DL", "PM", "ML", "FE")

# metafor's defaults (rma.uni control): Fisher scoring stops when tau^2 changes by less than THRESHOLD.
THRESHOLD = 1e-5
MAX_ITER = 100
LL0_TOL = float(np.finfo(float).eps) ** 0.25


@dataclass(frozen=True)
class Tau2Fit:
    """An estimate of tau^2 with how it was found."""

    tau2: float
    se: float
    iterations: int
    converged: bool


@dataclass(frozen=True)
class WlsFit:
    """Weighted least squares at fixed tau^2."""

    beta: FloatArray
    vb: FloatArray
    weights: FloatArray
    rss: float


@dataclass(frozen=True)
class ResidualTerms:
    """What the estimators need from P = W - W X (X'WX)^-1 X'W, computed without forming P.

    With A = X'WX, beta = A^-1 X'Wy, r = y - X beta and leverages h_i = w_i x_i' A^-1 x_i (the diagonal of
    the hat matrix W^1/2 X A^-1 X' W^1/2):

    - ``q`` = y'Py = sum(w r^2);
    - ``py`` = P y = w r;
    - ``tr_p`` = tr(P) = sum(w (1 - h));
    - ``tr_pp`` = tr(PP) = sum(P * P) = sum(w^2 (1 - 2 h)) + tr(B^2), B = A^-1 X'W^2 X (p x p);
    - ``diag_p`` = diag(P) = w (1 - h).
    """

    q: float
    py: FloatArray
    tr_p: float
    tr_pp: float
    diag_p: FloatArray


def residual_terms(X: FloatArray, y: FloatArray, w: FloatArray) -> ResidualTerms:
    """Quadratic form, trace and squared Frobenius norm of P = W - W X (X'WX)^-1 X'W in O(k p^2)."""
    WX = X * w[:, None]
    S = np.linalg.solve(X.T @ WX, WX.T)  # p x k: A^-1 X'W
    r = y - X @ (S @ y)
    wr = w * r
    h = np.einsum("ij,ji->i", X, S)  # h_i = w_i x_i' A^-1 x_i
    B = S @ WX  # A^-1 X'W^2 X
    return ResidualTerms(
        q=float(np.sum(wr * r)),
        py=wr,
        tr_p=float(np.sum(w * (1.0 - h))),
        tr_pp=float(np.sum(w**2 * (1.0 - 2.0 * h)) + np.sum(B * B.T)),
        diag_p=w * (1.0 - h),
    )


def q_stat(tau2: float, X: FloatArray, y: FloatArray, v: FloatArray) -> float:
    """Generalised Q statistic y'P(tau2)y with weights 1/(v + tau2), as sum(w r^2) of the weighted fit."""
    w = 1.0 / (v + tau2)
    WX = X * w[:, None]
    beta = np.linalg.solve(X.T @ WX, WX.T @ y)
    r = y - X @ beta
    return float(np.sum(w * r * r))


def wls(X: FloatArray, y: FloatArray, v: FloatArray, tau2: float) -> WlsFit:
    """Weighted least squares fit with weights 1/(v + tau2)."""
    w = 1.0 / (v + tau2)
    XtWX = X.T @ (X * w[:, None])
    vb = np.linalg.inv(XtWX)
    vb = (vb + vb.T) / 2.0
    beta = vb @ (X.T @ (w * y))
    resid = y - X @ beta
    return WlsFit(beta=beta, vb=vb, weights=w, rss=float(np.sum(w * resid**2)))


def loglik(tau2: float, X: FloatArray, y: FloatArray, v: FloatArray, reml: bool) -> float:
    """(Restricted) log-likelihood of the random-effects model at tau2, as metafor defines it."""
    k, p = X.shape
    fit = wls(X, y, v, tau2)
    if reml:
        _, logdet = np.linalg.slogdet(X.T @ (X * fit.weights[:, None]))
        return float(
            -0.5 * (k - p) * math.log(2 * math.pi)
            - 0.5 * np.sum(np.log(v + tau2))
            - 0.5 * logdet
            - 0.5 * fit.rss
        )
    return float(-0.5 * k * math.log(2 * math.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * fit.rss)


def _tau2_upper(y: FloatArray) -> float:
    """metafor's default upper end of the tau^2 search interval: max(100, 10 * mad(y)^2)."""
    mad = 1.4826 * float(np.median(np.abs(y - np.median(y))))
    return max(100.0, 10.0 * mad**2)


def _solve_q(target: float, X: FloatArray, y: FloatArray, v: FloatArray, upper: float) -> float:
    """Solve Q(tau2) = target for tau2 >= 0, Q decreasing in tau2; assumes Q(0) >= target."""
    hi = upper
    for _ in range(60):
        if q_stat(hi, X, y, v) <= target:
            break
        hi *= 2.0
    else:  # pragma: no cover - Q tends to 0 as tau2 grows, so this needs absurd data
        return hi
    return brent_root(lambda t: q_stat(t, X, y, v) - target, 0.0, hi, xtol=1e-15, rtol=8.9e-16, maxiter=500)


def tau2_dl(X: FloatArray, y: FloatArray, v: FloatArray) -> Tau2Fit:
    k, p = X.shape
    t = residual_terms(X, y, 1.0 / v)
    trP = t.tr_p
    tau2 = max(0.0, (t.q - (k - p)) / trP)
    se = math.sqrt((2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * t.tr_pp) / trP**2)
    return Tau2Fit(tau2=tau2, se=se, iterations=0, converged=True)


def tau2_pm(X: FloatArray, y: FloatArray, v: FloatArray) -> Tau2Fit:
    k, p = X.shape
    target = float(k - p)
    tau2 = 0.0 if q_stat(0.0, X, y, v) < target else _solve_q(target, X, y, v, _tau2_upper(y))
    w = 1.0 / (v + tau2)
    se = math.sqrt(2 * k**2 / (k - p) / float(np.sum(w)) ** 2)
    return Tau2Fit(tau2=tau2, se=se, iterations=0, converged=True)


def _fisher_scoring(
    X: FloatArray, y: FloatArray, v: FloatArray, reml: bool, threshold: float, max_iter: int
) -> tuple[float, int, bool]:
    """Fisher scoring for the (RE)ML tau^2 from the Hedges (HE) starting value, as metafor iterates."""
    k, p = X.shape
    # Starting value: Hedges' estimator from the unweighted fit.
    t0 = residual_terms(X, y, np.ones(k))
    tau2 = max(0.0, (t0.q - float(np.sum(t0.diag_p * v))) / (k - p))
    change = threshold + 1.0
    iterations = 0
    while change > threshold:
        iterations += 1
        old = tau2
        w = 1.0 / (v + tau2)
        t = residual_terms(X, y, w)
        Py = t.py
        if reml:
            adj = (float(Py @ Py) - t.tr_p) / t.tr_pp
        else:
            adj = (float(Py @ Py) - float(np.sum(w))) / float(np.sum(w**2))
        if not math.isfinite(adj):
            adj = 0.0
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if iterations > max_iter:
            return tau2, iterations, False
    return tau2, iterations, True


def tau2_ml(
    X: FloatArray, y: FloatArray, v: FloatArray, reml: bool, threshold: float, max_iter: int
) -> Tau2Fit:
    """REML (reml=True) or ML estimate of tau^2 by Fisher scoring, with a bounded search as fallback."""
    name = "REML" if reml else "ML"
    tau2, iterations, converged = _fisher_scoring(X, y, v, reml, threshold, max_iter)
    if not converged:
        # imported here: scipy.optimize takes more than 0.1 s to import and only this rare fallback needs it
        from scipy import optimize

        upper = _tau2_upper(y)
        res = optimize.minimize_scalar(
            lambda t: -loglik(t, X, y, v, reml),
            bounds=(0.0, upper),
            method="bounded",
            options={"xatol": 1e-10},
        )
        tau2 = float(res.x)
        if tau2 < 1e-8 and loglik(0.0, X, y, v, reml) >= -res.fun:
            tau2 = 0.0
        warnings.warn(
            f"{name} Fisher scoring did not converge within {max_iter} iterations; tau^2 = {tau2!r} was "
            "taken from a bounded one-dimensional search of the likelihood instead. Check it against "
            "method='PM' or 'DL', or raise control['max_iter'].",
            ConvergenceWarning,
            stacklevel=4,
        )
    elif tau2 > threshold:
        # Guard against a local maximum: the likelihood at tau2 = 0 must not be higher (metafor's ll0check).
        ll0 = loglik(0.0, X, y, v, reml)
        ll = loglik(tau2, X, y, v, reml)
        if ll0 - ll > LL0_TOL:
            warnings.warn(
                f"{name} Fisher scoring may have stopped at a local maximum (the likelihood is higher at "
                "tau^2 = 0); tau^2 was set to 0. Inspect the profile likelihood or use method='PM'.",
                ConvergenceWarning,
                stacklevel=4,
            )
            tau2 = 0.0
    tau2 = max(0.0, tau2)
    w = 1.0 / (v + tau2)
    info = residual_terms(X, y, w).tr_pp if reml else float(np.sum(w**2))
    se = math.sqrt(2.0 / info)
    return Tau2Fit(tau2=tau2, se=se, iterations=iterations, converged=converged)


def estimate_tau2(
    method: str, X: FloatArray, y: FloatArray, v: FloatArray, threshold: float, max_iter: int
) -> Tau2Fit:
    """Dispatch to the tau^2 estimator named by ``method``."""
    if method == "FE":
        return Tau2Fit(tau2=0.0, se=math.nan, iterations=0, converged=True)
    if method == "DL":
        return tau2_dl(X, y, v)
    if method == "PM":
        return tau2_pm(X, y, v)
    return tau2_ml(X, y, v, reml=(method == "REML"), threshold=threshold, max_iter=max_iter)


def q_profile_ci(
    tau2: float, X: FloatArray, y: FloatArray, v: FloatArray, level: float
) -> tuple[float, float]:
    """Q-profile confidence interval for tau^2 (Viechtbauer, 2007), as metafor's ``confint(type="QP")``.

    The bounds solve Q(tau2) = chi2 quantiles with k - p degrees of freedom; a bound that falls below 0 is 0.
    """
    k, p = X.shape
    alpha = 1.0 - level
    crit_upper = float(_dist.chi2_ppf(1.0 - alpha / 2.0, k - p))
    crit_lower = float(_dist.chi2_ppf(alpha / 2.0, k - p))
    upper_start = max(100.0, 10.0 * tau2)
    q0 = q_stat(0.0, X, y, v)
    ub = 0.0 if q0 < crit_lower else _solve_q(crit_lower, X, y, v, upper_start)
    lb = 0.0 if q0 < crit_upper else _solve_q(crit_upper, X, y, v, upper_start)
    return lb, ub
