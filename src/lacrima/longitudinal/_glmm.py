"""Logistic mixed models (binomial family, logit link) fitted as lme4's ``glmer``: PIRLS and Laplace/AGQ.

The model. Observation j has a 0/1 outcome y_j, fixed-effect row x_j and linear predictor

    eta = X beta + Z Lambda(theta) u,      u ~ N(0, I_q),      P(y_j = 1 | u) = mu_j = 1 / (1 + exp(-eta_j))

with Z, Lambda(theta) and theta in lme4's parametrisation (``_structure.py``). Write
d_j(eta) = -2 log P(y_j | eta) = 2 log(1 + exp((1 - 2 y_j) eta_j)) (the binomial deviance residual of a 0/1
row) and h(u) = sum_j d_j + u'u, minus twice the log of the joint density of (y, u) up to q log(2 pi).

Conditional modes (PIRLS). For fixed (theta, beta), u* = argmin_u h(u). h is convex; Newton's method on u
with the Fisher weights w_j = mu_j (1 - mu_j) (exact for the canonical logit link) solves

    (Lambda' Z' W Z Lambda + I) delta = Lambda' Z' (y - mu) - u,       u <- u + delta

with step halving whenever h does not decrease (glmer's ``pwrssUpdate`` with beta held fixed), until every
step is below 1e-11 (glmer's tight ``tolPwrss = 1e-12`` in the references).

Laplace deviance (``nAGQ = 1``). With L L' = Lambda' Z' W Z Lambda + I at u*,

    D(theta, beta) = h(u*) + log |L|^2,      logLik = -D / 2

(for 0/1 rows glmer's ``aic()`` term equals sum_j d_j). Adaptive Gauss-Hermite quadrature (``nAGQ = k``) for a
single scalar term: the groups' integrals factorise, and group i, with mode m_i and conditional sd
s_i = 1 / L_ii, contributes

    D_i = h_i(m_i) - 2 log s_i - 2 log sum_k w_k exp(z_k^2 / 2 - (h_i(m_i + s_i z_k) - h_i(m_i)) / 2)

with z_k, w_k the standard-normal Gauss-Hermite rule (numpy's ``hermgauss`` nodes times sqrt(2), weights
over sqrt(pi)); one node (z = 0, w = 1) is the Laplace deviance. This is minus twice the log marginal
likelihood, integrated exactly for polynomials of degree 2k - 1 in the scaled variable.

Estimates. (theta, beta) minimise D jointly (glmer's second stage; its first, nAGQ = 0 stage only supplies
starting values, and only the optimum is reproduced here). Start: theta = 1 on the diagonals (lme4's) and
beta from the logistic GLM. BFGS, with its metric started from the inverse Hessian at the start (for
nAGQ > 1 from the Laplace fit, whose optimum is also the start), then Newton steps with the numerical
Hessian polish the optimum. theta is not bounded: D depends on Lambda only through Lambda Lambda', so a
negative diagonal gives the deviance of the factor with that column's sign flipped, and theta = 0 is a
smooth interior point; estimates are returned with non-negative diagonals. Convergence is judged at the
end as lme4's checkConv: every coordinate of the Newton step H^-1 g below 1e-3, and H not singular.
For a single scalar term every quantity is a per-group sum (``np.bincount``), so one PIRLS step is O(n) and
the Laplace and AGQ gradients are analytic (implicit differentiation of u* through its stationarity
condition and of the conditional sd through H); one vector-valued
term goes group by group through ``_glmm_block`` (q x q blocks, analytic gradient), several terms through
``_glmm_sparse`` (sparse Z Lambda, a sparse LU of the SPD system for log |L|^2, numerical gradient).

Covariance of beta: lme4's ``vcov(fit, use.hessian = TRUE)``, the beta block of 2 H^-1 with H the Hessian
of D in (theta, beta) (central differences). Where that block is not positive definite lme4 warns and falls
back to the covariance conditional on theta, (X' W X - X' W Z Lambda (L L')^-1 Lambda' Z' W X)^-1; so does
this module. Conditional modes b = Lambda u* and their conditional covariances Lambda (L L')^-1 Lambda'
are those of ``ranef(fit, condVar = TRUE)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy import optimize
from scipy.special import expit, log_expit, logsumexp

from lacrima.errors import ConvergenceWarning
from lacrima.longitudinal._structure import Block, theta_start

if TYPE_CHECKING:
    from lacrima.longitudinal._engine import EngineFit

__all__ = ["GlmmEvaluator", "fit_glmm", "gh_rule", "glm_start"]

# PIRLS stops when every Newton step on u is below this (quadratic convergence: the deviance is then exact
# to rounding).
PIRLS_TOL = 1e-11
PIRLS_MAXIT = 100
# lme4's isSingular: a diagonal element of a relative factor below 1e-4.
SINGULAR_TOL = 1e-4


def gh_rule(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for the standard normal (weights sum to 1), as lme4's ``GHrule``."""
    x, w = np.polynomial.hermite.hermgauss(k)
    return x * np.sqrt(2.0), w / np.sqrt(np.pi)


