"""meta() with many studies: the k x k matrix P is never formed, and the results equal the dense formulas.

metafor (and lacrima before it) writes the estimators with P = W - W X (X'WX)^-1 X'W; lacrima now computes
the same quantities from weighted sums and p x p matrices. The small-k agreement with metafor is checked
in test_meta.py; here the O(k p^2) route is checked against P built densely at k = 2,000, and a k = 20,000
fit must stay far below the 3.2 GB a dense P would take and agree with the intercept-only formulas.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

from lacrima.crosscultural.meta import MetaRegressionResult, MetaResult, meta

TOL = 1e-10
THRESHOLD = 1e-5  # metafor's Fisher scoring threshold, as in lacrima


def _synthetic(k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As in bench_meta.py: n_i on 20..500, v_i = 4 / n_i, y_i ~ N(0.3 + 0.1 x_i, 0.04 + v_i)."""
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 501, size=k)
    v = 4.0 / n
    x = rng.standard_normal(k)
    y = rng.normal(0.3 + 0.1 * x, np.sqrt(0.04 + v))
    return y, v, x


def _dense_p(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """P = W - W X (X'WX)^-1 X'W as metafor's rma.uni builds it (k x k)."""
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


def _dense_dl(X: np.ndarray, y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    k, p = X.shape
    P = _dense_p(X, 1.0 / v)
    tr_p = float(np.trace(P))
    tau2 = max(0.0, (float(y @ P @ y) - (k - p)) / tr_p)
    se = math.sqrt((2 * (k - p) + 4 * tau2 * tr_p + 2 * tau2**2 * float(np.sum(P * P))) / tr_p**2)
    return tau2, se


def _dense_reml(X: np.ndarray, y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """metafor's REML Fisher scoring from the Hedges start, with P formed at every step."""
    k, p = X.shape
    P0 = _dense_p(X, np.ones(k))
    tau2 = max(0.0, (float(y @ P0 @ y) - float(np.sum(np.diag(P0) * v))) / (k - p))
    change = THRESHOLD + 1.0
    while change > THRESHOLD:
        old = tau2
        P = _dense_p(X, 1.0 / (v + tau2))
        Py = P @ y
        adj = (float(Py @ Py) - float(np.trace(P))) / float(np.sum(P * P))
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 += adj
        change = abs(old - tau2)
    P = _dense_p(X, 1.0 / (v + tau2))
    return tau2, math.sqrt(2.0 / float(np.sum(P * P)))


def _dense_beta(X: np.ndarray, y: np.ndarray, v: np.ndarray, tau2: float) -> np.ndarray:
    WX = X / (v + tau2)[:, None]
    return np.linalg.solve(X.T @ WX, WX.T @ y)


def _dense_q(X: np.ndarray, y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    return float(y @ _dense_p(X, 1.0 / (v + tau2)) @ y)


def _close(a: float, b: float) -> bool:
    return bool(a == pytest.approx(b, rel=TOL, abs=TOL))


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_it_matches_the_dense_formulas_at_k_2000(method: str) -> None:
    y, v, _ = _synthetic(2000, seed=20261125)
    X = np.ones((len(y), 1))
    res = meta(y, se=np.sqrt(v), measure="generic", method=method)
    assert isinstance(res, MetaResult)
    tau2, se_tau2 = _dense_dl(X, y, v) if method == "DL" else _dense_reml(X, y, v)
    assert tau2 > 0.0
    assert _close(res.tau2, tau2)
    assert _close(res.tau2_se, se_tau2)
    assert _close(res.estimate, float(_dense_beta(X, y, v, tau2)[0]))
    assert _close(res.q, _dense_q(X, y, v, 0.0))
    # the Q-profile bounds solve Q(tau2) = chi2 quantiles on k - 1 df, with Q computed from the dense P
    assert res.tau2_ci is not None
    lb, ub = res.tau2_ci
    k = len(y)
    assert _close(_dense_q(X, y, v, lb), float(stats.chi2.ppf(0.975, k - 1)))
    assert _close(_dense_q(X, y, v, ub), float(stats.chi2.ppf(0.025, k - 1)))


def test_it_matches_the_dense_formulas_for_a_meta_regression_at_k_2000() -> None:
    y, v, x = _synthetic(2000, seed=20261126)
    X = np.column_stack([np.ones(len(y)), x])
    res = meta(y, se=np.sqrt(v), measure="generic", method="REML", test="knha", moderators=x)
    assert isinstance(res, MetaRegressionResult)
    tau2, se_tau2 = _dense_reml(X, y, v)
    assert _close(res.tau2, tau2)
    assert _close(res.tau2_se, se_tau2)
    beta = _dense_beta(X, y, v, tau2)
    assert np.allclose(res.coefficients["estimate"].to_numpy(dtype=float), beta, rtol=TOL, atol=TOL)
    assert _close(res.q, _dense_q(X, y, v, 0.0))


def test_it_fits_20000_studies_without_a_k_by_k_matrix() -> None:
    y, v, _ = _synthetic(20_000, seed=20261127)
    tracemalloc.start()
    try:
        dl = meta(y, se=np.sqrt(v), measure="generic", method="DL")
        reml = meta(y, se=np.sqrt(v), measure="generic", method="REML")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a dense P would take 20,000^2 * 8 bytes = 3.2 GB; the O(k p^2) route needs a few arrays of length k
    assert peak < 100e6
    assert isinstance(dl, MetaResult)
    assert isinstance(reml, MetaResult)
    # DL: DerSimonian and Laird's closed form for the intercept-only model (no P involved)
    k = len(y)
    w = 1.0 / v
    q = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    tau2 = max(0.0, (q - (k - 1)) / (float(np.sum(w)) - float(np.sum(w**2)) / float(np.sum(w))))
    assert tau2 > 0.0
    assert _close(dl.q, q)
    assert _close(dl.tau2, tau2)
    w = 1.0 / (v + tau2)
    assert _close(dl.estimate, float(np.sum(w * y) / np.sum(w)))
    # REML: at the reported tau2 the next Fisher scoring step is below metafor's threshold, the standard
    # error is sqrt(2 / tr(PP)) and the estimate is the weighted mean; for the intercept-only model
    # P_ij = w_i [i = j] - w_i w_j / sum(w), so Py, tr(P) and tr(PP) are written out here by hand
    assert reml.tau2 > 0.0
    w = 1.0 / (v + reml.tau2)
    sw, sw2, sw3 = float(np.sum(w)), float(np.sum(w**2)), float(np.sum(w**3))
    py = w * (y - float(np.sum(w * y)) / sw)
    tr_p = sw - sw2 / sw
    tr_pp = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
    assert abs((float(py @ py) - tr_p) / tr_pp) < THRESHOLD
    assert _close(reml.tau2_se, math.sqrt(2.0 / tr_pp))
    assert _close(reml.estimate, float(np.sum(w * y) / sw))
