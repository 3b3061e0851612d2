"""Linear mixed models by profiled (RE)ML in lme4's parametrisation, with the block structure exploited.

The model is ``y = X beta + Z b + e`` with ``b = Lambda(theta) u``, u ~ N(0, sigma^2 I), e ~ N(0, sigma^2 I)
(see :mod:`lacrima.longitudinal._structure` for theta, Lambda and Z). For a given theta, beta and u
minimise the penalised residual sum of squares ``||y - X beta - Z Lambda u||^2 + ||u||^2``; its minimum is
``pwrss``. With the lower Cholesky factor of the augmented cross-product matrix

    Omega = [Lambda'Z'Z Lambda + I, Lambda'Z'X, Lambda'Z'y]
            [X'Z Lambda,            X'X,        X'y       ] = L L',
            [y'Z Lambda,            y'X,        y'y       ]

``pwrss`` is the square of L's last diagonal element, ``log|L_theta|^2`` (``ldL2``) twice the sum of the
logs of its random-effects diagonal and ``log|R_X|^2`` (``ldRX2``) that of its fixed-effects diagonal.
Profiling beta and sigma out (Bates et al. 2015, J Stat Softw 67(1), eqs 34 and 41) gives

    ML:   d(theta)   = ldL2 + n (1 + log(2 pi pwrss / n))
    REML: d_R(theta) = ldL2 + ldRX2 + (n - p)(1 + log(2 pi pwrss / (n - p)))

minimised over theta (diagonal entries of each factor >= 0); then ``sigma^2 = pwrss / n`` (ML) or
``pwrss / (n - p)`` (REML), ``beta`` and ``u`` by back-substitution in L', ``b = Lambda u``, and
``vcov(beta) = sigma^2 (R_X' R_X)^-1``.

The structure, as in MixedModels.jl: the terms come ordered by number of levels, largest first. The
cross-products Z'Z, Z'X, Z'y, X'X, X'y, y'y are formed once from the data; each evaluation works on them
only. The first term's block of Omega is block diagonal (one q1 x q1 block per level), so its Cholesky
factor is a batch of small factors; eliminating it leaves the Schur complement of everything else (the
other terms, X and y: m = sum_{k>1} q_k L_k + p + 1 columns), a small dense matrix factored by LAPACK.
Nested designs (clients within therapists) and crossed ones with a second factor of a few thousand levels
therefore cost O(levels of the first term) + O(m^3) per evaluation, not O(rows). Only the Schur
complement's lower triangle is built (LAPACK reads no other). A small last term (InstEval's departments
after its lecturers) is eliminated apart: the leading block's elimination does not depend on that term's
theta and is cached by the other thetas, so evaluations that change only it cost O(t^3) for its t
trailing columns. When m is too large for a dense matrix the same Omega is factored as a sparse matrix
(:mod:`._lmm_sparse`), slower but general.

The optimiser (:mod:`._lmm_optimise`) is a scaled quasi-Newton search from a moment start, then Newton
steps on a finite-difference stencil, started and stopped as there described; the result matches lme4's
bobyqa to its own precision (about 1e-7) and the golden values (lme4 iterated to a zero gradient) to the
1e-6 the tests ask. Satterthwaite
degrees of freedom follow lmerTest (Kuznetsova et al. 2017): the variance parameters are (theta, sigma);
A = 2 H^-1 with H the Hessian of the *unprofiled* deviance ``ldL2 + [ldRX2] + nu log(2 pi sigma^2) +
pwrss / sigma^2`` (nu = n - p for REML, n for ML); for each coefficient, with g the gradient of
``vcov(beta)_ii`` in the variance parameters, ``df = 2 vcov_ii^2 / (g' A g)``, from the same stencil.
"""

from __future__ import annotations

import math
import queue
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg.lapack import dpotri as _potri
from threadpoolctl import threadpool_limits

from lacrima.longitudinal._lapack import PARALLEL, map_parallel, potrf_lower
from lacrima.longitudinal._lmm_cwc import cwc_map
from lacrima.longitudinal._lmm_optimise import moment_start, optimise, satterthwaite
from lacrima.longitudinal._lmm_sparse import SparseCross, centred, profiled_deviance
from lacrima.longitudinal._structure import (
    Block,
    lambda_blocks,
    n_theta,
    relative_covariances,
    theta_lower,
    z_sparse,
)

__all__ = ["LmmFit", "fit_lmm"]

# Above this many columns in the dense Schur complement, the sparse path is used.
_DENSE_LIMIT = 4000
# Below this many columns in the factored block, points are evaluated one after another (a factorisation
# of 300 columns takes ~0.3 ms, no more than handing it to a thread).
_PARALLEL_FROM = 300
# lme4's isSingular tolerance on the bounded theta entries.
_SINGULAR_TOL = 1e-4


