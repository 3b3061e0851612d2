"""The Laplace deviance of a logistic mixed model with any random-effects structure (sparse matrices).

Used by ``_glmm`` for several random terms or vector-valued random effects (``(1 + session | client)``,
``(1 | client) + (1 | therapist)``); a single scalar term has its own per-group path there. The maths is
the same (see ``_glmm``): with A = Z Lambda(theta) (n x q, sparse) and u ~ N(0, I_q),

    eta = X beta + A u,      h(u) = sum_j d_j(eta) + u'u,      M(u) = A' W(u) A + I_q,

PIRLS takes Newton steps u <- u + M^-1 (A'(y - mu) - u) with step halving until every step is below
1e-11, and the Laplace deviance is D(theta, beta) = h(u*) + log det M(u*). M is sparse and symmetric
positive definite; it is factorised by scipy's SuperLU with a symmetric fill-reducing ordering and no
pivoting off the diagonal, so log det M = sum_i log |U_ii| (L has a unit diagonal and the row and column
permutations are the same). The gradient of D in (theta, beta) is taken by central differences.

The conditional covariance of u is M^-1 at u*, so that of b = Lambda u is Lambda M^-1 Lambda': only its
diagonal blocks (one per level of each term) are formed, as ``ranef(fit, condVar = TRUE)`` reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.special import expit

from lacrima.longitudinal._glmm import PIRLS_MAXIT, PIRLS_TOL, deviance_residuals
from lacrima.longitudinal._structure import (
    Block,
    lambda_blocks,
    lambda_sparse,
    n_theta,
    relative_covariances,
    term_offsets,
    theta_lower,
    theta_slices,
)

__all__ = ["SparseEvaluator"]


@dataclass
class _SparseMode:
    u: np.ndarray
    mu: np.ndarray
    a: np.ndarray  # stored entries of Z Lambda, n x Q
    lu: object
    logdet: float
    h: float


def _factor(m: sp.csc_matrix) -> tuple[object, float]:
    lu = splu(
        m,
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    diag = lu.U.diagonal()
    return lu, float(np.sum(np.log(np.abs(diag))))


class SparseEvaluator:
    """Laplace deviance for general random-effects structures (nAGQ = 1 only, as glmer).

    Each row j of A = Z Lambda has Q = sum_k q_k stored entries (the columns of its levels), kept as two
    n x Q arrays (column indices, values): A u, A' v and M = I + A' W A are then bincounts over a pattern
    found once (M's CSC layout and where each product w_j a_jr a_js lands in it).
    """

    def __init__(self, y: np.ndarray, x: np.ndarray, blocks: list[Block]) -> None:
        self.y = y
        self.x = x
        self.blocks = blocks
        offsets = term_offsets(blocks)
        self.q = int(offsets[-1])
        self.ntheta = n_theta(blocks)
        self.lower = theta_lower(blocks)
        self.cols = np.concatenate(
            [
                off + np.asarray(b.codes, dtype=np.int64)[:, None] * b.q + np.arange(b.q)[None, :]
                for b, off in zip(blocks, offsets[:-1], strict=False)
            ],
            axis=1,
        )
        n, width = self.cols.shape
        rows = np.broadcast_to(self.cols[:, :, None], (n, width, width)).ravel()
        cols = np.broadcast_to(self.cols[:, None, :], (n, width, width)).ravel()
        diag = np.arange(self.q)
        key = np.concatenate([cols, diag]) * self.q + np.concatenate([rows, diag])
        uniq, self._slot = np.unique(key, return_inverse=True)
        self._indices = (uniq % self.q).astype(np.int32)
        self._indptr = np.searchsorted(uniq // self.q, np.arange(self.q + 1)).astype(np.int32)
        self._ones = np.ones(self.q)
        self._u = np.zeros(self.q)
        self._cache: dict[bytes, _SparseMode] = {}

    def _values(self, theta: np.ndarray) -> np.ndarray:
        """The stored entries of A = Z Lambda, row by row (n x Q)."""
        lams = lambda_blocks(theta, self.blocks)
        return np.concatenate(
            [np.asarray(b.z, dtype=float) @ lam for b, lam in zip(self.blocks, lams, strict=True)], axis=1
        )

    def _times(self, vals: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.asarray(np.sum(vals * u[self.cols], axis=1))

    def _transpose_times(self, vals: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.cols.ravel(), weights=(vals * v[:, None]).ravel(), minlength=self.q)

    def _system(self, vals: np.ndarray, w: np.ndarray) -> sp.csc_matrix:
        """M = I + A' W A in CSC form."""
        prod = (w[:, None, None] * vals[:, :, None] * vals[:, None, :]).ravel()
        data = np.bincount(
            self._slot, weights=np.concatenate([prod, self._ones]), minlength=len(self._indices)
        )
        return sp.csc_matrix((data, self._indices, self._indptr), shape=(self.q, self.q))

    def _h(self, eta: np.ndarray, u: np.ndarray) -> float:
        return float(np.sum(deviance_residuals(self.y, eta)) + u @ u)

    def mode(self, par: np.ndarray) -> _SparseMode:
        key = par.tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        theta, beta = par[: self.ntheta], par[self.ntheta :]
        vals = self._values(theta)
        eta0 = self.x @ beta
        u = self._u.copy()
        eta = eta0 + self._times(vals, u)
        h = self._h(eta, u)
        for _ in range(PIRLS_MAXIT):
            mu = expit(eta)
            lu, _ = _factor(self._system(vals, mu * (1.0 - mu)))
            step = lu.solve(self._transpose_times(vals, self.y - mu) - u)  # type: ignore[attr-defined]
            t = 1.0
            for _ in range(30):
                un = u + t * step
                etan = eta0 + self._times(vals, un)
                hn = self._h(etan, un)
                if hn <= h + 1e-12 * abs(h):
                    break
                t /= 2.0
            u, eta, h = un, etan, hn
            if np.max(np.abs(t * step)) < PIRLS_TOL:
                break
        mu = expit(eta)
        lu, logdet = _factor(self._system(vals, mu * (1.0 - mu)))
        self._u = u
        out = _SparseMode(u, mu, vals, lu, logdet, h)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = out
        return out

    def deviance(self, par: np.ndarray) -> float:
        m = self.mode(par)
        return m.h + m.logdet

    def gradient(self, par: np.ndarray) -> np.ndarray | None:
        return None

    def conditional_vcov(self, par: np.ndarray) -> np.ndarray:
        m = self.mode(par)
        w = m.mu * (1.0 - m.mu)
        xw = self.x * w[:, None]
        atwx = np.column_stack([self._transpose_times(m.a, xw[:, k]) for k in range(self.x.shape[1])])
        rx = self.x.T @ xw - atwx.T @ m.lu.solve(atwx)  # type: ignore[attr-defined]
        return np.asarray(np.linalg.inv(rx))

    def ranef(self, par: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        m = self.mode(par)
        theta = par[: self.ntheta]
        b = lambda_sparse(theta, self.blocks) @ m.u
        offsets = term_offsets(self.blocks)
        lams = lambda_blocks(theta, self.blocks)
        modes: list[np.ndarray] = []
        condvar: list[np.ndarray] = []
        for blk, off, lam in zip(self.blocks, offsets[:-1], lams, strict=False):
            qk, nl = blk.q, blk.n_levels
            modes.append(b[off : off + qk * nl].reshape(nl, qk))
            cv = np.empty((nl, qk, qk))
            chunk = max(1, 4096 // qk)
            for start in range(0, nl, chunk):
                stop = min(nl, start + chunk)
                cols = np.arange(off + start * qk, off + stop * qk)
                rhs = np.zeros((self.q, len(cols)))
                rhs[cols, np.arange(len(cols))] = 1.0
                sol = m.lu.solve(rhs)  # type: ignore[attr-defined]
                for i, lvl in enumerate(range(start, stop)):
                    rows = slice(off + lvl * qk, off + (lvl + 1) * qk)
                    block = sol[rows, i * qk : (i + 1) * qk]
                    cv[lvl] = lam @ block @ lam.T
            condvar.append(cv)
        return modes, condvar

    def covs(self, theta: np.ndarray) -> list[np.ndarray]:
        return relative_covariances(theta, self.blocks)

    def normalise(self, par: np.ndarray) -> np.ndarray:
        """Flip the sign of each factor column with a negative diagonal entry (same Lambda Lambda')."""
        out = par.copy()
        lams = lambda_blocks(par[: self.ntheta], self.blocks)
        for blk, sl, lam in zip(self.blocks, theta_slices(self.blocks), lams, strict=True):
            signs = np.where(np.diag(lam) < 0, -1.0, 1.0)
            flipped = lam * signs[None, :]
            cols, rows = np.triu_indices(blk.q)
            out[sl] = flipped[rows, cols]
        return out
