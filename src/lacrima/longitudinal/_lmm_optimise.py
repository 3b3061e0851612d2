"""The optimiser of the LMM engine and lmerTest's Satterthwaite degrees of freedom.

The profiled deviance d(theta) of :mod:`._lmm` is minimised in three steps:

1. a quasi-Newton search (BFGS with forward-difference gradients, bounds by projection, the first matrix
   from second differences along each coordinate, a last step on a central-difference gradient) from the
   better of lme4's start and a moment estimate (:func:`moment_start`), in coordinates scaled so that
   the curvature of d is of one order in each: theta_k,ij times sqrt(L_k mean(z_i^2)), as each of the
   L_k levels of term k adds about mean(z_i^2) to the curvature in the entries of row i of its factor.
   Unscaled, the therapist entry (200 levels) and the client slope entries (10,000 levels times
   sessions^2) differ in curvature by a factor of 600 and a gradient method zigzags for hundreds of
   evaluations. The gradient is taken only at accepted points (Armijo backtracking needs none at a
   trial point);
2. lme4's ``restart_edge``: a diagonal entry that ended on its bound 0 is moved off it (1e-3, 1e-2, 0.1)
   and the search restarted if the deviance is lower there (at theta_i = 0 the deviance is even in
   theta_i, so a gradient method can stall on a saddle);
3. Newton steps on the coordinates off the bound with a central-difference Hessian and a five-point
   gradient on a stencil of step h_i = 1e-3 max(|theta_i|, 0.1) (error O(h^4) in the gradient: rounding in
   the deviance, ~1e-15 relative with centred data, moves the slope by less than 1e-8). Convergence is
   lme4's criterion: the gradient scaled by the Hessian's Cholesky factor below 2e-3, coordinates on the
   bound with an outward gradient. After a converged search the first stencil is already five-point,
   and a Newton step below 1e-6 (relative) ends the polish: the step's error is quadratic in it, and the
   stencil it came from sits within 1e-6 of the optimum, close enough for the df below.

Satterthwaite df (lmerTest; Kuznetsova, Brockhoff & Christensen 2017) use the variance parameters
(theta, sigma) and the *unprofiled* deviance

    D(theta, sigma) = ldL2 + [ldRX2] + nu log(2 pi sigma^2) + pwrss / sigma^2,   nu = n - p (REML) or n,

with A = 2 H^-1, H its Hessian at the optimum, and for coefficient j with g the gradient of
vcov(beta)_jj = sigma^2 [(R_X'R_X)^-1]_jj in (theta, sigma): df_j = 2 vcov_jj^2 / (g' A g). The theta
part of H and of g comes from the same stencil as the last Newton step (taken over every theta entry,
as lmerTest differentiates across a boundary), the sigma part analytically:
dD/dsigma = 2 nu / sigma - 2 pwrss / sigma^3, d2D/dsigma2 = -2 nu / sigma^2 + 6 pwrss / sigma^4,
d2D/dsigma dtheta_i = -2 (dpwrss/dtheta_i) / sigma^3, d vcov / d sigma = 2 sigma (R_X'R_X)^-1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt

from lacrima.longitudinal._structure import Block, theta_lower, theta_start


class _Cross(Protocol):
    """What the optimiser needs of an evaluator (the blocked one of _lmm, the sparse one of _lmm_sparse)."""

    n: int
    p: int
    blocks: list[Block]

    def evaluate(self, theta: np.ndarray) -> Any: ...

    def evaluate_many(self, thetas: list[np.ndarray]) -> list[Any]: ...

    def rx_inverse(self, ev: Any) -> np.ndarray: ...

    def profiled(self, ev: Any, reml: bool) -> float: ...

    def profiled_parts(self, ld_l2: float, ld_rx2: float, pwrss: float, reml: bool) -> float: ...


__all__ = ["Stencil", "optimise", "satterthwaite"]

# The search's stopping rule: largest projected gradient in the scaled coordinates.
_SEARCH_GTOL = 2e-5
# The search also stops when its quasi-Newton decrement is below this times |deviance| (rounding).
_SEARCH_FLOOR = 1e-13
# A Newton step this small (relative) after a five-point stencil ends the polish.
_FINAL_STEP = 1e-6


@dataclass(frozen=True)
class _Point:
    ld: float  # ldL2
    ldx: float  # ldRX2
    pwrss: float
    rxi: np.ndarray  # (R_X'R_X)^-1


class Stencil:
    """Evaluations at theta, theta +- h_i, +- 2 h_i and theta +- (h_i e_i + h_j e_j) for the coordinates
    ``coords``. The mixed second derivatives take the two diagonal points and the axis points, which
    the gradient needs anyway: d2f/di dj = [f(+i+j) + f(-i-j) + 2 f - f(+i) - f(-i) - f(+j) - f(-j)] /
    (2 h_i h_j), O(h^2) as the four-corner formula, with half its points (InstEval's stencil: 10
    factorisations of the leading block instead of 12; the df move by < 1e-6 relative)."""

    def __init__(self, cross: _Cross, x: np.ndarray, coords: np.ndarray, five_point: bool = True) -> None:
        self.cross = cross
        self.five_point = five_point
        self.x = x.copy()
        self.coords = coords
        self.h = 1e-3 * np.maximum(np.abs(x[coords]), 0.1)
        self.ok = True
        self._pts: dict[tuple[int, ...], _Point | None] = {}
        offsets: list[tuple[tuple[int, int], ...]] = [()]
        k = len(coords)
        for i in range(k):
            for s in (1, -1, 2, -2) if five_point else (1, -1):
                offsets.append(((i, s),))
            for j in range(i):
                for sij in (1, -1):
                    offsets.append(((i, sij), (j, sij)))
        # All points at once: the evaluator may factor several on two threads.
        evs = cross.evaluate_many([self._theta(o) for o in offsets])
        for o, ev in zip(offsets, evs, strict=True):
            self._store(o, ev)
        self.center = self._pts[()]

    def _theta(self, offsets: tuple[tuple[int, int], ...]) -> np.ndarray:
        th = self.x.copy()
        for i, s in offsets:
            th[self.coords[i]] += s * self.h[i]
        return th

    def _store(self, offsets: tuple[tuple[int, int], ...], ev: Any) -> _Point | None:
        pt = None if ev is None else _Point(ev.ld_l2, ev.ld_rx2, ev.pwrss, self.cross.rx_inverse(ev))
        if pt is None:
            self.ok = False
        self._pts[tuple(v for o in offsets for v in o)] = pt
        return pt

    def _at(self, offsets: tuple[tuple[int, int], ...]) -> _Point | None:
        key = tuple(v for o in offsets for v in o)
        if key not in self._pts:
            return self._store(offsets, self.cross.evaluate(self._theta(offsets)))
        return self._pts[key]

    def derivatives(
        self, f: Callable[[_Point], float], sub: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Five-point gradient and central Hessian of f over the stencil's coordinates (or a subset)."""
        idx = np.arange(len(self.coords)) if sub is None else sub
        k = len(idx)

        def val(offsets: tuple[tuple[int, int], ...]) -> float:
            pt = self._at(offsets)
            return math.inf if pt is None else f(pt)

        f0 = val(())
        grad = np.empty(k)
        hess = np.empty((k, k))
        for a, i in enumerate(idx):
            h = self.h[i]
            up, dn = val(((i, 1),)), val(((i, -1),))
            if self.five_point:
                up2, dn2 = val(((i, 2),)), val(((i, -2),))
                grad[a] = (dn2 - 8.0 * dn + 8.0 * up - up2) / (12.0 * h)
            else:
                grad[a] = (up - dn) / (2.0 * h)
            hess[a, a] = (up - 2.0 * f0 + dn) / h**2
            for b, j in enumerate(idx[:a]):
                v = val(((i, 1), (j, 1))) + val(((i, -1), (j, -1))) + 2.0 * f0
                v -= up + dn + val(((j, 1),)) + val(((j, -1),))
                hess[a, b] = hess[b, a] = v / (2.0 * h * self.h[j])
        return grad, hess

    def rxi_gradient(self) -> list[np.ndarray]:
        """Five-point derivatives of (R_X'R_X)^-1 in each stencil coordinate."""
        out: list[np.ndarray] = []
        for i in range(len(self.coords)):
            pts = [self._at(((i, s),)) for s in (-2, -1, 1, 2)]
            if any(p is None for p in pts):
                raise ArithmeticError("the Satterthwaite stencil left the parameter space")
            m2, m1, p1, p2 = (p.rxi for p in pts if p is not None)
            out.append((m2 - 8.0 * m1 + 8.0 * p1 - p2) / (12.0 * self.h[i]))
        return out