@dataclass(frozen=True)
class LmmFit:
    """The linear mixed model as fitted, in the engine's order of fixed effects and random terms."""

    beta: np.ndarray
    vcov: np.ndarray
    ddf: np.ndarray
    theta: np.ndarray
    covs: list[np.ndarray]
    sigma2: float
    loglik: float
    deviance: float
    converged: bool
    singular: bool
    ranef: list[np.ndarray]
    condvar: list[np.ndarray]
    message: str
    evaluations: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class _Eval:
    """One evaluation of the blocked factorisation at theta."""

    ld_l2: float
    ld_rx2: float
    pwrss: float
    lxx: np.ndarray  # trailing (p + 1) x (p + 1) block of the Schur complement's factor (X, y)
    dinv: np.ndarray  # (L1, q1, q1): inverses of the first term's diagonal blocks D_l
    lr: np.ndarray | None = None  # the dense factor of the Schur complement (rest terms, X, y)
    lzz_diag: np.ndarray | None = None  # its rest-terms block when that is diagonal (nested designs)
    lxz: np.ndarray | None = None  # and the block below it, (zr x (p + 1)) transposed
    assemble: Callable[[], np.ndarray] | None = None  # builds lr when it was factored in two parts

    def dense_lr(self) -> np.ndarray:
        if self.lr is not None:
            return self.lr
        if self.assemble is not None:
            self.lr = self.assemble()
            return self.lr
        assert self.lzz_diag is not None and self.lxz is not None
        zr = len(self.lzz_diag)
        m = zr + self.lxx.shape[0]
        lr = np.zeros((m, m))
        lr[np.arange(zr), np.arange(zr)] = self.lzz_diag
        lr[zr:, :zr] = self.lxz.T
        lr[zr:, zr:] = self.lxx
        self.lr = lr
        return lr


