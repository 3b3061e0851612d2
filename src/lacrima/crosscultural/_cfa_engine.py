"""Numerical core of multi-group confirmatory factor analysis (maximum likelihood with mean structure).

The model for group g is ``Sigma_g = Lambda_g Phi_g Lambda_g' + Theta_g`` and ``mu_g = nu_g + Lambda_g
kappa_g``. Parameters live in a parameter table (one row per matrix entry and group, lavaan-style); equality
constraints across groups are rows that share one free-parameter index, so the optimiser works on the
reduced parameter vector and no constraint Jacobian is needed.

The discrepancy is lavaan's ML fit function with biased (divisor N) sample covariances,
``F_g = log|Sigma| + tr(S Sigma^-1) - log|S| - p + (m - mu)' Sigma^-1 (m - mu)``, combined over groups as
``f = sum_g (N_g / N) F_g``; the test statistic is ``N f``. Gradient and Hessian are analytic; the
expected (Fisher) information gives standard errors, score tests and the fallback curvature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import linalg
from scipy.linalg import blas

from lacrima.crosscultural._cfa_syntax import MeasurementModel

__all__ = [
    "EQUALITY_KINDS",
    "GroupMoments",
    "ParamRow",
    "Structure",
    "build_structure",
    "chol_inverse",
    "chol_solve",
    "evaluate",
    "fit_structure",
    "scaled_cholesky",
    "score_tests",
    "start_values",
]

FloatArray = npt.NDArray[np.float64]

#: lavaan group.equal keywords supported here, mapped to the op of the rows they constrain
EQUALITY_KINDS: dict[str, str] = {"loadings": "=~", "intercepts": "~1", "residuals": "~~"}


@dataclass(frozen=True)
class ParamRow:
    """One entry of a model matrix in one group."""

    group: int
    lhs: str
    op: str
    rhs: str
    matrix: str  # lambda, phi, theta, nu, kappa
    row: int
    col: int
    free: int  # index into the free-parameter vector, -1 when fixed
    value: float  # the fixed value (used when free == -1)
    kind: str = ""  # equality kind this row belongs to ("loadings", "intercepts", "residuals" or "")


@dataclass(frozen=True)
class GroupMoments:
    """Sample moments of one group: covariance with divisor N, means, size."""

    cov: FloatArray
    mean: FloatArray
    n: int
    logdet: float


@dataclass
class Structure:
    """Parameter table and index arrays for a (multi-group) measurement model."""

    model: MeasurementModel
    observed: tuple[str, ...]
    factors: tuple[str, ...]
    n_groups: int
    rows: list[ParamRow]
    npar: int
    equal: frozenset[str]
    released: frozenset[tuple[int, str, str, str]]
    #: pairs (row index in group 1, row index in group g) that share a parameter because of ``equal``
    constraints: list[tuple[int, int]] = field(default_factory=list)
    #: each group's GroupIndex, built once on first use (the rows are not changed after build_structure)
    _indices: list[GroupIndex] | None = field(default=None, repr=False, compare=False)

    def group_rows(self, g: int) -> list[ParamRow]:
        return [r for r in self.rows if r.group == g]

    def indices(self) -> list[GroupIndex]:
        """The index arrays of every group (:func:`index_group`), computed once and reused."""
        if self._indices is None:
            self._indices = [index_group(self, g) for g in range(self.n_groups)]
        return self._indices


def build_structure(
    model: MeasurementModel,
    n_groups: int,
    equal: Sequence[str] = (),
    released: Sequence[tuple[int, str, str, str]] = (),
) -> Structure:
    """Build the parameter table: marker loadings fixed to 1, latent means fixed to 0 unless intercepts
    are equal across groups (then free in groups 2..G, as lavaan's ``group.equal="intercepts"``)."""
    observed = model.observed
    factors = model.factor_names
    obs_ix = {v: i for i, v in enumerate(observed)}
    fac_ix = {f: i for i, f in enumerate(factors)}
    equal_set = frozenset(equal)
    released_set = frozenset(released)
    rows: list[ParamRow] = []
    constraints: list[tuple[int, int]] = []
    first_group_index: dict[tuple[str, str, str], tuple[int, int]] = {}  # key -> (param, row index)
    npar = 0

    def add(
        g: int, lhs: str, op: str, rhs: str, matrix: str, r: int, c: int, fixed: float | None, kind: str
    ) -> None:
        nonlocal npar
        key = (lhs, op, rhs)
        if fixed is not None:
            rows.append(ParamRow(g, lhs, op, rhs, matrix, r, c, -1, fixed, kind))
            return
        if g > 0 and kind in equal_set and (g, *key) not in released_set and key in first_group_index:
            pidx, row0 = first_group_index[key]
            constraints.append((row0, len(rows)))
            rows.append(ParamRow(g, lhs, op, rhs, matrix, r, c, pidx, np.nan, kind))
            return
        if g == 0:
            first_group_index[key] = (npar, len(rows))
        rows.append(ParamRow(g, lhs, op, rhs, matrix, r, c, npar, np.nan, kind))
        npar += 1

    for g in range(n_groups):
        for fname, inds in model.factors:
            for i, ind in enumerate(inds):
                add(
                    g,
                    fname,
                    "=~",
                    ind,
                    "lambda",
                    obs_ix[ind],
                    fac_ix[fname],
                    1.0 if i == 0 else None,
                    "loadings",
                )
        for v in observed:
            add(g, v, "~~", v, "theta", obs_ix[v], obs_ix[v], None, "residuals")
        for a, b in model.residual_covariances:
            add(g, a, "~~", b, "theta", obs_ix[a], obs_ix[b], None, "")
        for i, f1 in enumerate(factors):
            for f2 in factors[i:]:
                add(g, f1, "~~", f2, "phi", fac_ix[f1], fac_ix[f2], None, "")
        for v in observed:
            add(g, v, "~1", "", "nu", obs_ix[v], 0, None, "intercepts")
        latent_free = g > 0 and "intercepts" in equal_set
        for f in factors:
            add(g, f, "~1", "", "kappa", fac_ix[f], 0, None if latent_free else 0.0, "")
    return Structure(model, observed, factors, n_groups, rows, npar, equal_set, released_set, constraints)


@dataclass(frozen=True)
class GroupIndex:
    """Vectorised positions of the free entries of one group."""

    lam: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]
    phi: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]
    theta: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]
    nu: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]
    kappa: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]
    base: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
    params: npt.NDArray[np.intp]  # free-parameter index of each derivative row, in block order