def theta_scales(blocks: list[Block]) -> np.ndarray:
    """Per theta entry (row i of term k's factor), sqrt(L_k mean(z_i^2)): the search's coordinate scale."""
    out: list[np.ndarray] = []
    for b in blocks:
        rows, _ = np.triu_indices(b.q)[::-1]
        ms = np.mean(np.asarray(b.z, dtype=float) ** 2, axis=0) if b.z.shape[0] else np.ones(b.q)
        out.append(np.sqrt(b.n_levels * np.maximum(ms[rows], 1e-12)))
    return np.concatenate(out) if out else np.zeros(0)


def moment_start(y: np.ndarray, x: np.ndarray, blocks: list[Block]) -> np.ndarray | None:
    """theta from per-level least squares on the OLS residuals, term by term: for level l of term k with
    b_l = (Z_l'Z_l)^-1 Z_l' r, E[b_l b_l'] ~ Sigma_k + sigma^2 (Z_l'Z_l)^-1, so Sigma_k is estimated by the
    mean of b_l b_l' less sigma^2 times the mean of (Z_l'Z_l)^-1 (the other terms' effects ignored: a
    start, not an estimate); sigma^2 is the residual variance within the levels of the first term (the
    one with most levels), see :func:`_within_variance`. Eigenvalues are floored at 1% of the largest and
    theta is the Cholesky factor of Sigma_k / sigma^2 in lme4's order. None when the data do not allow it
    (no level with a regular Z_l'Z_l, no residual variance)."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ beta
    dof = len(y) - x.shape[1]
    s2 = float(r @ r) / dof if dof > 0 else 0.0
    if not s2 > 0.0:
        return None
    within = _within_variance(r, blocks[0]) if blocks else None
    if within is not None:
        s2 = within
    out: list[np.ndarray] = []
    for b in blocks:
        q = b.q
        zz, zr, ok = _level_sums(r, b)
        if not np.any(ok):
            return None
        inv = np.linalg.inv(zz[ok])
        bh = np.einsum("lij,lj->li", inv, zr[ok])
        sig = (bh.T @ bh) / int(ok.sum()) - s2 * inv.mean(axis=0)
        w, v = np.linalg.eigh((sig + sig.T) / 2.0)
        top = float(w.max())
        w = np.maximum(w, 1e-2 * top if top > 0.0 else 1e-4 * s2)
        lam = np.linalg.cholesky((v * w) @ v.T / s2)
        cols, rows = np.triu_indices(q)
        out.append(lam[rows, cols])
    start = np.concatenate(out)
    return start if np.all(np.isfinite(start)) else None


def _level_sums(r: np.ndarray, block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per level of ``block``: Z_l'Z_l (L, q, q), Z_l'r (L, q) and whether Z_l'Z_l is regular."""
    q, nl = block.q, block.n_levels
    codes = np.asarray(block.codes, dtype=np.int64)
    z = np.asarray(block.z, dtype=float)
    zz = np.empty((nl, q, q))
    zr = np.empty((nl, q))
    for i in range(q):
        zr[:, i] = np.bincount(codes, z[:, i] * r, minlength=nl)
        for j in range(i, q):
            zz[:, i, j] = zz[:, j, i] = np.bincount(codes, z[:, i] * z[:, j], minlength=nl)
    regular = np.linalg.det(zz) > 1e-8 * np.max(np.abs(zz), axis=(1, 2)) ** q
    return zz, zr, regular


