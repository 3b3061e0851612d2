"""The one-factor ML fit behind omega: its derivatives, its minimum, and how it fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from lacrima.errors import DataError
from lacrima.scoring._reliability import _curvatures, _evaluate, fit_one_factor

REFERENCE = Path(__file__).parents[1] / "reference"


def sample_cov(loadings: list[float], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lam = np.array(loadings)
    x = rng.normal(size=(n, 1)) * lam + rng.normal(size=(n, len(lam)))
    return np.cov(x, rowvar=False, ddof=0)


def exact_cov(target: np.ndarray, n: int = 200, seed: int = 2) -> np.ndarray:
    """Covariance (ddof=0) of data whose sample correlation is exactly ``target``."""
    z = np.random.default_rng(seed).normal(size=(n, len(target)))
    z = (z - z.mean(axis=0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    x = z @ np.linalg.cholesky(target).T
    return np.cov(x, rowvar=False, ddof=0)


def theta_of(fit: Any) -> np.ndarray:
    return np.concatenate([fit.loadings, np.log(fit.residual_variances)])


def bfgs_minimum(s: np.ndarray) -> np.ndarray:
    """The parameters scipy's BFGS reaches from the fit's own optimum (a check, not a second estimate)."""
    logdet_s = float(np.linalg.slogdet(s)[1])

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        pt = _evaluate(theta, s, logdet_s)
        assert pt is not None
        return pt.f, pt.grad

    start = theta_of(fit_one_factor(s)) + 1e-3
    res = optimize.minimize(fun, start, jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
    return np.asarray(res.x)


@pytest.mark.parametrize("p", [3, 5, 9])
def test_it_has_the_analytic_gradient_and_hessian(p: int) -> None:
    rng = np.random.default_rng(p)
    s = sample_cov(list(rng.uniform(0.3, 1.2, p)), 60, p)
    logdet_s = float(np.linalg.slogdet(s)[1])
    theta = np.concatenate([rng.normal(size=p), np.log(rng.uniform(0.3, 1.5, p))])
    pt = _evaluate(theta, s, logdet_s)
    assert pt is not None
    hessian, fisher = _curvatures(pt)
    h = 1e-6
    grad, hess = np.empty(2 * p), np.empty((2 * p, 2 * p))
    for i, e in enumerate(np.eye(2 * p)):
        up, down = _evaluate(theta + h * e, s, logdet_s), _evaluate(theta - h * e, s, logdet_s)
        assert up is not None and down is not None
        grad[i] = (up.f - down.f) / (2 * h)
        hess[i] = (up.grad - down.grad) / (2 * h)
    np.testing.assert_allclose(pt.grad, grad, atol=1e-7)
    np.testing.assert_allclose(hessian, hess, atol=1e-7)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)
    assert np.linalg.eigvalsh(fisher).min() > 0


def test_it_uses_the_expected_information_that_the_hessian_is_where_the_model_fits() -> None:
    lam, psi = np.array([0.9, 0.7, 0.5, 0.8]), np.array([0.4, 0.6, 0.9, 0.3])
    sigma = np.outer(lam, lam) + np.diag(psi)
    pt = _evaluate(np.concatenate([lam, np.log(psi)]), sigma, float(np.linalg.slogdet(sigma)[1]))
    assert pt is not None
    hessian, fisher = _curvatures(pt)
    assert pt.f == pytest.approx(0, abs=1e-14)
    np.testing.assert_allclose(fisher, hessian, atol=1e-13)


@pytest.mark.parametrize(
    "s",
    [
        sample_cov([0.9, 0.8, 0.7, 0.6, 0.5], 124, 1),
        sample_cov([1.0, -0.9, 0.8, -0.7], 80, 8),  # mixed signs
        sample_cov([1.0, 0.9, 0.8, 0.0, 0.7], 150, 1),  # an item that does not load
        sample_cov(list(np.linspace(0.3, 1.2, 36)), 124, 3),  # as many items as ECR-R
        sample_cov([1.0, 0.9, 0.8, 0.7], 100, 4) * np.outer([0.01, 1, 100, 5], [0.01, 1, 100, 5]),
    ],
    ids=["five", "mixed_signs", "zero_loading", "thirty_six", "mixed_scales"],
)
def test_it_reaches_the_minimum_that_bfgs_confirms(s: np.ndarray) -> None:
    fit = fit_one_factor(s)
    assert fit.converged and not fit.heywood
    logdet_s = float(np.linalg.slogdet(s)[1])
    pt = _evaluate(theta_of(fit), s, logdet_s)
    assert pt is not None
    assert np.max(np.abs(pt.grad)) < 1e-10
    assert fit.fmin == pytest.approx(pt.f / 2, abs=1e-15)
    assert fit.loadings.sum() > 0
    other = bfgs_minimum(s)
    p = len(s)
    sign = np.sign(other[:p].sum())
    np.testing.assert_allclose(sign * other[:p], fit.loadings, atol=1e-7 * np.sqrt(np.diag(s)).max())
    np.testing.assert_allclose(np.exp(other[p:]), fit.residual_variances, rtol=1e-6)


def test_it_fits_three_items_exactly() -> None:
    s = sample_cov([0.9, 0.6, 0.7], 300, 5)
    fit = fit_one_factor(s)
    implied = np.outer(fit.loadings, fit.loadings) + np.diag(fit.residual_variances)
    assert fit.converged and fit.fmin == pytest.approx(0, abs=1e-14)
    np.testing.assert_allclose(implied, s, atol=1e-10)


def test_it_drives_a_heywood_residual_variance_to_zero() -> None:
    s = exact_cov(np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]]))
    fit = fit_one_factor(s)
    assert fit.converged and fit.heywood
    assert fit.residual_variances[0] < 1e-8
    assert fit.residual_variances[1:].min() > 0.1
    # at the boundary the first loading takes the whole variance of its item
    assert fit.loadings[0] ** 2 == pytest.approx(s[0, 0], rel=1e-7)


@pytest.mark.parametrize("case", ["agreeableness", "neuroticism", "agreeableness_small"])
def test_it_takes_few_iterations_on_the_reference_data(case: str) -> None:
    r = json.loads((REFERENCE / "reliability.json").read_text(encoding="utf-8"))[case]
    x = pd.read_csv(REFERENCE / "data" / "bfi_items.csv").iloc[: r["rows"]][r["columns"]].dropna()
    s = np.cov(x.to_numpy(dtype=float), rowvar=False, ddof=0)
    assert not fit_one_factor(s, max_iter=1).converged
    fit = fit_one_factor(s, max_iter=8)
    assert fit.converged
    assert fit.fmin == pytest.approx(r["lavaan_fmin"], abs=1e-9)


def test_it_says_what_is_wrong_with_a_matrix_it_cannot_fit() -> None:
    good = sample_cov([0.9, 0.8, 0.7], 50, 1)
    with pytest.raises(DataError, match="must be square"):
        fit_one_factor(good[:2])
    with pytest.raises(DataError, match="missing or infinite"):
        fit_one_factor(np.where(np.eye(3) == 1, np.nan, good))
    with pytest.raises(DataError, match="singular"):
        fit_one_factor(np.ones((3, 3)))
    with pytest.raises(DataError, match="singular"):
        fit_one_factor(np.diag([1.0, -1.0, -1.0]))  # positive determinant, not a covariance matrix
    with pytest.raises(DataError, match="max_iter must be a positive"):
        fit_one_factor(good, max_iter=0)