def index_group(structure: Structure, g: int) -> GroupIndex:
    p, m = len(structure.observed), len(structure.factors)
    lam0, phi0, th0 = np.zeros((p, m)), np.zeros((m, m)), np.zeros((p, p))
    nu0, ka0 = np.zeros(p), np.zeros(m)
    parts: dict[str, list[tuple[int, int, int]]] = {k: [] for k in ("lambda", "phi", "theta", "nu", "kappa")}
    for r in structure.group_rows(g):
        if r.free >= 0:
            parts[r.matrix].append((r.row, r.col, r.free))
        elif r.matrix == "lambda":
            lam0[r.row, r.col] = r.value
        elif r.matrix == "phi":
            phi0[r.row, r.col] = phi0[r.col, r.row] = r.value
        elif r.matrix == "theta":
            th0[r.row, r.col] = th0[r.col, r.row] = r.value
        elif r.matrix == "nu":
            nu0[r.row] = r.value
        else:
            ka0[r.row] = r.value

    def arr(k: str, n: int) -> tuple[npt.NDArray[np.intp], ...]:
        a = np.array(parts[k], dtype=np.intp).reshape(-1, 3)
        return tuple(a[:, i] for i in ((0, 1, 2) if n == 3 else (0, 2)))

    lam, phi, theta = arr("lambda", 3), arr("phi", 3), arr("theta", 3)
    nu, kappa = arr("nu", 2), arr("kappa", 2)
    params = np.concatenate([lam[2], phi[2], theta[2], nu[1], kappa[1]])
    return GroupIndex(lam, phi, theta, nu, kappa, (lam0, phi0, th0, nu0, ka0), params)  # type: ignore[arg-type]


