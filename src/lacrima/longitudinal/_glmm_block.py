"""The Laplace deviance of a logistic mixed model with one vector-valued random term, group by group.

For a single term ``(1 + session | client)`` the random effects of different groups never meet: with
Lambda the term's q x q factor and a_j = Lambda' z_j for row j of group i,

    eta_j = x_j beta + a_j' u_i,      M_i = I_q + sum_{j in i} w_j a_j a_j',

so Lambda' Z' W Z Lambda + I is block diagonal with the blocks M_i, log det of the whole is sum_i log det M_i,
and each PIRLS step solves G small q x q systems at once (``np.linalg.solve`` on a stacked array; the
per-group sums are ``np.bincount`` over the rows, O(n q^2)). Everything else is as in ``_glmm`` and
``_glmm_sparse``: Newton steps on u with step halving per group until every step is below 1e-11, the
Laplace deviance h(u*) + sum_i log det M_i, its gradient by central differences, the covariance of beta
conditional on theta from the Schur complement, and conditional covariances Lambda M_i^-1 Lambda'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from lacrima.longitudinal._glmm import PIRLS_MAXIT, PIRLS_TOL, deviance_residuals
from lacrima.longitudinal._structure import Block, lambda_blocks, theta_lower

__all__ = ["BlockEvaluator"]


@dataclass
class _BlockMode:
    u: np.ndarray  # G x q
    mu: np.ndarray
    m: np.ndarray  # G x q x q
    h: np.ndarray  # per group
    a: np.ndarray  # n x q


class BlockEvaluator:
    """One random term with q >= 2 effects per level: block-diagonal PIRLS, nAGQ = 1."""

    def __init__(self, y: np.ndarray, x: np.ndarray, block: Block) -> None:
        self.y = y
        self.x = x
        self.block = block
        self.zb = np.asarray(block.z, dtype=float)
        self.codes = np.asarray(block.codes, dtype=np.int64)
        self.g = block.n_levels
        self.q = block.q
        self.ntheta = self.q * (self.q + 1) // 2
        self.lower = theta_lower([block])
        self._u = np.zeros((self.g, self.q))
        self._cache: dict[bytes, _BlockMode] = {}

    def _sum(self, v: np.ndarray) -> np.ndarray:
        """Per-group sums of the rows of an n x k array (G x k)."""
        return np.column_stack(
            [np.bincount(self.codes, weights=v[:, j], minlength=self.g) for j in range(v.shape[1])]
        )

    def _outer_sum(self, a: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_j w_j a_j a_j' per group, G x q x q."""
        q = self.q
        out = np.empty((self.g, q, q))
        for i in range(q):
            for j in range(i + 1):
                s = np.bincount(self.codes, weights=w * a[:, i] * a[:, j], minlength=self.g)
                out[:, i, j] = s
                out[:, j, i] = s
        return out

    def _h(self, eta: np.ndarray, u: np.ndarray) -> np.ndarray:
        dev = np.bincount(self.codes, weights=deviance_residuals(self.y, eta), minlength=self.g)
        return np.asarray(dev + np.sum(u * u, axis=1))

    def mode(self, par: np.ndarray) -> _BlockMode:
        key = par.tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        theta, beta = par[: self.ntheta], par[self.ntheta :]
        lam = lambda_blocks(theta, [self.block])[0]
        a = self.zb @ lam  # rows a_j' = z_j' Lambda
        eta0 = self.x @ beta
        eye = np.eye(self.q)[None, :, :]
        u = self._u.copy()
        eta = eta0 + np.sum(a * u[self.codes], axis=1)
        h = self._h(eta, u)
        for _ in range(PIRLS_MAXIT):
            mu = expit(eta)
            grad = self._sum(a * (self.y - mu)[:, None]) - u
            m = eye + self._outer_sum(a, mu * (1.0 - mu))
            step = np.linalg.solve(m, grad[:, :, None])[:, :, 0]
            if np.max(np.abs(step)) < PIRLS_TOL:
                break
            t = np.ones(self.g)
            for _ in range(30):
                un = u + t[:, None] * step
                etan = eta0 + np.sum(a * un[self.codes], axis=1)
                hn = self._h(etan, un)
                worse = hn > h + 1e-12 * np.abs(h)
                if not np.any(worse):
                    break
                t = np.where(worse, t / 2.0, t)
            u, eta, h = un, etan, hn
        mu = expit(eta)
        m = eye + self._outer_sum(a, mu * (1.0 - mu))
        self._u = u
        out = _BlockMode(u, mu, m, h, a)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = out
        return out

    def deviance(self, par: np.ndarray) -> float:
        m = self.mode(par)
        _, logdet = np.linalg.slogdet(m.m)
        return float(np.sum(m.h) + np.sum(logdet))

    def gradient(self, par: np.ndarray) -> np.ndarray | None:
        """Analytic gradient of the Laplace deviance (u* differentiated through its stationarity).

        With lev_j = a_j' M_i^-1 a_j, c_i = sum_j w'_j lev_j a_j (d log det M_i / d u_i), v_i = M_i^-1 c_i and
        e_j = -2 r_j + w'_j lev_j - w_j a_j' v_i: dD/dbeta = X' e, and for theta_t at (row s, column c) of
        Lambda, dD/dtheta_t = sum_j z_js (e_j u_ic + 2 w_j (M_i^-1 a_j)_c + r_j v_ic).
        """
        m = self.mode(par)
        c = self.codes
        r = self.y - m.mu
        w = m.mu * (1.0 - m.mu)
        wd = w * (1.0 - 2.0 * m.mu)
        minv = np.linalg.inv(m.m)
        ma = np.einsum("jkl,jl->jk", minv[c], m.a)
        lev = np.sum(m.a * ma, axis=1)
        cu = self._sum(m.a * (wd * lev)[:, None])
        v = np.einsum("gkl,gl->gk", minv, cu)
        e = -2.0 * r + wd * lev - w * np.sum(m.a * v[c], axis=1)
        g_beta = self.x.T @ e
        cols, rows = np.triu_indices(self.q)
        g_theta = np.array(
            [
                np.sum(self.zb[:, s] * (e * m.u[c, k] + 2.0 * w * ma[:, k] + r * v[c, k]))
                for s, k in zip(rows, cols, strict=True)
            ]
        )
        return np.concatenate([g_theta, g_beta])

    def conditional_vcov(self, par: np.ndarray) -> np.ndarray:
        m = self.mode(par)
        w = m.mu * (1.0 - m.mu)
        p = self.x.shape[1]
        # Per group the q x p block sum_j w_j a_j x_j'.
        cross = np.stack([self._sum(m.a * (w * self.x[:, k])[:, None]) for k in range(p)], axis=2)
        sol = np.linalg.solve(m.m, cross)
        rx = self.x.T @ (self.x * w[:, None]) - np.einsum("gqi,gqj->ij", cross, sol)
        return np.asarray(np.linalg.inv(rx))

    def ranef(self, par: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        m = self.mode(par)
        lam = lambda_blocks(par[: self.ntheta], [self.block])[0]
        inv = np.linalg.inv(m.m)
        return [m.u @ lam.T], [lam[None, :, :] @ inv @ lam.T[None, :, :]]

    def covs(self, theta: np.ndarray) -> list[np.ndarray]:
        lam = lambda_blocks(theta, [self.block])[0]
        return [lam @ lam.T]

    def normalise(self, par: np.ndarray) -> np.ndarray:
        """Flip the sign of each factor column with a negative diagonal entry (same Lambda Lambda')."""
        out = par.copy()
        lam = lambda_blocks(par[: self.ntheta], [self.block])[0]
        flipped = lam * np.where(np.diag(lam) < 0, -1.0, 1.0)[None, :]
        cols, rows = np.triu_indices(self.q)
        out[: self.ntheta] = flipped[rows, cols]
        return out
