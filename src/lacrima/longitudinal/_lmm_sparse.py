"""The general path of the LMM engine: Omega_theta = Lambda'Z'Z Lambda + I as a sparse matrix (SuperLU).

Used when the blocked path of :mod:`._lmm` would need a dense Schur complement too large to factor at
every evaluation (the random terms after the first with more than a few thousand effects, e.g. two
crossed factors with 10,000 levels each). Same quantities, computed directly: with the LU factors of
Omega_theta (symmetric positive definite, so |Omega| is the product of U's diagonal; SuperLU's column
ordering keeps the factors sparse),

    ldL2 = log|Omega_theta|,   B = Omega_theta^-1 Lambda'Z'[X y],
    S = [X y]'[X y] - (Lambda'Z'[X y])' B = [R_X r_Xy; r_Xy' r_yy]' [...]   (the fixed effects' block),

``ldRX2`` and ``pwrss`` from the Cholesky factor of S as in the blocked path; beta by back-substitution,
u = B_y - B_X beta, b = Lambda u. Conditional variances are the diagonal blocks of
sigma^2 Lambda Omega^-1 Lambda', from solves with the block's unit vectors (one per random effect of the
level), computed only for levels of terms with at most 5,000 effects (else left empty).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from lacrima.longitudinal._structure import Block, lambda_blocks, lambda_sparse, term_offsets, z_sparse

__all__ = ["SparseCross"]


def profiled_deviance(n: int, p: int, ld_l2: float, ld_rx2: float, pwrss: float, reml: bool) -> float:
    """The profiled deviance (REML criterion) from log|L_theta|^2, log|R_X|^2 and pwrss (lme4's
    formulas; sigma^2 profiled out as pwrss / nu)."""
    if pwrss <= 0.0:
        return math.inf
    nu = n - p if reml else n
    dev = ld_l2 + nu * (1.0 + math.log(2.0 * math.pi * pwrss / nu))
    return dev + (ld_rx2 if reml else 0.0)


def centred(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[X y]`` with the non-intercept columns of X and y centred when X has an intercept column, with the
    map back: the coefficients of the original X are ``minv @ b`` plus ``shift`` (same model, since
    X = Xc M with M unit triangular, so |R_X| is unchanged, and far less cancellation in the
    cross-products). Without an intercept column nothing is centred."""
    p = x.shape[1]
    minv = np.eye(p)
    shift = np.zeros(p)
    ones = np.flatnonzero(np.all(x == 1.0, axis=0)) if x.shape[0] else np.zeros(0, dtype=int)
    if len(ones):
        j0 = int(ones[0])
        means = x.mean(axis=0)
        means[j0] = 0.0
        x = x - means[None, :]
        ybar = float(y.mean())
        y = y - ybar
        minv[j0, :] -= means
        shift[j0] = ybar
    return np.column_stack([x, y]), minv, shift


@dataclass
class _SparseEval:
    ld_l2: float
    ld_rx2: float
    pwrss: float
    lxx: np.ndarray
    lu: object
    b: np.ndarray


class SparseCross:
    """The profiled deviance of :class:`lacrima.longitudinal._lmm._Cross` on sparse matrices."""

    def __init__(self, y: np.ndarray, x: np.ndarray, blocks: Sequence[Block]) -> None:
        self.blocks = list(blocks)
        self.n = int(y.shape[0])
        self.p = int(x.shape[1])
        xy, self.minv, self.shift = centred(x, y)
        z = z_sparse(self.blocks)
        self.ztz = sp.csc_matrix(z.T @ z)
        self.ztxy = np.asarray(z.T @ xy)
        self.xytxy = xy.T @ xy
        self.q = z.shape[1]
        self.evaluations = 0

    def evaluate(self, theta: np.ndarray) -> _SparseEval | None:
        self.evaluations += 1
        lam = lambda_sparse(theta, self.blocks)
        omega = sp.csc_matrix(lam.T @ self.ztz @ lam + sp.identity(self.q, format="csc"))
        try:
            lu = spla.splu(omega, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0)
        except RuntimeError:
            return None
        udiag = lu.U.diagonal()
        if np.any(udiag <= 0.0):
            return None
        rhs = np.asarray(lam.T @ self.ztxy)
        b = lu.solve(rhs)
        s = self.xytxy - rhs.T @ b
        lxx, info = sla.lapack.dpotrf(s, lower=1, clean=1)
        if info != 0:
            return None
        diag = np.diag(lxx)
        if np.any(diag[:-1] <= 0.0):
            return None
        return _SparseEval(
            float(np.sum(np.log(udiag))),
            2.0 * float(np.sum(np.log(diag[: self.p]))),
            float(diag[-1] ** 2),
            lxx,
            lu,
            b,
        )

    def evaluate_many(self, thetas: Sequence[np.ndarray]) -> list[_SparseEval | None]:
        """:meth:`evaluate` at each theta, one after another."""
        return [self.evaluate(t) for t in thetas]

    def profiled(self, ev: _SparseEval | None, reml: bool) -> float:
        if ev is None:
            return math.inf
        return self.profiled_parts(ev.ld_l2, ev.ld_rx2, ev.pwrss, reml)

    def profiled_parts(self, ld_l2: float, ld_rx2: float, pwrss: float, reml: bool) -> float:
        return profiled_deviance(self.n, self.p, ld_l2, ld_rx2, pwrss, reml)

    def rx_inverse(self, ev: _SparseEval) -> np.ndarray:
        p = self.p
        rinv = sla.solve_triangular(ev.lxx[:p, :p], np.eye(p), lower=True, check_finite=False) @ self.minv.T
        return rinv.T @ rinv

    def solve(self, ev: _SparseEval, theta: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        p = self.p
        rx = ev.lxx[:p, :p]
        beta_c = sla.solve_triangular(rx, ev.lxx[p, :p], lower=True, trans="T", check_finite=False)
        beta = self.minv @ (beta_c + self.shift)
        u = ev.b[:, p] - ev.b[:, :p] @ beta_c
        bvec = lambda_sparse(theta, self.blocks) @ u
        offsets = term_offsets(self.blocks)
        modes = [
            bvec[offsets[k] : offsets[k + 1]].reshape(blk.n_levels, blk.q)
            for k, blk in enumerate(self.blocks)
        ]
        return beta, modes

    def conditional_variances(self, ev: _SparseEval, theta: np.ndarray, sigma2: float) -> list[np.ndarray]:
        offsets = term_offsets(self.blocks)
        lams = lambda_blocks(theta, self.blocks)
        out: list[np.ndarray] = []
        for k, blk in enumerate(self.blocks):
            size = blk.q * blk.n_levels
            if size > 5000:
                return []
            eye = np.zeros((self.q, size))
            eye[offsets[k] + np.arange(size), np.arange(size)] = 1.0
            inv = ev.lu.solve(eye)[offsets[k] : offsets[k + 1]]  # type: ignore[attr-defined]
            idx = np.arange(blk.n_levels)[:, None] * blk.q + np.arange(blk.q)[None, :]
            blocks_k = inv[idx[:, :, None], idx[:, None, :]]
            out.append(sigma2 * (lams[k] @ blocks_k @ lams[k].T))
        return out