def matrices(
    x: FloatArray, gi: GroupIndex
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    lam, phi, th, nu, ka = (b.copy() for b in gi.base)
    lam[gi.lam[0], gi.lam[1]] = x[gi.lam[2]]
    phi[gi.phi[0], gi.phi[1]] = x[gi.phi[2]]
    phi[gi.phi[1], gi.phi[0]] = x[gi.phi[2]]
    th[gi.theta[0], gi.theta[1]] = x[gi.theta[2]]
    th[gi.theta[1], gi.theta[0]] = x[gi.theta[2]]
    nu[gi.nu[0]] = x[gi.nu[1]]
    ka[gi.kappa[0]] = x[gi.kappa[1]]
    return lam, phi, th, nu, ka


def implied(x: FloatArray, gi: GroupIndex) -> tuple[FloatArray, FloatArray]:
    lam, phi, th, nu, ka = matrices(x, gi)
    return lam @ phi @ lam.T + th, nu + lam @ ka


def jacobian(x: FloatArray, gi: GroupIndex, p: int) -> tuple[FloatArray, FloatArray]:
    """Derivatives of Sigma (k, p, p) and mu (k, p) with respect to the group's free entries (block order)."""
    lam, phi, _, _, ka = matrices(x, gi)
    lp = lam @ phi
    j, k, _ = gi.lam
    n_l = len(j)
    d_lam = np.zeros((n_l, p, p))
    cols = lp[:, k].T  # (n_l, p)
    ar = np.arange(n_l)
    d_lam[ar, j, :] += cols
    d_lam[ar, :, j] += cols
    mu_lam = np.zeros((n_l, p))
    mu_lam[ar, j] = ka[k]
    a, b, _ = gi.phi
    la, lb = lam[:, a].T, lam[:, b].T  # (n_phi, p)
    d_phi = la[:, :, None] * lb[:, None, :]
    off = a != b
    d_phi[off] += np.transpose(d_phi[off], (0, 2, 1))
    r, c, _ = gi.theta
    d_th = np.zeros((len(r), p, p))
    at = np.arange(len(r))
    d_th[at, r, c] = 1.0
    d_th[at, c, r] = 1.0
    d_nu = np.zeros((len(gi.nu[0]), p, p))
    mu_nu = np.zeros((len(gi.nu[0]), p))
    mu_nu[np.arange(len(gi.nu[0])), gi.nu[0]] = 1.0
    d_ka = np.zeros((len(gi.kappa[0]), p, p))
    mu_ka = lam[:, gi.kappa[0]].T
    d_sigma = np.concatenate([d_lam, d_phi, d_th, d_nu, d_ka])
    d_mu = np.concatenate([mu_lam, np.zeros((len(a) + len(r), p)), mu_nu, mu_ka])
    return d_sigma, d_mu


@dataclass
class Evaluation:
    f: float
    grad: FloatArray
    info: FloatArray  # expected Hessian of f (= 2/N times the Fisher information)
    hess: FloatArray | None = None  # exact Hessian of f, when asked for


def _second_order(
    x: FloatArray, gi: GroupIndex, g_sigma: np.ndarray, s_inv_d: np.ndarray, k: int
) -> FloatArray:
    """The terms of the exact Hessian that come from second derivatives of Sigma and mu:
    ``tr(G d2Sigma) - 2 d' P d2mu`` (non-zero for loading-loading, loading-phi and loading-kappa pairs)."""
    lam, phi, _, _, _ = matrices(x, gi)
    out = np.zeros((k, k))
    j, kk, _ = gi.lam
    n_l = len(j)
    out[:n_l, :n_l] = 2.0 * phi[np.ix_(kk, kk)] * g_sigma[np.ix_(j, j)]
    a, b, _ = gi.phi
    n_p = len(a)
    gl = (g_sigma @ lam)[j]  # (n_l, m)
    block = gl[:, a] * (kk[:, None] == b[None, :]) + np.where(
        (a != b)[None, :], gl[:, b] * (kk[:, None] == a[None, :]), 0.0
    )
    out[:n_l, n_l : n_l + n_p] = 2.0 * block
    kap = gi.kappa[0]
    start = k - len(kap)
    out[:n_l, start:] = -2.0 * s_inv_d[j][:, None] * (kk[:, None] == kap[None, :])
    upper = out[:n_l, n_l:].copy()
    out[n_l:, :n_l] = upper.T
    return out


def evaluate(
    x: FloatArray,
    indices: Sequence[GroupIndex],
    moments: Sequence[GroupMoments],
    npar: int,
    derivatives: bool = True,
    exact: bool = False,
) -> Evaluation | None:
    """The fit function f, its gradient and expected Hessian (and with ``exact`` the exact Hessian);
    None where an implied Sigma is not positive definite."""
    n_total = sum(mo.n for mo in moments)
    f = 0.0
    grad = np.zeros(npar)
    info = np.zeros((npar, npar))
    hess = np.zeros((npar, npar)) if exact else None
    for gi, mo in zip(indices, moments, strict=True):
        sigma, mu = implied(x, gi)
        try:
            chol = np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:
            return None
        p = len(mu)
        logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
        s_inv = np.linalg.inv(sigma)
        d = mo.mean - mu
        w = mo.n / n_total
        s_inv_d = s_inv @ d
        f_g = logdet + float(np.sum(mo.cov * s_inv)) - mo.logdet - p + float(d @ s_inv_d)
        f += w * f_g
        if not derivatives:
            continue
        g_sigma = s_inv - s_inv @ (mo.cov + np.outer(d, d)) @ s_inv
        d_sigma, d_mu = jacobian(x, gi, p)
        gr = np.einsum("kab,ab->k", d_sigma, g_sigma) - 2.0 * d_mu @ s_inv_d
        a = np.einsum("ab,kbc->kac", s_inv, d_sigma)
        h = np.einsum("kab,lba->kl", a, a) + 2.0 * d_mu @ s_inv @ d_mu.T
        # a parameter appears at most once per group, so plain fancy-index accumulation is exact
        grad[gi.params] += w * gr
        info[np.ix_(gi.params, gi.params)] += w * h
        if hess is not None:
            # exact Hessian: -tr(A_i A_j) + 2 tr(P S_i B S_j) + 2 mu_i' P mu_j + 2 (u_i' mu_j + u_j' mu_i)
            # + second-derivative terms, with B = P (S + dd') P and u_i = P Sigma_i P d
            bmat = s_inv @ (mo.cov + np.outer(d, d)) @ s_inv
            c = np.einsum("ab,kbc->kac", bmat, d_sigma)
            u = np.einsum("kab,b->ka", a, s_inv_d)
            um = u @ d_mu.T
            hx = (
                -np.einsum("kab,lba->kl", a, a)
                + 2.0 * np.einsum("kab,lba->kl", a, c)
                + 2.0 * d_mu @ s_inv @ d_mu.T
                + 2.0 * (um + um.T)
                + _second_order(x, gi, g_sigma, s_inv_d, len(gi.params))
            )
            hess[np.ix_(gi.params, gi.params)] += w * hx
    return Evaluation(f, grad, info, hess)


def start_values(structure: Structure, moments: Sequence[GroupMoments]) -> FloatArray:
    """Starting values: loadings from the marker triads of the pooled covariance, residual variances from
    what the factor leaves over (at least 10% of the variance), factor covariances from the markers' and
    intercepts from the group means."""
    obs_ix = {v: i for i, v in enumerate(structure.observed)}
    n_total = sum(mo.n for mo in moments)
    pooled = np.sum([mo.cov * (mo.n / n_total) for mo in moments], axis=0)
    loading: dict[tuple[str, str], float] = {}
    factor_var: dict[str, float] = {}
    marker: dict[str, int] = {}
    for fname, inds in structure.model.factors:
        ix = [obs_ix[v] for v in inds]
        m0 = ix[0]
        marker[fname] = m0
        triads = [
            pooled[m0, a] * pooled[m0, b] / pooled[a, b]
            for i, a in enumerate(ix[1:])
            for b in ix[2 + i :]
            if abs(pooled[a, b]) > 1e-12
        ]
        phi = float(np.median(triads)) if triads else 0.5 * pooled[m0, m0]
        if not (0.05 * pooled[m0, m0] <= phi <= 0.95 * pooled[m0, m0]):
            phi = 0.5 * pooled[m0, m0]
        factor_var[fname] = phi
        for v in inds[1:]:
            loading[(fname, v)] = float(pooled[obs_ix[v], m0] / phi)
    explained = dict.fromkeys(structure.observed, 0.0)
    for (fname, v), lam in loading.items():
        explained[v] += lam * lam * factor_var[fname]
    for fname, inds in structure.model.factors:
        explained[inds[0]] += factor_var[fname]
    x = np.zeros(structure.npar)
    seen = np.zeros(structure.npar, dtype=bool)
    for r in structure.rows:
        if r.free < 0 or seen[r.free]:
            continue
        seen[r.free] = True
        mo = moments[r.group]
        if r.matrix == "lambda":
            x[r.free] = loading[(r.lhs, r.rhs)]
        elif r.matrix == "theta":
            if r.lhs == r.rhs:
                s = pooled[obs_ix[r.lhs], obs_ix[r.lhs]]
                x[r.free] = max(s - explained[r.lhs], 0.1 * s)
        elif r.matrix == "phi":
            if r.lhs == r.rhs:
                x[r.free] = factor_var[r.lhs]
            else:
                c = pooled[marker[r.lhs], marker[r.rhs]]
                bound = 0.5 * np.sqrt(factor_var[r.lhs] * factor_var[r.rhs])
                x[r.free] = float(np.clip(c, -bound, bound))
        elif r.matrix == "nu":
            x[r.free] = mo.mean[obs_ix[r.lhs]]
    return x


@dataclass
class FitOutcome:
    x: FloatArray
    evaluation: Evaluation
    converged: bool
    iterations: int
    message: str


def scaled_cholesky(a: FloatArray, tol: float = 1e-10) -> tuple[FloatArray, FloatArray] | None:
    """Cholesky factor of ``a`` scaled to unit diagonal, with the scale; None when ``a`` is not positive
    definite or (nearly) singular, judged by the smallest pivot of the scaled factor.

    numpy's Cholesky and scipy's triangular solves stay fast on a busy machine, where LAPACK's
    multi-threaded ``solve``, ``inv`` and ``eigh`` on these small matrices are up to 100 times slower.
    """
    d = np.diag(a)
    if not np.all(d > 0):
        return None
    scale = 1.0 / np.sqrt(d)
    try:
        low = np.asarray(np.linalg.cholesky(a * np.outer(scale, scale)), dtype=float)
    except np.linalg.LinAlgError:
        return None
    if float(np.min(np.diag(low))) ** 2 < tol:
        return None
    return low, scale


def chol_solve(chol: tuple[FloatArray, FloatArray], b: FloatArray) -> FloatArray:
    """Solve ``a x = b`` from :func:`scaled_cholesky`'s factor (b a vector or a matrix)."""
    low, scale = chol
    rhs = b * (scale[:, None] if b.ndim == 2 else scale)
    y = linalg.solve_triangular(low, rhs, lower=True, check_finite=False)
    x = linalg.solve_triangular(low.T, y, lower=False, check_finite=False)
    return np.asarray(x * (scale[:, None] if b.ndim == 2 else scale), dtype=float)


def chol_inverse(chol: tuple[FloatArray, FloatArray]) -> FloatArray:
    """The inverse of ``a`` from :func:`scaled_cholesky`'s factor, one column at a time.

    Two triangular solves per column (BLAS-2 ``dtrsv``) rather than one solve with the identity as the
    right-hand side: OpenBLAS runs the matrix (BLAS-3) solve on several threads, and on a busy machine
    those threads cost more than the whole inversion and keep slowing the computations that follow.
    """
    low, scale = chol
    n = len(scale)
    low_f = np.asfortranarray(low)
    out = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = scale[i]
        y = blas.dtrsv(low_f, e, lower=1, trans=0, overwrite_x=1)
        out[:, i] = blas.dtrsv(low_f, y, lower=1, trans=1, overwrite_x=1)
    out *= scale[:, None]
    return 0.5 * (out + out.T)


def fit_structure(
    structure: Structure,
    moments: Sequence[GroupMoments],
    x0: FloatArray | None = None,
    gtol: float = 1e-7,
    maxiter: int = 500,
    start: tuple[FloatArray, Evaluation] | None = None,
) -> FitOutcome:
    """Minimise f by Newton's method with a backtracking line search: exact Hessian where it is positive
    definite, the expected information (Fisher scoring) where it is not; if that stalls, finish with
    scipy's L-BFGS-B on the analytic gradient. ``start`` is ``(x, evaluate(x, ..., exact=True))`` at
    :func:`start_values` when the caller has it already (used only without ``x0``).

    A hand-written Newton loop is used rather than scipy's trust-region methods because those spend most of
    their time in BLAS-threaded matrix norms that, on a busy machine, cost more than the model evaluation.
    """
    indices = structure.indices()
    npar = structure.npar
    if x0 is None and start is not None and start[1].hess is not None:
        x, e0 = start  # the caller already evaluated the default starting values (with the exact Hessian)
        e: Evaluation | None = e0
    else:
        x = start_values(structure, moments) if x0 is None else np.array(x0, dtype=float)
        e = evaluate(x, indices, moments, npar, exact=True)
    if e is None:
        x = _safe_start(structure, x, indices, moments)
        e = evaluate(x, indices, moments, npar, exact=True)
    if e is None:
        raise np.linalg.LinAlgError("no positive definite starting point found")
    iterations = 0
    message = "iteration limit reached"
    converged = False
    while iterations < maxiter:
        if float(np.max(np.abs(e.grad))) < gtol:
            converged, message = True, "gradient below tolerance"
            break
        iterations += 1
        # Newton steps with the exact Hessian where it is positive definite (quadratic convergence near the
        # optimum), Fisher scoring with the expected information elsewhere
        chol = scaled_cholesky(e.hess) if e.hess is not None else None
        if chol is None:
            chol = scaled_cholesky(e.info)
        step = -e.grad if chol is None else -chol_solve(chol, e.grad)
        slope = float(e.grad @ step)
        if not slope < 0.0:
            step, slope = -e.grad, -float(e.grad @ e.grad)
        t = 1.0
        accepted: Evaluation | None = None
        while t > 1e-10:
            trial = evaluate(x + t * step, indices, moments, npar, exact=True)
            if trial is not None and trial.f <= e.f + 1e-4 * t * slope:
                accepted = trial
                break
            t *= 0.5
        if accepted is None:
            message = "line search failed"
            break
        x, e = x + t * step, accepted
    if not converged and float(np.max(np.abs(e.grad))) >= 1e-6:
        x, e, converged, message = _lbfgs(x, indices, moments, npar, gtol, maxiter)
    converged = converged or float(np.max(np.abs(e.grad))) < 1e-6
    return FitOutcome(x, e, converged, iterations, message)


def _lbfgs(
    x: FloatArray,
    indices: Sequence[GroupIndex],
    moments: Sequence[GroupMoments],
    npar: int,
    gtol: float,
    maxiter: int,
) -> tuple[FloatArray, Evaluation, bool, str]:
    def fun(z: FloatArray) -> tuple[float, FloatArray]:
        ev = evaluate(z, indices, moments, npar)
        if ev is None:
            return np.inf, np.zeros(npar)
        return ev.f, ev.grad

    # imported here: scipy.optimize takes more than 0.1 s to import and only fits that Newton's method
    # leaves unfinished need it
    from scipy import optimize

    res = optimize.minimize(
        fun, x, jac=True, method="L-BFGS-B", options={"gtol": gtol, "maxiter": 20 * maxiter, "ftol": 1e-15}
    )
    final = evaluate(res.x, indices, moments, npar)
    if final is None:
        raise np.linalg.LinAlgError("the implied covariance matrix is not positive definite at the solution")
    return res.x, final, bool(res.success), f"L-BFGS-B: {res.message}"


def _safe_start(
    structure: Structure, x: FloatArray, indices: Sequence[GroupIndex], moments: Sequence[GroupMoments]
) -> FloatArray:
    """Shrink factor covariances toward zero until every implied covariance matrix is positive definite."""
    x = x.copy()
    cov_ix = [r.free for r in structure.rows if r.free >= 0 and r.matrix == "phi" and r.lhs != r.rhs]
    cov_ix += [r.free for r in structure.rows if r.free >= 0 and r.matrix == "theta" and r.lhs != r.rhs]
    for _ in range(20):
        if evaluate(x, indices, moments, structure.npar, derivatives=False) is not None:
            return x
        x[cov_ix] *= 0.5
    return x


def score_tests(
    structure: Structure, moments: Sequence[GroupMoments], x: FloatArray
) -> list[tuple[int, int, float]]:
    """Univariate score tests (lavaan's ``lavTestScore(fit)$uni``) for releasing each equality constraint.

    Returns (row in group 1, row in group g, chi-square with 1 df) per constraint. The information is the
    expected one, as in lavaan, evaluated in the unconstrained parameterisation (every group-entry free).
    """
    full_of_row: dict[int, int] = {}
    for i, r in enumerate(structure.rows):
        if r.free >= 0:
            full_of_row[i] = len(full_of_row)
    n_full = len(full_of_row)
    # an unconstrained copy of the structure: same rows, each free entry its own parameter
    full_rows = [
        ParamRow(
            r.group,
            r.lhs,
            r.op,
            r.rhs,
            r.matrix,
            r.row,
            r.col,
            full_of_row[i] if r.free >= 0 else -1,
            r.value,
        )
        for i, r in enumerate(structure.rows)
    ]
    full = Structure(
        structure.model,
        structure.observed,
        structure.factors,
        structure.n_groups,
        full_rows,
        n_full,
        frozenset(),
        frozenset(),
    )
    x_full = np.array([x[structure.rows[i].free] for i in full_of_row])
    indices = [index_group(full, g) for g in range(full.n_groups)]
    e = evaluate(x_full, indices, moments, n_full)
    if e is None:
        raise np.linalg.LinAlgError("the implied covariance matrix is not positive definite")
    n_total = sum(mo.n for mo in moments)
    k = np.zeros((n_full, structure.npar))
    for i, fi in full_of_row.items():
        k[fi, structure.rows[i].free] = 1.0
    out: list[tuple[int, int, float]] = []
    for row0, row_g in structure.constraints:
        k_r = np.hstack([k, np.zeros((n_full, 1))])
        fi = full_of_row[row_g]
        k_r[fi, :] = 0.0
        k_r[fi, -1] = 1.0
        g_r = k_r.T @ e.grad
        h_r = k_r.T @ e.info @ k_r
        chol = scaled_cholesky(h_r)
        stat = np.nan if chol is None else 0.5 * n_total * float(g_r @ chol_solve(chol, g_r))
        out.append((row0, row_g, stat))
    return out