def _within_variance(r: np.ndarray, block: Block) -> float | None:
    """The residual variance within the levels of ``block`` (the term with the most levels): the OLS
    residuals r fitted by least squares in each level with a regular Z_l'Z_l, pooled. The OLS residual
    variance itself also holds the random effects' variance (in the session benchmark it was four times
    the residual variance, and the start a quarter of the optimum's theta)."""
    q, nl = block.q, block.n_levels
    codes = np.asarray(block.codes, dtype=np.int64)
    counts = np.bincount(codes, minlength=nl)
    zz, zr, regular = _level_sums(r, block)
    rr = np.bincount(codes, r * r, minlength=nl)
    ok = (counts > q) & regular
    if not np.any(ok):
        return None
    bh = np.linalg.solve(zz[ok], zr[ok][:, :, None])[:, :, 0]
    rss = float(np.sum(rr[ok]) - np.sum(bh * zr[ok]))
    df = int(np.sum(counts[ok])) - q * int(ok.sum())
    return rss / df if df > 0 and rss > 0.0 else None


def _search(
    devs: Callable[[list[np.ndarray]], list[float]], x0: np.ndarray, lower: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Projected BFGS on z = scale * theta from x0 (see the module docstring); returns theta. ``devs``
    gives the deviance at several thetas (evaluated together where the evaluator can)."""
    k = len(x0)
    lo = np.where(np.isfinite(lower), lower, -np.inf) * scale
    eye = np.eye(k)

    def f(z: np.ndarray) -> float:
        return devs([z / scale])[0]

    def fs(zs: list[np.ndarray]) -> list[float]:
        return devs([z / scale for z in zs])

    def steps(rel: float, z: np.ndarray) -> np.ndarray:
        # Difference steps relative to |z|, floored at a tenth of the coordinate's scale.
        return rel * np.maximum(np.abs(z), 0.1 * scale)

    def shifted(z: np.ndarray, i: int, by: float) -> np.ndarray:
        out = z.copy()
        out[i] += by
        return out

    def grad(z: np.ndarray, f0: float) -> np.ndarray:
        h = steps(1e-6, z)
        up = fs([shifted(z, i, h[i]) for i in range(k)])
        return (np.array(up) - f0) / h

    z = np.maximum(x0 * scale, lo)
    fz = f(z)
    if not np.isfinite(fz):
        return z / scale
    hinv: np.ndarray | None = None
    # The first quasi-Newton matrix from second differences along each coordinate (2k evaluations):
    # the scaling makes the curvatures of one order, not equal, and with the identity the first steps
    # overshoot the flat directions (InstEval's departments swung from 0.01 to 0.24 and back for eight
    # iterations). Where a curvature is not positive (far from the optimum), steepest descent starts.
    # The same points give the first gradient by central differences (error O(h^2) ~ 1e-6 relative,
    # as good as forward differences at h = 1e-6), so it costs no evaluations of its own.
    h2 = steps(1e-3, z)
    if np.all(z - h2 >= lo):
        pm = fs([shifted(z, i, s * h2[i]) for i in range(k) for s in (1.0, -1.0)])
        up, dn = np.array(pm[0::2]), np.array(pm[1::2])
        g = (up - dn) / (2.0 * h2)
        diag = (up - 2.0 * fz + dn) / h2**2
        if np.all(diag > 0.0):
            hinv = np.diag(1.0 / diag)
        if not np.all(np.isfinite(g)):
            g = grad(z, fz)
    else:
        g = grad(z, fz)
    for _ in range(200):
        active = (z <= lo) & (g > 0.0)
        free = ~active
        if float(np.max(np.abs(np.where(active, 0.0, g)))) < _SEARCH_GTOL:
            break
        d = np.zeros(k)
        if hinv is not None:
            d[free] = -hinv[np.ix_(free, free)] @ g[free]
        if hinv is None or d @ g >= 0.0:
            # Steepest descent, its length a tenth of |z| (the gradient's scale says nothing yet).
            d = np.where(free, -g, 0.0)
            d *= 0.1 * max(float(np.linalg.norm(z)), 1.0) / max(float(np.linalg.norm(d)), 1e-300)
            hinv = None
        t = 1.0
        for _halving in range(40):
            trial = np.maximum(z + t * d, lo)
            ft = f(trial)
            if ft <= fz + 1e-4 * float(g @ (trial - z)):
                break
            t /= 2.0
        else:
            break
        gt = grad(trial, ft)
        step, dg = trial - z, gt - g
        curv = float(step @ dg)
        if curv > 1e-12 * float(np.linalg.norm(step) * np.linalg.norm(dg)):
            if hinv is None:
                hinv = eye * curv / float(dg @ dg)
            rho = 1.0 / curv
            hinv = (eye - rho * np.outer(step, dg)) @ hinv @ (eye - rho * np.outer(dg, step))
            hinv += rho * np.outer(step, step)
        done = abs(fz - ft) <= 1e-12 * max(abs(ft), 1.0) and float(np.max(np.abs(step))) <= 1e-9 * max(
            float(np.max(np.abs(trial))), 1.0
        )
        z, fz, g = trial, ft, gt
        if done:
            break
        if hinv is not None:
            # The predicted decrease to the optimum (the quasi-Newton decrement) below the deviance's
            # rounding: further steps only follow the noise of the difference gradient (InstEval spent
            # a fifth of its evaluations there). The Newton polish takes it from here.
            act = (z <= lo) & (g > 0.0)
            gf = np.where(act, 0.0, g)
            if float(gf @ hinv @ gf) < _SEARCH_FLOOR * max(abs(fz), 1.0):
                break
    if hinv is not None:
        # The forward differences' O(h) bias leaves the search ~1e-6 (relative) off the optimum, just
        # too far for the polish's first stencil to be its last. One quasi-Newton step on a central
        # difference gradient closes most of it (InstEval: 5 evaluations for a stencil's 13).
        hc = steps(1e-4, z)
        inner = z - hc >= lo
        idx = np.flatnonzero(inner)
        pm = fs([shifted(z, int(i), s * hc[i]) for i in idx for s in (1.0, -1.0)])
        gc = g.copy()
        gc[idx] = (np.array(pm[0::2]) - np.array(pm[1::2])) / (2.0 * hc[idx])
        free = ~((z <= lo) & (gc > 0.0))
        step = np.zeros(k)
        step[free] = -hinv[np.ix_(free, free)] @ gc[free]
        trial = np.maximum(z + step, lo)
        if f(trial) < fz:
            z = trial
    return z / scale


def _lbfgsb(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lower: np.ndarray,
    maxiter: int = 1000,
) -> sopt.OptimizeResult:
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    return sopt.minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": maxiter, "ftol": 1e-8, "gtol": 1e-3, "maxcor": 20},
    )


def optimise(
    cross: _Cross, reml: bool, start: np.ndarray | None = None
) -> tuple[np.ndarray, bool, str, Stencil | None]:
    """theta at the (RE)ML optimum, whether it converged, the optimiser's message if not, and the stencil
    of the last Newton step over every theta entry (for the Satterthwaite df). ``start`` (a moment
    estimate) is used when its deviance is below that of lme4's start."""
    blocks = cross.blocks
    lower = theta_lower(blocks)
    bounded = np.isfinite(lower)
    scale = theta_scales(blocks)
    cache: dict[bytes, float] = {}

    def devs(ths: list[np.ndarray]) -> list[float]:
        ths = [np.where(bounded, np.maximum(th, 0.0), th) for th in ths]
        keys = [th.tobytes() for th in ths]
        todo = {key: th for key, th in zip(keys, ths, strict=True) if key not in cache}
        for key, ev in zip(todo, cross.evaluate_many(list(todo.values())), strict=True):
            cache[key] = cross.profiled(ev, reml)
        return [cache[key] for key in keys]

    def dev(th: np.ndarray) -> float:
        return devs([th])[0]

    x0 = theta_start(blocks)
    if start is not None and len(start) == len(x0):
        d_start, d_x0 = devs([start, x0])
        if d_start < d_x0:
            x0 = np.where(bounded, np.maximum(start, 0.0), start)
    theta = _search(devs, x0, lower, scale)
    for _ in range(3):
        # lme4's restart_edge: the deviance is even in a diagonal entry at 0, so 0 can be a saddle.
        theta = np.where(bounded & (theta < 1e-8), 0.0, theta)
        edge = np.flatnonzero(bounded & (theta == 0.0))
        if not len(edge):
            break
        best, best_x = dev(theta), theta
        for i in edge:
            for probe in (1e-3, 1e-2, 1e-1):
                trial = theta.copy()
                trial[i] = probe
                if dev(trial) < best - 1e-10:
                    best, best_x = dev(trial), trial
        if best_x is theta:
            break
        theta = _search(devs, best_x, lower, scale)
    theta = np.where(bounded & (theta < 1e-8), 0.0, theta)
    theta, ok, stencil = _newton_polish(cross, dev, theta, lower, reml, searched=True)
    message = ""
    if not ok:
        # Far from a quadratic bowl: L-BFGS-B to its own convergence, then the Newton steps again.

        def fun(th: np.ndarray) -> tuple[float, np.ndarray]:
            f0 = dev(th)
            g = np.empty_like(th)
            for i in range(len(th)):
                up = th.copy()
                up[i] += 1e-6 * max(abs(th[i]), 0.1)
                g[i] = (dev(up) - f0) / (up[i] - th[i])
            return f0, g

        res = _lbfgsb(fun, theta, lower)
        message = str(res.message)
        theta = np.where(bounded & (np.asarray(res.x) < 1e-8), 0.0, np.asarray(res.x, dtype=float))
        theta, ok, stencil = _newton_polish(cross, dev, theta, lower, reml, searched=False)
    converged = ok and np.isfinite(dev(theta))
    return theta, converged, "" if converged else message, stencil


def _newton_polish(
    cross: _Cross,
    dev: Callable[[np.ndarray], float],
    theta: np.ndarray,
    lower: np.ndarray,
    reml: bool,
    searched: bool,
) -> tuple[np.ndarray, bool, Stencil | None]:
    bounded = np.isfinite(lower)
    x = theta.copy()
    free = np.flatnonzero(~(bounded & (x <= 0.0)))
    every = np.arange(len(x))
    stencil: Stencil | None = None
    scaled_max = math.inf

    def prof(pt: _Point) -> float:
        return cross.profiled_parts(pt.ld, pt.ldx, pt.pwrss, reml)

    if len(free) < len(x):
        g_out = np.array([(dev(x + e) - dev(x)) / 1e-6 for e in np.eye(len(x))[~np.isin(every, free)] * 1e-6])
        if np.any(g_out < -1e-3):
            return x, False, Stencil(cross, x, every)
    if not len(free):
        return x, True, Stencil(cross, x, every)
    # After a converged search theta is near the optimum: five-point stencils from the first step.
    last_step = 0.0 if searched else math.inf
    ridge = False
    for _ in range(12):
        # Three-point gradients while far from the optimum, five-point ones (and the stencil the
        # Satterthwaite df need) once the steps are small.
        stencil = Stencil(cross, x, every, five_point=last_step < 1e-3)
        g, h = stencil.derivatives(prof, sub=free)
        try:
            chol = np.linalg.cholesky(h)
            newton = True
        except np.linalg.LinAlgError:
            # Far from the optimum: a Levenberg shift makes the step a descent direction. On a ridge
            # (two variances the data cannot tell apart, e.g. one client per therapist) the smallest
            # eigenvalue is zero to rounding: the shifted factor then judges the gradient, as lme4 does
            # not distinguish such a flat optimum from a regular one either.
            newton = False
            eig = np.linalg.eigvalsh(h)
            ridge = bool(eig[0] > -1e-6 * max(float(eig[-1]), 0.0))
            shift = abs(float(eig[0])) + 1e-3 * float(np.max(np.abs(np.diag(h))))
            chol = np.linalg.cholesky(h + shift * np.eye(len(free)))
        scaled = sla.solve_triangular(chol, g, lower=True, check_finite=False)
        scaled_max = float(np.max(np.abs(scaled))) if newton or ridge else math.inf
        step = -sla.solve_triangular(chol.T, scaled, lower=False, check_finite=False)
        f0 = dev(x)
        for _halving in range(10):
            trial = x.copy()
            trial[free] += step
            if not np.any(trial[bounded] < 0.0) and dev(trial) <= f0 + 1e-12 * max(1.0, abs(f0)):
                break
            step = step / 2.0
        else:
            break
        x = trial
        last_step = float(np.max(np.abs(step) / np.maximum(np.abs(x[free]), 0.1)))
        # Newton converges quadratically: after a step this small the next is at rounding level, and the
        # stencil just taken is at the optimum to that precision.
        if (newton or ridge) and stencil.five_point and last_step < _FINAL_STEP:
            break
    if stencil is None or not stencil.five_point:
        stencil = Stencil(cross, x, every)
    return x, scaled_max < 2e-3, stencil


def satterthwaite(cross: _Cross, stencil: Stencil, sigma: float, reml: bool) -> np.ndarray:
    """Satterthwaite df per fixed effect from the stencil at the optimum (see the module docstring)."""
    nu = cross.n - cross.p if reml else cross.n
    s2 = sigma * sigma

    def core(pt: _Point) -> float:
        return pt.ld + (pt.ldx if reml else 0.0) + pt.pwrss / s2

    _, h_tt = stencil.derivatives(core)
    g_pw, _ = stencil.derivatives(lambda pt: pt.pwrss)
    c = stencil.center
    if c is None:
        raise ArithmeticError("the optimum is not positive definite")
    k = len(stencil.coords)
    hess = np.empty((k + 1, k + 1))
    hess[:k, :k] = h_tt
    hess[:k, k] = hess[k, :k] = -2.0 * g_pw / sigma**3
    hess[k, k] = -2.0 * nu / s2 + 6.0 * c.pwrss / s2**2
    a_cov = 2.0 * np.linalg.pinv(hess)
    grads = [s2 * d for d in stencil.rxi_gradient()] + [2.0 * sigma * c.rxi]
    v = s2 * c.rxi
    out = np.empty(cross.p)
    for j in range(cross.p):
        g = np.array([gk[j, j] for gk in grads])
        out[j] = 2.0 * v[j, j] ** 2 / float(g @ a_cov @ g)
    return out