def _inv_small(d: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Inverses and log determinants of a stack of small symmetric positive definite matrices, stored
    as (q, q, L) so that each entry is one contiguous vector over levels."""
    q = d.shape[0]
    if q == 1:
        det = d[0, 0]
        if np.any(det <= 0.0):
            return None
        return (1.0 / det)[None, None, :], np.log(det)
    if q == 2:
        a, b, c = d[0, 0], d[0, 1], d[1, 1]
        det = a * c - b * b
        if np.any(det <= 0.0) or np.any(a <= 0.0):
            return None
        inv = np.empty_like(d)
        inv[0, 0] = c / det
        inv[1, 1] = a / det
        inv[0, 1] = inv[1, 0] = -b / det
        return inv, np.log(det)
    stack = np.moveaxis(d, 2, 0)
    try:
        chol = np.linalg.cholesky(stack)
    except np.linalg.LinAlgError:
        return None
    logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
    return np.ascontiguousarray(np.moveaxis(np.linalg.inv(stack), 0, 2)), logdet


def _sandwich(left: np.ndarray, stack: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ S_l @ right for every level l of a (q, q, L) stack, as vector operations over levels."""
    q = stack.shape[0]
    if q == 1:
        return (left[0, 0] * right[0, 0]) * stack
    if q == 2:
        # Written out (this runs twice per evaluation); the coefficients are scalars.
        s00, s01, s10, s11 = stack[0, 0], stack[0, 1], stack[1, 0], stack[1, 1]
        out = np.empty_like(stack)
        for i in range(2):
            for h in range(2):
                c00 = left[i, 0] * right[0, h]
                c01 = left[i, 0] * right[1, h]
                c10 = left[i, 1] * right[0, h]
                c11 = left[i, 1] * right[1, h]
                out[i, h] = c00 * s00 + c01 * s01 + c10 * s10 + c11 * s11
        return out
    out = np.zeros_like(stack)
    for i in range(q):
        for h in range(q):
            acc = out[i, h]
            for j in range(q):
                if left[i, j] == 0.0:
                    continue
                for k in range(q):
                    if right[k, h] != 0.0:
                        acc += (left[i, j] * right[k, h]) * stack[j, k]
    return out


class _Cross:
    """Cross-products of the data, formed once, and the evaluation of the profiled deviance.

    With C = Z1'[Z_rest, X, y] (q1 L1 x m), A = [Z_rest, X, y]'[Z_rest, X, y] (m x m), D_l the first
    term's diagonal blocks Lambda1'(Z1'Z1)_l Lambda1 + I and W_l = Lambda1 D_l^-1 Lambda1', the Schur
    complement of the first term in Omega is

        Omega_rest = Lambda_r' (A - C' W C) Lambda_r + diag(1 for the rest terms' effects, 0 for X and y)

    with Lambda_r = diag(Lambda of the rest terms, I_{p+1}); C' W C = sum_ab C_a' diag(W_ab) C_b over the
    rows C_a of C holding component a of the first term's effects.
    """

    def __init__(self, y: np.ndarray, x: np.ndarray, blocks: Sequence[Block]) -> None:
        self.blocks = list(blocks)
        self.n = int(y.shape[0])
        self.p = int(x.shape[1])
        first = self.blocks[0]
        self.q1 = q1 = first.q
        self.n1 = n1 = first.n_levels
        self.nt1 = q1 * (q1 + 1) // 2
        cidx, ridx = np.triu_indices(q1)
        self._tri1 = (ridx, cidx)
        rest = self.blocks[1:]
        self.rest = rest
        # With an intercept, y and the other columns of X are centred: the same model (X = Xc M with M
        # unit triangular, so |R_X| is unchanged) with far less cancellation in the cross-products
        # (rounding in the deviance drops from ~3e-14 to ~1e-15 relative).
        xy, self.minv, self.shift = centred(x, y)
        codes = np.asarray(first.codes, dtype=np.int64)
        z1 = np.asarray(first.z, dtype=float)
        d0 = np.empty((q1, q1, n1))
        for a in range(q1):
            for b in range(a, q1):
                d0[a, b] = d0[b, a] = np.bincount(codes, z1[:, a] * z1[:, b], minlength=n1)
        self.d0 = d0  # (q1, q1, L1): Z1'Z1 per level
        self._t00, self._t01, self._t11 = (d0[0, 0], d0[0, 1], d0[1, 1]) if q1 == 2 else (d0[0, 0],) * 3
        # cx[a]: (L1, p + 1) sums of z1[:, a] * [X y] per level.
        ncol = xy.shape[1]
        self.cx = [
            np.column_stack([np.bincount(codes, z1[:, a] * xy[:, c], minlength=n1) for c in range(ncol)])
            for a in range(q1)
        ]
        self.zr = zr = int(sum(b.q * b.n_levels for b in rest))
        if rest:
            zrs = z_sparse(rest).tocsc()
            rows = sp.csr_matrix((np.ones(self.n), (codes, np.arange(self.n))), shape=(n1, self.n))
            self.cz = [sp.csr_matrix(rows.multiply(z1[:, a][None, :]) @ zrs) for a in range(q1)]
            for c in self.cz:
                c.sum_duplicates()
                c.sort_indices()
            azz = sp.coo_matrix(zrs.T @ zrs)
            azx = np.asarray(zrs.T @ xy)
        else:
            self.cz = [sp.csr_matrix((n1, 0)) for _ in range(q1)]
            azz = sp.coo_matrix((0, 0))
            azx = np.zeros((0, self.p + 1))
        m = zr + self.p + 1
        # Filled in place from the sparse Z'Z (no dense zr x zr temporary: ~10 MB at InstEval).
        a_rest = np.zeros((m, m))
        a_rest[azz.row, azz.col] = azz.data
        a_rest[:zr, zr:] = azx
        a_rest[zr:, :zr] = azx.T
        a_rest[zr:, zr:] = xy.T @ xy
        self.a_rest = a_rest
        self._lam_pattern(rest)
        self._cz_t = [sp.csr_matrix(c.T) for c in self.cz]
        self._zz_pattern()
        self._cx = np.stack(self.cx)  # (q1, L1, p + 1)
        self.evaluations = 0
        # A small last rest term (InstEval's 14 departments after 1,128 lecturers): the leading block of
        # the Schur complement does not depend on its theta, so evaluations that change only that theta
        # (a third of the difference gradients, half the stencil) reuse the leading block's elimination.
        last = rest[-1] if rest else None
        self._tail = (last.q * last.n_levels if last is not None else 0) + self.p + 1
        self._lead = self.m - self._tail
        self._split = bool(
            len(rest) >= 2 and self._lam_diag and not self._zz_diag and self._tail <= self.m // 4
        )
        self._n_lead_theta = self._lam_ntheta - (last.q * (last.q + 1) // 2 if last is not None else 0)
        self._lead_cache: OrderedDict[bytes, tuple[float, np.ndarray, np.ndarray, np.ndarray, float] | None]
        self._lead_cache = OrderedDict()
        # Entries hold R (lead x tail), Q (tail x tail) and D^-1: at most ~64 MB of them, at most 64.
        entry_bytes = 8 * (self._lead * self._tail + self._tail**2 + self.n1 * q1 * q1)
        self._lead_cache_size = int(min(64, max(2, 64_000_000 // entry_bytes)))
        if self._split:
            # The leading block and the trailing rows built apart from A's constant parts, so that
            # no m x m matrix is written per evaluation: the C'WC entries of each by position.
            lead, m = self._lead, self.m
            rows_zz, cols_zz = self._zz_rows, self._zz_cols
            # The entries come in the order of their flat position (cwc_map), so by row: the leading
            # block's first.
            self._n_lead_entries = n_lead = int(np.searchsorted(rows_zz, lead))
            self._lead_rc = (rows_zz[:n_lead], cols_zz[:n_lead])
            self._lead_pos = rows_zz[:n_lead] * lead + cols_zz[:n_lead]
            self._tail_pos = (rows_zz[n_lead:] - lead) * m + cols_zz[n_lead:]
            # A's entries in the leading block's lower triangle where C'WC has none (C'WC has an entry
            # wherever two of the rest terms' effects share an observation, so usually there are none):
            # the block is written as zeros and these and C'WC's entries, no pass reading A.
            low = (azz.row < lead) & (azz.col <= azz.row) & (azz.data != 0.0)
            a_r, a_c = azz.row[low].astype(np.int64), azz.col[low].astype(np.int64)
            outside = ~np.isin(a_r * lead + a_c, self._lead_pos)
            extra_r, extra_c = a_r[outside], a_c[outside]
            self._a_extra = (extra_r * lead + extra_c, azz.data[low][outside], extra_r, extra_c)
            self._a_tail = np.ascontiguousarray(self.a_rest[lead:, :])
        self._lead_factor: tuple[bytes, np.ndarray] | None = None
        # Buffers for L11 taken and given back across evaluations (on two threads): a fresh ~10 MB
        # matrix per evaluation is ~2,500 page faults, slow in a virtual machine.
        self._spare: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()

    def _zz_pattern(self) -> None:
        """The C'WC map (:func:`._lmm_cwc.cwc_map`) and what the evaluations read of A beside it."""
        zr = self.zr
        self._zz_map, uniq = cwc_map(self.cz, self.n1, zr, parallel=zr >= _PARALLEL_FROM)
        # Flat positions in the m x m matrix.
        self._zz_flat = (uniq // zr) * self.m + (uniq % zr) if zr else np.zeros(0, dtype=np.int64)
        self._zz_a = self.a_rest.reshape(-1)[self._zz_flat]
        self._lam_diag = bool(np.all(self._lam_rows == self._lam_cols))
        # Nested scalar rest terms: A_zz and C_z'WC_z are both diagonal.
        azz = self.a_rest[:zr, :zr]
        # Row and column of each entry in the zr x zr block (row >= col: the lower triangle).
        self._zz_rows, self._zz_cols = rows_zz, cols_zz = np.divmod(self._zz_flat, self.m)
        self._zz_diag = bool(
            zr > 0
            and self._lam_diag
            and np.all(rows_zz == cols_zz)
            and np.count_nonzero(azz - np.diag(np.diag(azz))) == 0
        )
        if self._zz_diag:
            pick = sp.csr_matrix(
                (np.ones(len(rows_zz)), (rows_zz, np.arange(len(rows_zz)))), shape=(zr, len(rows_zz))
            )
            self._zz_map = sp.csr_matrix(pick @ self._zz_map)
            self._azz_diag = np.diag(azz).copy()
            self._azx = self.a_rest[:zr, zr:].copy()

    def _lam_pattern(self, rest: Sequence[Block]) -> None:
        """Fixed sparsity pattern of Lambda_r, each entry pointing into [theta, 1]."""
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        src: list[np.ndarray] = []
        off = 0
        tpos = self.nt1
        for b in rest:
            cidx, ridx = np.triu_indices(b.q)  # lower triangle, column-major: theta order
            lv = np.arange(b.n_levels)[:, None] * b.q + off
            rows.append((lv + ridx[None, :]).ravel())
            cols.append((lv + cidx[None, :]).ravel())
            src.append(np.tile(np.arange(len(ridx)) + tpos, b.n_levels))
            off += b.q * b.n_levels
            tpos += len(ridx)
        m = self.zr + self.p + 1
        tail = np.arange(self.zr, m)
        rows.append(tail)
        cols.append(tail)
        src.append(np.full(len(tail), -1))
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        order = np.lexsort((c, r))
        self._lam_rows = r[order]
        self._lam_cols = c[order]
        self._lam_src = np.concatenate(src)[order]
        self._lam_indptr = np.concatenate([[0], np.cumsum(np.bincount(self._lam_rows, minlength=m))])
        self._lam_ntheta = tpos
        # When Lambda_r is diagonal: per row, the index into [theta, 1] (-1 -> the appended 1).
        self._lam_src_diag = np.empty(m, dtype=np.int64)
        self._lam_src_diag[self._lam_rows] = self._lam_src

    @property
    def m(self) -> int:
        return self.zr + self.p + 1

    def lambda_rest(self, theta: np.ndarray) -> sp.csr_matrix:
        ext = np.append(np.asarray(theta, dtype=float)[: self._lam_ntheta], 1.0)
        data = ext[self._lam_src]
        return sp.csr_matrix((data, self._lam_cols, self._lam_indptr), shape=(self.m, self.m))

    def _first(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
        """Lambda1; D_l^-1 as (L1, q1, q1) and W_l = Lambda1 D_l^-1 Lambda1' as (q1, q1, L1); sum log|D_l|."""
        lam1 = np.zeros((self.q1, self.q1))
        lam1[self._tri1] = theta[: self.nt1]
        if self.q1 == 2:
            return self._first_2(lam1)
        dmat = _sandwich(lam1.T, self.d0, lam1)
        for i in range(self.q1):
            dmat[i, i] += 1.0
        got = _inv_small(dmat)
        if got is None:
            return None
        dinv, logdet = got
        w = _sandwich(lam1, dinv, lam1.T)
        return lam1, np.moveaxis(dinv, 2, 0), w, float(np.sum(logdet))

    def _first_2(self, lam1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
        """_first for a random intercept and slope, written out. With Lambda1 = [[a, 0], [b, c]] and
        T = Z1'Z1 of a level, D = Lambda1'T Lambda1 + I has entries
        D00 = a^2 t00 + 2ab t01 + b^2 t11 + 1, D01 = c (a t01 + b t11), D11 = c^2 t11 + 1; with
        D^-1 = [[i00, i01], [i01, i11]], W = Lambda1 D^-1 Lambda1' has W00 = a^2 i00,
        W01 = a (b i00 + c i01), W11 = b^2 i00 + 2bc i01 + c^2 i11."""
        a, b, c = float(lam1[0, 0]), float(lam1[1, 0]), float(lam1[1, 1])
        t00, t01, t11 = self._t00, self._t01, self._t11
        d00 = (a * a) * t00 + (2.0 * a * b) * t01 + (b * b) * t11 + 1.0
        d01 = c * (a * t01 + b * t11)
        d11 = (c * c) * t11 + 1.0
        det = d00 * d11 - d01 * d01
        if not (np.all(det > 0.0) and np.all(d00 > 0.0)):
            return None
        rdet = 1.0 / det
        i00, i01, i11 = d11 * rdet, -d01 * rdet, d00 * rdet
        dinv = np.empty((2, 2, self.n1))
        dinv[0, 0] = i00
        dinv[0, 1] = dinv[1, 0] = i01
        dinv[1, 1] = i11
        w = np.empty((2, 2, self.n1))
        w[0, 0] = (a * a) * i00
        w[0, 1] = w[1, 0] = a * (b * i00 + c * i01)
        w[1, 1] = (b * b) * i00 + (2.0 * b * c) * i01 + (c * c) * i11
        return lam1, np.moveaxis(dinv, 2, 0), w, float(np.sum(np.log(det)))

    def evaluate(self, theta: np.ndarray) -> _Eval | None:
        """The blocked Cholesky factorisation at theta, or None if Omega is not positive definite."""
        self.evaluations += 1
        if self._split:
            return self._evaluate_split(np.asarray(theta, dtype=float))
        return self._evaluate_dense(theta)

    def evaluate_many(self, thetas: Sequence[np.ndarray]) -> list[_Eval | None]:
        """:meth:`evaluate` at each theta (a stencil's points, a difference gradient's), the large
        factorisations on two threads where LAPACK runs without the GIL (:mod:`._lapack`)."""
        thetas = [np.asarray(t, dtype=float) for t in thetas]
        big = (self._lead if self._split else self.m) >= _PARALLEL_FROM
        if not (PARALLEL and big and len(thetas) > 1) or self._zz_diag:
            return [self.evaluate(t) for t in thetas]
        if not self._split:
            self.evaluations += len(thetas)
            return map_parallel(self._evaluate_dense, thetas)
        todo: dict[bytes, np.ndarray] = {}
        for t in thetas:
            key = t[: self._n_lead_theta].tobytes()
            if key not in self._lead_cache and key not in todo:
                todo[key] = t
        for key, (entry, l11) in zip(todo, map_parallel(self._lead_part, list(todo.values())), strict=True):
            self._remember(key, entry, l11)
        return [self.evaluate(t) for t in thetas]

    def _remember(
        self,
        key: bytes,
        entry: tuple[float, np.ndarray, np.ndarray, np.ndarray, float] | None,
        l11: np.ndarray | None,
    ) -> None:
        self._lead_cache[key] = entry
        if len(self._lead_cache) > self._lead_cache_size:
            self._lead_cache.popitem(last=False)
        if l11 is not None:
            self._hold(key, l11)

    def _hold(self, key: bytes, l11: np.ndarray) -> None:
        """Keep L11 of ``key`` for the assembly of the whole factor; the one kept before is spare."""
        before = self._lead_factor
        self._lead_factor = (key, l11)
        if before is not None and before[1] is not l11:
            self._spare.put(before[1])

    def _buffer(self) -> np.ndarray:
        try:
            return self._spare.get_nowait()
        except queue.Empty:
            return np.empty((self._lead, self._lead))

    def _gram_parts(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """A_xx - C_x'WC_x and A_zx - C_z'WC_x."""
        zr = self.zr
        # V_a = sum_b diag(W_ab) C_x,b per component a; then C_x'WC_x = sum_a C_x,a' V_a and
        # C_z'WC_x = sum_a C_z,a' V_a: O(L1 q1^2 (p + 1)) work on the per-level sums.
        cx = self.cx
        vs = [sum(w[a, b][:, None] * cx[b] for b in range(self.q1)) for a in range(self.q1)]
        gxx = self.a_rest[zr:, zr:] - sum(cx[a].T @ vs[a] for a in range(self.q1))
        gzx = self.a_rest[:zr, zr:] - sum(self._cz_t[a] @ vs[a] for a in range(self.q1)) if zr else None
        return gxx, gzx

    def _gram(self, w: np.ndarray, gxx: np.ndarray, gzx: np.ndarray | None) -> np.ndarray:
        """G = A - C'WC, its lower triangle only (what the factorisation reads), built in place: at
        InstEval's m = 1,145 each full pass over the matrix costs about a millisecond."""
        zr = self.zr
        omega = self.a_rest.copy()
        omega[zr:, zr:] = gxx
        if gzx is not None:
            omega[zr:, :zr] = gzx.T
            # An assignment (A's values there kept aside), not a read-modify-write: one pass fewer.
            omega.reshape(-1)[self._zz_flat] = self._zz_a - self._zz_map @ w.reshape(-1)
        return omega

    def _scaled(self, theta: np.ndarray, omega: np.ndarray) -> np.ndarray:
        """Lambda_r' G Lambda_r from :meth:`_gram`'s G: in place when Lambda_r is diagonal."""
        if self._lam_diag:
            d = np.append(theta, 1.0)[self._lam_src_diag]
            omega *= d[:, None]
            omega *= d[None, :]
            return omega
        # A general Lambda_r mixes the triangles: the whole symmetric matrix first.
        omega = np.tril(omega) + np.tril(omega, -1).T
        lam_r = self.lambda_rest(theta)
        return np.ascontiguousarray(lam_r.T @ np.asarray(lam_r.T @ omega).T)

    def _evaluate_split(self, theta: np.ndarray) -> _Eval | None:
        """The factorisation in two parts, the leading block's elimination cached by the theta it
        depends on (all but the last term's). With d the diagonal of Lambda_r split as (d_s, d_t) and
        G = A - C'WC, the leading factor L11 (d_s G11 d_s + I = L11 L11') gives R = L11^-1 d_s G12 and
        Q = G22 - R'R; then the trailing block of the factor is chol(d_t Q d_t + I_last), O(t^3) for
        the t = q_last L_last + p + 1 trailing columns."""
        lead, tz = self._lead, self._tail - self.p - 1
        key = theta[: self._n_lead_theta].tobytes()
        if key in self._lead_cache:
            self._lead_cache.move_to_end(key)
            entry = self._lead_cache[key]
        else:
            entry, l11 = self._lead_part(theta)
            self._remember(key, entry, l11)
        if entry is None:
            return None
        ld1, dinv, rmat, qmat, ld11 = entry
        dt = np.append(theta, 1.0)[self._lam_src_diag][lead:]
        s22 = qmat * dt[:, None] * dt[None, :]
        s22[np.arange(tz), np.arange(tz)] += 1.0
        if potrf_lower(s22) != 0:
            return None
        l22 = np.tril(s22)
        diag = np.diag(l22)
        if not np.all(np.isfinite(diag)) or np.any(diag[:-1] <= 0.0):
            return None
        p = self.p
        ld_l2 = ld1 + ld11 + 2.0 * float(np.sum(np.log(diag[:tz])))
        ld_rx2 = 2.0 * float(np.sum(np.log(diag[tz : tz + p])))
        pwrss = float(diag[-1] ** 2)

        def assemble() -> np.ndarray:
            if self._lead_factor is not None and self._lead_factor[0] == key:
                l11: np.ndarray | None = self._lead_factor[1]
            else:
                l11 = self._lead_part(theta)[1]
            assert l11 is not None
            self._hold(key, l11)
            # As the one-piece factor: the factor in the lower triangle, the upper one not read.
            lr = np.zeros((self.m, self.m))
            lr[:lead, :lead] = l11
            lr[lead:, :lead] = dt[:, None] * rmat.T
            lr[lead:, lead:] = l22
            return lr

        return _Eval(ld_l2, ld_rx2, pwrss, l22[tz:, tz:], dinv, assemble=assemble)

    def _lead_part(
        self, theta: np.ndarray
    ) -> tuple[tuple[float, np.ndarray, np.ndarray, np.ndarray, float] | None, np.ndarray | None]:
        """ld|D|, D^-1, R, Q and log|L11|^2 of :meth:`_evaluate_split` (None: not positive definite),
        and L11 (its lower triangle, in a buffer from :meth:`_buffer`) for the assembly of the whole
        factor. Changes nothing else: it runs on several threads at once."""
        got = self._first(theta)
        if got is None:
            return None, None
        _, dinv, w, ld1 = got
        lead, zr = self._lead, self.zr
        gxx, gzx = self._gram_parts(w)
        assert gzx is not None
        ds = np.append(theta, 1.0)[self._lam_src_diag][:lead]
        vals = self._zz_map @ w.reshape(-1)
        np.subtract(self._zz_a, vals, out=vals)  # in place: each 1 MB temporary is fresh memory
        # L11's matrix d_s G11 d_s + I (its lower triangle: potrf reads no other) written into a reused
        # buffer: zeros, then the entries of A - C'WC scaled, read from the product in place.
        rows, cols = self._lead_rc
        n_lead = self._n_lead_entries
        l11 = self._buffer()
        l11.fill(0.0)
        flat = l11.reshape(-1)
        lead_vals = vals[:n_lead]  # a view
        extra_pos, extra_val, extra_r, extra_c = self._a_extra
        if np.all(ds == ds[0]):
            lead_vals *= ds[0] * ds[0]
            flat[extra_pos] = extra_val * (ds[0] * ds[0])
        else:
            lead_vals *= ds[rows] * ds[cols]
            flat[extra_pos] = extra_val * (ds[extra_r] * ds[extra_c])
        flat[self._lead_pos] = lead_vals
        np.einsum("ii->i", l11)[:] += 1.0
        # The trailing rows (the last term's, X's and y's) of G, unscaled.
        tail = self._a_tail.copy()
        tail.reshape(-1)[self._tail_pos] = vals[n_lead:]
        xy = zr - lead
        tail[xy:, :zr] = gzx.T
        tail[xy:, zr:] = gxx
        info = potrf_lower(l11)
        diag = np.diag(l11).copy()
        if info != 0 or not np.all(np.isfinite(diag)) or np.any(diag <= 0.0):
            self._spare.put(l11)
            return None, None
        panel = tail[:, :lead] * ds[None, :]
        rmat = sla.solve_triangular(l11, panel.T, lower=True, check_finite=False)
        g22 = tail[:, lead:]
        qmat = np.tril(g22) + np.tril(g22, -1).T - rmat.T @ rmat
        return (ld1, dinv, rmat, qmat, 2.0 * float(np.sum(np.log(diag)))), l11

    def _evaluate_dense(self, theta: np.ndarray) -> _Eval | None:
        got = self._first(theta)
        if got is None:
            return None
        _, dinv, w, ld1 = got
        zr, p = self.zr, self.p
        gxx, gzx = self._gram_parts(w)
        if self._zz_diag:
            return self._evaluate_diagonal(theta, dinv, w, gzx, gxx, ld1)
        omega = self._scaled(theta, self._gram(w, gxx, gzx))
        np.einsum("ii->i", omega)[:zr] += 1.0
        # Factored in place, in the lower triangle (:func:`._lapack.potrf_lower`), with no copy.
        if potrf_lower(omega) != 0:
            return None
        lr = omega
        diag = np.diag(lr)
        if not np.all(np.isfinite(diag)) or np.any(diag[:-1] <= 0.0):
            return None
        ld_l2 = ld1 + 2.0 * float(np.sum(np.log(diag[:zr])))
        ld_rx2 = 2.0 * float(np.sum(np.log(diag[zr : zr + p])))
        pwrss = float(diag[-1] ** 2)
        # Only the lower triangle of lr holds the factor; its (small) trailing block is cleaned.
        return _Eval(ld_l2, ld_rx2, pwrss, np.tril(lr[zr:, zr:]), dinv, lr=lr)

    def _evaluate_diagonal(
        self,
        theta: np.ndarray,
        dinv: np.ndarray,
        w: np.ndarray,
        gzx: np.ndarray | None,
        gxx: np.ndarray,
        ld1: float,
    ) -> _Eval | None:
        """The same factorisation when the rest terms' block is diagonal (scalar terms nested in the
        first, as therapists over clients): the block's factor is a vector, only (p+1)^2 stays dense."""
        zr, p = self.zr, self.p
        assert gzx is not None
        dz = np.append(theta, 1.0)[self._lam_src_diag][:zr]
        gzz = self._azz_diag - self._zz_map @ w.reshape(-1)
        ozz = dz * dz * gzz + 1.0
        if np.any(ozz <= 0.0):
            return None
        lzz = np.sqrt(ozz)
        lxz = gzx * (dz / lzz)[:, None]
        sxx = gxx - lxz.T @ lxz
        if potrf_lower(sxx) != 0:
            return None
        lxx = np.tril(sxx)
        diag = np.diag(lxx)
        if not np.all(np.isfinite(diag)) or np.any(diag[:-1] <= 0.0):
            return None
        ld_l2 = ld1 + 2.0 * float(np.sum(np.log(lzz)))
        ld_rx2 = 2.0 * float(np.sum(np.log(diag[:p])))
        pwrss = float(diag[-1] ** 2)
        return _Eval(ld_l2, ld_rx2, pwrss, lxx, dinv, lzz_diag=lzz, lxz=lxz)

    def profiled(self, ev: _Eval | None, reml: bool) -> float:
        if ev is None:
            return math.inf
        return self.profiled_parts(ev.ld_l2, ev.ld_rx2, ev.pwrss, reml)

    def profiled_parts(self, ld_l2: float, ld_rx2: float, pwrss: float, reml: bool) -> float:
        """The profiled deviance (REML criterion) from log|L_theta|^2, log|R_X|^2 and pwrss."""
        return profiled_deviance(self.n, self.p, ld_l2, ld_rx2, pwrss, reml)

    def unprofiled(self, ev: _Eval | None, sigma: float, reml: bool) -> float:
        if ev is None:
            return math.inf
        nu = self.n - self.p if reml else self.n
        s2 = sigma * sigma
        dev = ev.ld_l2 + nu * math.log(2.0 * math.pi * s2) + ev.pwrss / s2
        return dev + (ev.ld_rx2 if reml else 0.0)

    def rx_inverse(self, ev: _Eval) -> np.ndarray:
        """(R_X' R_X)^-1: vcov(beta) over sigma^2."""
        p = self.p
        rx = ev.lxx[:p, :p]
        rinv = sla.solve_triangular(rx, np.eye(p), lower=True, check_finite=False) @ self.minv.T
        return rinv.T @ rinv

    def solve(self, ev: _Eval, theta: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """beta and the conditional modes b = Lambda u, per term as (L_k, q_k) arrays."""
        zr, p, m = self.zr, self.p, self.m
        lr = ev.dense_lr()
        top = lr[: m - 1, : m - 1]
        rhs = lr[m - 1, : m - 1]
        xr = sla.solve_triangular(top, rhs, lower=True, trans="T", check_finite=False)
        beta_c = xr[zr : zr + p]
        beta = self.minv @ (beta_c + self.shift)
        # The rest effects in b-space (b = Lambda u) and the first term's u from its normal equations:
        # D_l u1_l = Lambda1' (c_l^y - c_l^X beta - c_l^Z b_rest).
        lam_r = self.lambda_rest(theta)
        coef = np.concatenate([np.asarray(lam_r[:zr, :zr] @ xr[:zr]), beta_c, [-1.0]])
        lams = lambda_blocks(theta, self.blocks)
        resid = np.column_stack(
            [-(self.cx[a] @ coef[zr:]) - (self.cz[a] @ coef[:zr] if zr else 0.0) for a in range(self.q1)]
        )
        rhs1 = resid @ lams[0]  # rows: Lambda1' r_l
        u1 = np.einsum("lij,lj->li", ev.dinv, rhs1)
        modes = [u1 @ lams[0].T]
        start = 0
        for b in self.rest:
            size = b.q * b.n_levels
            modes.append(coef[start : start + size].reshape(b.n_levels, b.q))
            start += size
        return beta, modes

    def _rest_inverse(self, ev: _Eval) -> tuple[np.ndarray | None, np.ndarray | None]:
        """S^-1 for the rest terms' block S of the factor (LAPACK's potri, about two factorisations), in
        its lower triangle, or its diagonal alone when the block is diagonal (nested designs: no zr x zr
        matrix)."""
        zr = self.zr
        if ev.lzz_diag is not None:
            return None, 1.0 / ev.lzz_diag**2
        lzz = np.ascontiguousarray(ev.dense_lr()[:zr, :zr])
        # The lower factor of a C-ordered matrix is the upper one of its transpose, as in evaluate.
        inv_t, info = _potri(lzz.T, lower=0, overwrite_c=1)
        if info != 0:
            raise np.linalg.LinAlgError("the random-effects block of the factor is singular")
        # Only the lower triangle holds S^-1 (read it by (max, min) index): no symmetric copies of a
        # ~10 MB matrix.
        return inv_t.T, None

    def conditional_variances(self, ev: _Eval, theta: np.ndarray, sigma2: float) -> list[np.ndarray]:
        """Per term, (L_k, q_k, q_k) conditional covariances of b given y at the estimates, as lme4's
        ``ranef(condVar = TRUE)``: sigma^2 Lambda_k [(Lambda'Z'Z Lambda + I)^-1]_kk Lambda_k'."""
        zr, n1, q1 = self.zr, self.n1, self.q1
        lams = lambda_blocks(theta, self.blocks)
        first = ev.dinv.copy()
        out_rest: list[np.ndarray] = []
        if zr:
            d = np.append(theta, 1.0)[self._lam_src_diag][:zr] if self._lam_diag else None
            sinv, sdiag = self._rest_inverse(ev)
            # K = Lambda_z S^-1 Lambda_z'; the first term's extra D^-1 Lambda1' (Cz K Cz')_ll Lambda1 D^-1
            # comes from the C'WC map read backwards: (Cz K Cz')_ll,ab = sum_ij Cz_a,li K_ij Cz_b,lj, and
            # the map holds Cz_a,li Cz_b,lj for the entries i >= j of the lower triangle.
            q2 = q1 * q1
            if sinv is None:
                assert sdiag is not None and d is not None
                full = self._zz_map.T @ (sdiag * d * d)
                strict = np.zeros_like(full)
            else:
                rows_zz, cols_zz = self._zz_rows, self._zz_cols
                if d is not None:
                    k_e = sinv[rows_zz, cols_zz] * d[rows_zz] * d[cols_zz]
                else:
                    whole = np.tril(sinv) + np.tril(sinv, -1).T
                    lz = self.lambda_rest(theta)[:zr, :zr]
                    k_e = np.asarray(lz @ np.asarray(lz @ whole).T)[rows_zz, cols_zz]
                full = self._zz_map.T @ k_e
                strict = self._zz_map.T @ np.where(rows_zz != cols_zz, k_e, 0.0)
            extra = full.reshape(q1, q1, n1) + strict.reshape(q1, q1, n1).transpose(1, 0, 2)
            extra = np.moveaxis(extra, 2, 0)
            assert extra.shape == (n1, q1, q1) and full.shape == (q2 * n1,)
            lam1 = lams[0]
            mid = np.einsum("ji,ljk,kh->lih", lam1, extra, lam1, optimize=True)
            first = first + ev.dinv @ mid @ ev.dinv
            start = 0
            for blk_k in self.rest:
                size = blk_k.q * blk_k.n_levels
                if sinv is None:
                    assert sdiag is not None
                    out_rest.append(sdiag[start : start + size].reshape(blk_k.n_levels, 1, 1))
                else:
                    idx = start + np.arange(blk_k.n_levels)[:, None] * blk_k.q + np.arange(blk_k.q)[None, :]
                    i, j = idx[:, :, None], idx[:, None, :]
                    out_rest.append(sinv[np.maximum(i, j), np.minimum(i, j)])
                start += size
        blocks_out = [first, *out_rest]
        return [sigma2 * (lam @ v @ lam.T) for lam, v in zip(lams, blocks_out, strict=True)]


def fit_lmm(y: np.ndarray, x: np.ndarray, blocks: Sequence[Block], reml: bool) -> LmmFit:
    """Fit a linear mixed model by REML (``reml=True``) or ML; blocks ordered by levels, largest first."""
    blocks = list(blocks)
    if not blocks:
        raise ValueError("a linear mixed model needs at least one random term")
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    rest = sum(b.q * b.n_levels for b in blocks[1:])
    cross: _Cross | SparseCross
    if rest + x.shape[1] + 1 > _DENSE_LIMIT and not _nested_scalar(blocks):
        # The dense Schur complement would be too large to factor at every evaluation.
        cross = SparseCross(y, x, blocks)
    else:
        cross = _Cross(y, x, blocks)
    # One BLAS thread: the work is many small or mid-sized factorisations, where BLAS threads only add
    # synchronisation (measured on 2 shared cores: 3x the CPU time at m = 204, 5x the wall time at
    # m = 1,145, InstEval's dense block); large designs instead factor two points at a time, each on
    # a thread of its own (evaluate_many).
    with threadpool_limits(1):
        return _fit(cross, blocks, reml, moment_start(y, x, blocks))


def _nested_scalar(blocks: list[Block]) -> bool:
    """One scalar term after the first, with each level of the first inside one of its levels: the
    blocked path's rest block is then diagonal whatever its size."""
    if len(blocks) != 2 or blocks[1].q != 1:
        return False
    first, second = blocks
    pairs = np.unique(first.codes.astype(np.int64) * second.n_levels + second.codes.astype(np.int64))
    return len(pairs) == first.n_levels


def _fit(cross: _Cross | SparseCross, blocks: list[Block], reml: bool, start: np.ndarray | None) -> LmmFit:
    theta, converged, message, stencil = optimise(cross, reml, start)
    # The evaluation type belongs to the evaluator (blocked or sparse).
    ev: Any = cross.evaluate(theta)
    if ev is None:
        raise ValueError("the (RE)ML optimum is not positive definite; the model cannot be fitted")
    n, p = cross.n, cross.p
    dev = cross.profiled(ev, reml)
    sigma2 = ev.pwrss / (n - p if reml else n)
    beta, modes = cross.solve(ev, theta)
    vcov = sigma2 * cross.rx_inverse(ev)
    vcov = (vcov + vcov.T) / 2.0
    with np.errstate(all="ignore"):
        try:
            if stencil is None:
                raise ArithmeticError("no stencil at the optimum")
            ddf = satterthwaite(cross, stencil, math.sqrt(sigma2), reml)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            ddf = np.full(p, np.nan)
    lower = theta_lower(blocks)
    bounded = np.isfinite(lower)
    singular = bool(np.any(theta[bounded] < _SINGULAR_TOL))
    covs = [sigma2 * c for c in relative_covariances(theta, blocks)]
    condvar = cross.conditional_variances(ev, theta, sigma2)
    return LmmFit(
        beta=beta,
        vcov=vcov,
        ddf=ddf,
        theta=theta,
        covs=covs,
        sigma2=float(sigma2),
        loglik=-dev / 2.0,
        deviance=dev,
        converged=converged,
        singular=singular,
        ranef=modes,
        condvar=condvar,
        message="" if converged else message,
        evaluations=cross.evaluations,
    )


def n_params(blocks: Sequence[Block], p: int) -> int:
    """Parameters counted by logLik's df: fixed effects, theta and sigma."""
    return p + n_theta(blocks) + 1
