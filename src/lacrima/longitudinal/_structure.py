"""The random-effects structure of a mixed model in lme4's parametrisation.

A model has random terms k = 1..K. Term k has q_k random effects per level of its grouping factor
(columns of ``Block.z``: the intercept first if the term has one) and L_k levels (``Block.codes`` in
0..L_k-1). Its random effects for level l are ``b_kl = sigma * Lambda_k * u_kl`` with u_kl ~ N(0, I), so

    Cov(b_kl) = sigma^2 * Lambda_k Lambda_k'

and Lambda_k is a q_k x q_k lower-triangular *relative covariance factor*. lme4's ``theta`` lists the
lower triangles of Lambda_1..Lambda_K in turn, each in column-major order (for q = 2: L11, L21, L22).
Diagonal entries are bounded below by 0 (``theta_lower``); lme4 starts at the identity (``theta_start``).

The random-effects model matrix Z (n x sum_k q_k L_k) has, within each term, the q_k columns of level 0,
then those of level 1, ... (lme4's level-major order): column ``offset_k + l * q_k + j`` holds
``Block.z[i, j]`` in the rows i with ``codes[i] == l`` and 0 elsewhere. The full factor is the block
diagonal ``Lambda = diag_k(I_{L_k} (x) Lambda_k)`` in the same column order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "Block",
    "lambda_blocks",
    "lambda_sparse",
    "n_theta",
    "relative_covariances",
    "term_offsets",
    "theta_lower",
    "theta_slices",
    "theta_start",
    "z_sparse",
]


@dataclass(frozen=True)
class Block:
    """One random-effects term: its model-matrix columns and integer group codes (0..n_levels-1)."""

    z: np.ndarray
    intercept: bool
    codes: np.ndarray
    n_levels: int

    @property
    def q(self) -> int:
        """Random effects per level (columns of ``z``)."""
        return int(self.z.shape[1])


def _n_tri(q: int) -> int:
    return q * (q + 1) // 2


def n_theta(blocks: Sequence[Block]) -> int:
    """Length of theta: q_k (q_k + 1) / 2 summed over terms."""
    return sum(_n_tri(b.q) for b in blocks)


def theta_slices(blocks: Sequence[Block]) -> list[slice]:
    """Per term, the slice of theta holding its factor's lower triangle."""
    out: list[slice] = []
    start = 0
    for b in blocks:
        stop = start + _n_tri(b.q)
        out.append(slice(start, stop))
        start = stop
    return out


def _diagonal_mask(q: int) -> np.ndarray:
    rows, cols = _tri_indices(q)
    return rows == cols


def _tri_indices(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a q x q lower triangle in column-major order (lme4's theta order)."""
    cols, rows = np.triu_indices(q)  # (row, col) of the upper triangle, row-major == lower, column-major
    return rows, cols


def theta_start(blocks: Sequence[Block]) -> np.ndarray:
    """lme4's starting value: 1 on each factor's diagonal, 0 off it."""
    if not blocks:
        return np.zeros(0)
    return np.concatenate([_diagonal_mask(b.q).astype(float) for b in blocks])


def theta_lower(blocks: Sequence[Block]) -> np.ndarray:
    """Lower bounds of theta: 0 for diagonal entries, -inf for off-diagonal ones."""
    if not blocks:
        return np.zeros(0)
    return np.concatenate([np.where(_diagonal_mask(b.q), 0.0, -np.inf) for b in blocks])


def _check_theta(theta: np.ndarray, blocks: Sequence[Block]) -> np.ndarray:
    th = np.asarray(theta, dtype=float)
    if th.ndim != 1 or th.shape[0] != n_theta(blocks):
        raise ValueError(f"theta has shape {th.shape}; these random terms need {n_theta(blocks)} values")
    return th


def lambda_blocks(theta: np.ndarray, blocks: Sequence[Block]) -> list[np.ndarray]:
    """Per term, the q_k x q_k lower-triangular relative covariance factor Lambda_k."""
    th = _check_theta(theta, blocks)
    out: list[np.ndarray] = []
    for b, sl in zip(blocks, theta_slices(blocks), strict=True):
        lam = np.zeros((b.q, b.q))
        rows, cols = _tri_indices(b.q)
        lam[rows, cols] = th[sl]
        out.append(lam)
    return out


def relative_covariances(theta: np.ndarray, blocks: Sequence[Block]) -> list[np.ndarray]:
    """Per term, Lambda_k Lambda_k': the random effects' covariance over sigma^2."""
    return [lam @ lam.T for lam in lambda_blocks(theta, blocks)]


def term_offsets(blocks: Sequence[Block]) -> np.ndarray:
    """First column of each term in Z (and one past the last column at the end)."""
    sizes = [b.q * b.n_levels for b in blocks]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def z_sparse(blocks: Sequence[Block]) -> sp.csc_matrix:
    """The random-effects model matrix Z, n x sum_k q_k L_k, in lme4's column order."""
    if not blocks:
        raise ValueError("a mixed model needs at least one random term")
    n = int(blocks[0].z.shape[0])
    offsets = term_offsets(blocks)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    base = np.arange(n, dtype=np.int64)
    for b, off in zip(blocks, offsets[:-1], strict=False):
        if b.z.shape[0] != n or b.codes.shape[0] != n:
            raise ValueError("every random term needs one row of z and one code per observation")
        codes = np.asarray(b.codes, dtype=np.int64)
        if n and (codes.min() < 0 or codes.max() >= b.n_levels):
            raise ValueError(f"group codes must lie in 0..{b.n_levels - 1}")
        for j in range(b.q):
            rows.append(base)
            cols.append(off + codes * b.q + j)
            vals.append(np.asarray(b.z[:, j], dtype=float))
    z = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, int(offsets[-1]))
    )
    z.sum_duplicates()
    return z


def lambda_sparse(theta: np.ndarray, blocks: Sequence[Block]) -> sp.csc_matrix:
    """Lambda(theta) = diag_k(I_{L_k} (x) Lambda_k), square of side sum_k q_k L_k, in Z's column order."""
    lams = lambda_blocks(theta, blocks)
    parts = [
        sp.kron(sp.identity(b.n_levels, format="csc"), sp.csc_matrix(lam))
        for b, lam in zip(blocks, lams, strict=True)
    ]
    return sp.csc_matrix(sp.block_diag(parts, format="csc"))