def deviance_residuals(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """-2 log P(y_j | eta_j) for 0/1 outcomes, stable for large |eta|."""
    return -2.0 * log_expit((2.0 * y - 1.0) * eta)


def glm_start(y: np.ndarray, x: np.ndarray, maxit: int = 50) -> np.ndarray:
    """Logistic-regression estimate of beta by IRLS (glmer's starting values come from ``glm``)."""
    beta: np.ndarray = np.zeros(x.shape[1])
    mu = np.clip((y + 0.5) / 2.0, 1e-3, 1 - 1e-3)
    eta = np.log(mu / (1.0 - mu))
    for _ in range(maxit):
        w = mu * (1.0 - mu)
        zwork = eta + (y - mu) / w
        xw = x * w[:, None]
        new = np.linalg.solve(x.T @ xw, xw.T @ zwork)
        done = np.max(np.abs(new - beta)) < 1e-10 * (1.0 + np.max(np.abs(new)))
        beta = new
        eta = np.clip(x @ beta, -30.0, 30.0)
        mu = expit(eta)
        if done:
            break
    return beta


class GlmmEvaluator(Protocol):
    """The deviance of one model as a function of (theta, beta), with what the fit needs at the optimum."""

    ntheta: int
    lower: np.ndarray

    def deviance(self, par: np.ndarray) -> float: ...

    def gradient(self, par: np.ndarray) -> np.ndarray | None: ...

    def conditional_vcov(self, par: np.ndarray) -> np.ndarray: ...

    def ranef(self, par: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]: ...

    def covs(self, theta: np.ndarray) -> list[np.ndarray]: ...

    def normalise(self, par: np.ndarray) -> np.ndarray: ...

    def mode(self, par: np.ndarray) -> _Fitted: ...


class _Fitted(Protocol):
    @property
    def mu(self) -> np.ndarray: ...


@dataclass
class _Mode:
    """PIRLS state of the scalar model at one (theta, beta)."""

    u: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    hess: np.ndarray  # L_ii^2 = 1 + theta^2 sum_j z_j^2 w_j
    h: np.ndarray  # per group: sum_j d_j + u_i^2


class ScalarEvaluator:
    """One scalar random-effect term (``(1 | g)`` or ``(0 + x | g)``): everything per group, O(n) per step."""

    def __init__(self, y: np.ndarray, x: np.ndarray, block: Block, nagq: int) -> None:
        self.y = y
        self.x = x
        self.z = np.asarray(block.z[:, 0], dtype=float)
        self.codes = np.asarray(block.codes, dtype=np.int64)
        self.g = block.n_levels
        self.ntheta = 1
        self.lower = np.array([0.0])
        self.nodes, self.weights = gh_rule(nagq)
        self.nagq = nagq
        self._u = np.zeros(self.g)
        self._cache: dict[bytes, _Mode] = {}
        self._node_cache: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._sign = 2.0 * y - 1.0
        k = len(self.nodes)
        self._kcodes = (self.codes[None, :] + self.g * np.arange(k)[:, None]).ravel()

    def _sum_nodes(self, v: np.ndarray) -> np.ndarray:
        """Per-group sums of a K x n array, as G x K."""
        k = v.shape[0]
        return np.bincount(self._kcodes, weights=v.ravel(), minlength=k * self.g).reshape(k, self.g).T

    def _sum(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=v, minlength=self.g)

    def mode(self, par: np.ndarray) -> _Mode:
        """Conditional modes by per-group Newton steps with step halving (warm-started)."""
        key = par.tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        theta, beta = float(par[0]), par[1:]
        eta0 = self.x @ beta
        a = theta * self.z
        u = self._u.copy() if theta != 0.0 else np.zeros(self.g)
        eta = eta0 + a * u[self.codes]
        h = self._sum(deviance_residuals(self.y, eta)) + u * u
        for _ in range(PIRLS_MAXIT):
            mu = expit(eta)
            grad = u - self._sum(a * (self.y - mu))
            hess = 1.0 + self._sum(a * a * mu * (1.0 - mu))
            step = grad / hess
            if np.max(np.abs(step)) < PIRLS_TOL:
                break
            t = np.ones(self.g)
            for _ in range(30):
                un = u - t * step
                etan = eta0 + a * un[self.codes]
                hn = self._sum(deviance_residuals(self.y, etan)) + un * un
                worse = hn > h + 1e-12 * np.abs(h)
                if not np.any(worse):
                    break
                t = np.where(worse, t / 2.0, t)
            u, eta, h = un, etan, hn
        mu = expit(eta)
        hess = 1.0 + theta * theta * self._sum(self.z * self.z * mu * (1.0 - mu))
        if theta != 0.0:
            self._u = u
        out = _Mode(u, eta, mu, hess, h)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = out
        return out

    def _nodes(self, par: np.ndarray, m: _Mode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Quadrature pass: per node k the points u_ik, the linear predictors and log of each term."""
        key = par.tobytes()
        hit = self._node_cache.get(key)
        if hit is not None:
            return hit
        theta, beta = float(par[0]), par[1:]
        eta0 = self.x @ beta
        s = 1.0 / np.sqrt(m.hess)
        uk = m.u[:, None] + s[:, None] * self.nodes[None, :]  # G x K
        # Nodes first (K x n, each row contiguous) and one bincount over node-and-group codes.
        etak = eta0[None, :] + (theta * self.z)[None, :] * uk.T[:, self.codes]
        dev = -2.0 * log_expit(self._sign[None, :] * etak)
        hk = self._sum_nodes(dev) + uk * uk
        logterm = np.log(self.weights)[None, :] + 0.5 * self.nodes[None, :] ** 2 - 0.5 * (hk - m.h[:, None])
        if len(self._node_cache) > 8:
            self._node_cache.clear()
        self._node_cache[key] = (uk, etak, logterm)
        return uk, etak, logterm

    def deviance(self, par: np.ndarray) -> float:
        m = self.mode(par)
        lap = float(np.sum(m.h) + np.sum(np.log(m.hess)))
        if self.nagq == 1:
            return lap
        _, _, logterm = self._nodes(par, m)
        return lap - 2.0 * float(np.sum(logsumexp(logterm, axis=1)))

    def gradient(self, par: np.ndarray) -> np.ndarray | None:
        """Analytic gradient of the Laplace or AGQ deviance.

        u* moves with (theta, beta) through its stationarity condition u_i = theta sum_j z_j (y_j - mu_j):
        du_i/dpsi = -(dF_i/dpsi) / H_i. The Laplace part h(u*) + log H is differentiated along it (h is
        stationary in u, so only log H feels du*/dpsi). For AGQ, with pi_ik the normalised node terms,
        dD_i/dpsi = dlog H_i/dpsi + sum_k pi_ik dh_i(u_ik)/dpsi, u_ik = u*_i + z_k H_i^-1/2.
        """
        m = self.mode(par)
        theta = float(par[0])
        z, c, x = self.z, self.codes, self.x
        r = self.y - m.mu
        w = m.mu * (1.0 - m.mu)
        wd = w * (1.0 - 2.0 * m.mu)  # dw / deta
        hinv = 1.0 / m.hess
        s2 = self._sum(z * z * w)
        s3 = self._sum(z**3 * wd)
        sr = self._sum(z * r)
        cu = theta**3 * s3 * hinv  # d log H_i / d u_i
        # Per group: du/dpsi and the total dlogH/dpsi (G for theta, G x p for beta).
        p = x.shape[1]
        v = np.column_stack([self._sum(z * w * x[:, j]) for j in range(p)])
        w1 = np.column_stack([self._sum(z * z * wd * x[:, j]) for j in range(p)])
        du_b = -theta * v * hinv[:, None]
        du_t = (sr - theta * m.u * s2) * hinv
        dlh_b = theta**2 * w1 * hinv[:, None] + cu[:, None] * du_b
        dlh_t = (2.0 * theta * s2 + theta**2 * s3 * m.u) * hinv + cu * du_t
        if self.nagq == 1:
            g_beta = x.T @ (-2.0 * r) + dlh_b.sum(axis=0)
            g_theta = -2.0 * np.sum(m.u * sr) + np.sum(dlh_t)
            return np.concatenate([[g_theta], g_beta])
        uk, etak, logterm = self._nodes(par, m)
        pi = np.exp(logterm - logsumexp(logterm, axis=1)[:, None])  # G x K
        rk = self.y[None, :] - expit(etak)  # K x n
        srk = self._sum_nodes(z[None, :] * rk)  # G x K
        gk = 2.0 * uk - 2.0 * theta * srk  # dh/du at each node
        pg = np.sum(pi * gk, axis=1)
        pgz = np.sum(pi * gk * self.nodes[None, :], axis=1)
        half_s = 0.5 / np.sqrt(m.hess)
        e = -2.0 * np.sum(pi.T[:, c] * rk, axis=0)
        g_beta = x.T @ e + np.sum(dlh_b + pg[:, None] * du_b - (half_s * pgz)[:, None] * dlh_b, axis=0)
        g_theta = np.sum(pi * (-2.0 * uk * srk)) + np.sum(dlh_t + pg * du_t - half_s * pgz * dlh_t)
        return np.concatenate([[g_theta], g_beta])

    def conditional_vcov(self, par: np.ndarray) -> np.ndarray:
        m = self.mode(par)
        theta = float(par[0])
        w = m.mu * (1.0 - m.mu)
        xtwx = self.x.T @ (self.x * w[:, None])
        v = np.column_stack([self._sum(theta * self.z * w * self.x[:, j]) for j in range(self.x.shape[1])])
        return np.asarray(np.linalg.inv(xtwx - (v / m.hess[:, None]).T @ v))

    def ranef(self, par: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        m = self.mode(par)
        theta = float(par[0])
        return [(theta * m.u)[:, None]], [(theta * theta / m.hess)[:, None, None]]

    def covs(self, theta: np.ndarray) -> list[np.ndarray]:
        return [np.array([[float(theta[0]) ** 2]])]

    def normalise(self, par: np.ndarray) -> np.ndarray:
        out = par.copy()
        out[0] = abs(out[0])
        return out


def _numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    h = 1e-5 * np.maximum(np.abs(x), 1e-1)
    out = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h[i]
        out[i] = (f(x + e) - f(x - e)) / (2.0 * h[i])
    return out


def hessian(ev: GlmmEvaluator, par: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of the deviance in (theta, beta), step 1e-4 as lme4's ``deriv12``.

    From differences of the analytic gradient where there is one, else of the deviance itself.
    """
    k = len(par)
    h = np.full(k, 1e-4)
    out = np.empty((k, k))
    if ev.gradient(par) is not None:
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            gp, gm = ev.gradient(par + e), ev.gradient(par - e)
            assert gp is not None and gm is not None
            out[:, i] = (gp - gm) / (2.0 * h[i])
        return (out + out.T) / 2.0
    f0 = ev.deviance(par)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        out[i, i] = (ev.deviance(par + ei) - 2.0 * f0 + ev.deviance(par - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            v = (
                ev.deviance(par + ei + ej)
                - ev.deviance(par + ei - ej)
                - ev.deviance(par - ei + ej)
                + ev.deviance(par - ei - ej)
            ) / (4.0 * h[i] * h[j])
            out[i, j] = out[j, i] = v
    return out


def _gradient(ev: GlmmEvaluator, par: np.ndarray) -> np.ndarray:
    g = ev.gradient(par)
    return _numeric_gradient(ev.deviance, par) if g is None else g


def _positive_inverse(hess: np.ndarray) -> np.ndarray | None:
    """Inverse of a symmetric matrix with its eigenvalues made positive (a BFGS starting metric)."""
    vals, vecs = np.linalg.eigh((hess + hess.T) / 2.0)
    if not np.all(np.isfinite(vals)) or np.max(np.abs(vals)) == 0.0:
        return None
    vals = np.maximum(np.abs(vals), 1e-8 * np.max(np.abs(vals)))
    inv = (vecs / vals) @ vecs.T
    return np.asarray((inv + inv.T) / 2.0)


def _optimise(
    ev: GlmmEvaluator, start: np.ndarray, metric: np.ndarray | None, polish: bool = True
) -> tuple[np.ndarray, np.ndarray, bool, list[str]]:
    """Minimise D(theta, beta): BFGS started with the inverse Hessian ``metric``, then a Newton step.

    theta is left unbounded: D depends on Lambda only through Lambda Lambda', so a factor with a negative
    diagonal gives the deviance of the one with that column's sign flipped (``normalise``); the boundary
    theta = 0 is then an interior point where D is smooth, and the optimiser needs no bounds.
    """
    messages: list[str] = []

    def fun(p: np.ndarray) -> tuple[float, np.ndarray]:
        return ev.deviance(p), _gradient(ev, p)

    analytic = ev.gradient(start) is not None
    if metric is None:
        metric = _positive_inverse(hessian(ev, start))
    res = optimize.minimize(
        fun,
        start,
        jac=True,
        method="BFGS",
        options={
            "maxiter": 1000,
            # Differenced gradients carry ~1e-6 of noise: BFGS stops earlier there and the Newton polish
            # (which converges quadratically from so near) finishes.
            "gtol": (1e-8 if analytic else 1e-5) * max(1.0, abs(ev.deviance(start)) / 1e4),
            "hess_inv0": metric,
        },
    )
    par = ev.normalise(np.asarray(res.x, dtype=float))
    converged = bool(res.success) or "precision loss" in str(res.message)
    if not converged:
        messages.append(f"BFGS: {res.message}")
    if not polish:
        # BFGS's own inverse-Hessian estimate, returned as a Hessian for the next stage's metric.
        return par, np.linalg.inv(np.asarray(res.hess_inv)), converged, messages
    hess = hessian(ev, par)
    for _ in range(3):
        step = _newton_step(ev, par, hess)
        if step is None:
            break
        trial = ev.normalise(par + step)
        if not ev.deviance(trial) <= ev.deviance(par) + 1e-9:
            break
        par = trial
        # A step this small leaves the Hessian (and so vcov) unchanged to ~1e-6 relative.
        if np.max(np.abs(step)) < 1e-6 * (1.0 + np.max(np.abs(par))):
            break
        hess = hessian(ev, par)
    return par, hess, converged, messages


def _newton_step(ev: GlmmEvaluator, par: np.ndarray, hess: np.ndarray) -> np.ndarray | None:
    """Newton step for D where the Hessian is positive definite."""
    try:
        np.linalg.cholesky(hess)
        step = -np.linalg.solve(hess, _gradient(ev, par))
    except np.linalg.LinAlgError:
        return None
    return step if np.all(np.isfinite(step)) else None


def _vcov(ev: GlmmEvaluator, par: np.ndarray, hess: np.ndarray) -> tuple[np.ndarray, str | None]:
    """lme4's vcov(use.hessian = TRUE) with its fallback to the covariance conditional on theta."""
    nth = ev.ntheta
    try:
        inv = np.linalg.inv(hess)
        v = inv[nth:, nth:]
        v = v + v.T
        if np.all(np.isfinite(v)) and np.min(np.linalg.eigvalsh(v)) > 0:
            return v, None
    except np.linalg.LinAlgError:
        pass
    note = (
        "the Hessian of the Laplace deviance is not positive definite at the estimates (a fixed effect "
        "without a finite estimate, e.g. from perfectly separated outcomes, or a variance on its boundary): "
        "the fixed-effect covariance is conditional on the variance estimates, as lme4 falls back to (from "
        "RX); its standard errors are unreliable. Check for predictors that separate the outcome."
    )
    return ev.conditional_vcov(par), note


def _scaled_gradient_ok(ev: GlmmEvaluator, par: np.ndarray, hess: np.ndarray) -> tuple[bool, str | None]:
    """lme4's checkConv: the Newton step H^-1 g below 1e-3 in every coordinate; a singular H is reported."""
    g = ev.gradient(par)
    if g is None:
        g = _numeric_gradient(ev.deviance, par)
    try:
        np.linalg.cholesky(hess)
        scaled = np.linalg.solve(hess, g)
    except np.linalg.LinAlgError:
        return False, (
            "unable to evaluate the scaled gradient: the Hessian is numerically singular, so the parameters "
            "are not uniquely determined (a fixed effect runs off to infinity: perfectly or quasi-perfectly "
            "separated outcomes?)"
        )
    # On the correlation scale, so that a predictor in large units does not look singular.
    d = np.sqrt(np.abs(np.diag(hess)))
    if np.any(d == 0) or np.linalg.cond(hess / np.outer(d, d)) > 1e12:
        return False, (
            "the Hessian is numerically singular: parameters are not uniquely determined (a fixed effect "
            "runs off to infinity: perfectly or quasi-perfectly separated outcomes?)"
        )
    worst = float(np.max(np.abs(scaled)))
    if worst > 1e-3:
        return False, f"the optimiser stopped with max|H^-1 g| = {worst:.3g} (tol = 0.001)"
    return True, None


def _evaluator(y: np.ndarray, x: np.ndarray, blocks: Sequence[Block], nagq: int) -> GlmmEvaluator:
    scalar = len(blocks) == 1 and blocks[0].q == 1
    if nagq > 1 and not scalar:
        raise ValueError(
            f"nagq = {nagq} (adaptive Gauss-Hermite quadrature) needs a single scalar random-effects term "
            "such as (1 | client), as glmer's nAGQ > 1; use nagq = 1 (Laplace) for this model"
        )
    if scalar:
        return ScalarEvaluator(y, x, blocks[0], nagq)
    if len(blocks) == 1:
        from lacrima.longitudinal._glmm_block import BlockEvaluator

        return BlockEvaluator(y, x, blocks[0])
    from lacrima.longitudinal._glmm_sparse import SparseEvaluator

    return SparseEvaluator(y, x, list(blocks))


def fit_glmm(
    y: np.ndarray, x: np.ndarray, x_intercept: bool, blocks: list[Block], nagq: int = 1
) -> EngineFit:
    """Fit a logistic mixed model by the Laplace approximation (nagq = 1) or AGQ (nagq > 1), as glmer."""
    from lacrima.longitudinal._engine import EngineFit

    del x_intercept  # the intercept is a column of x like any other here
    if int(nagq) != nagq or nagq < 1:
        raise ValueError(f"nagq must be a whole number >= 1, not {nagq!r}")
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    nagq = int(nagq)
    ev = _evaluator(y, x, blocks, nagq)
    start = np.concatenate([theta_start(blocks), glm_start(y, x)])
    with np.errstate(over="ignore", under="ignore"):
        metric = None
        if nagq > 1:
            # The Laplace optimum and its Hessian start the quadrature fit: the two optima are close.
            laplace = _evaluator(y, x, blocks, 1)
            start, lhess, _, _ = _optimise(laplace, start, None, polish=False)
            metric = _positive_inverse(lhess)
        par, hess, _, messages = _optimise(ev, start, metric)
        # Converged is judged at the end, as lme4's checkConv (BFGS may stop on rounding before the
        # Newton polish; its own message is kept only when the check fails).
        ok, note = _scaled_gradient_ok(ev, par, hess)
        if ok:
            messages = []
        elif note:
            messages.append(note)
        mu = ev.mode(par).mu
        extreme = int(np.sum((mu < 1e-10) | (mu > 1.0 - 1e-10)))
        if not ok and extreme:
            messages.append(
                f"fitted probabilities numerically 0 or 1 for {extreme} rows: a predictor (or a group's "
                "random effect) separates the outcome perfectly, so its estimate runs off to infinity; drop "
                "or combine the separating predictor, or pool sparse categories"
            )
        vcov, fallback = _vcov(ev, par, hess)
        modes, condvar = ev.ranef(par)
        loglik = -0.5 * ev.deviance(par)
    if fallback:
        warnings.warn(fallback, ConvergenceWarning, stacklevel=3)
        messages.append(fallback)
    theta = par[: ev.ntheta]
    diag = np.isfinite(ev.lower)
    singular = bool(np.any(theta[diag] < SINGULAR_TOL))
    return EngineFit(
        beta=par[ev.ntheta :].copy(),
        vcov=vcov,
        ddf=None,
        covs=ev.covs(theta),
        sigma2=None,
        loglik=float(loglik),
        converged=ok,
        singular=singular,
        ranef=modes,
        ntheta=ev.ntheta,
        message="; ".join(messages),
        ranef_condvar=condvar,
    )
