"""The optimiser of the LMM engine and lmerTest's Satterthwaite degrees of freedom.

The profiled deviance d(theta) of :mod:`._lmm` is minimised in three steps:

1. L-BFGS-B on theta (diagonal entries of each factor >= 0) from lme4's start, with forward-difference
   gradients: a cheap search to the neighbourhood of the optimum;
2. lme4's ``restart_edge``: a diagonal entry that ended on its bound 0 is moved off it (1e-3, 1e-2, 0.1)
   and the search restarted if the deviance is lower there (at theta_i = 0 the deviance is even in
   theta_i, so a gradient method can stall on a saddle);
3. Newton steps on the coordinates off the bound with a central-difference Hessian and a five-point
   gradient on a stencil of step h_i = 1e-3 max(|theta_i|, 0.1) (error O(h^4) in the gradient: rounding in
   the deviance, ~1e-15 relative with centred data, moves the slope by less than 1e-8). Convergence is
   lme4's criterion: the gradient scaled by the Hessian's Cholesky factor below 2e-3, coordinates on the
   bound with an outward gradient.

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

    def rx_inverse(self, ev: Any) -> np.ndarray: ...

    def profiled(self, ev: Any, reml: bool) -> float: ...

    def profiled_parts(self, ld_l2: float, ld_rx2: float, pwrss: float, reml: bool) -> float: ...


__all__ = ["Stencil", "optimise", "satterthwaite"]

# Iterations of the L-BFGS-B search before the Newton steps (the search is cheap per iteration but slow
# to converge on badly scaled theta; Newton with a stencil costs 2k^2 + 4k + 1 evaluations a step).
_SEARCH_ITERATIONS = 1


@dataclass(frozen=True)
class _Point:
    ld: float  # ldL2
    ldx: float  # ldRX2
    pwrss: float
    rxi: np.ndarray  # (R_X'R_X)^-1


class Stencil:
    """Evaluations at theta and theta +- h_i, +- 2 h_i, +- h_i +- h_j for the coordinates ``coords``."""

    def __init__(self, cross: _Cross, x: np.ndarray, coords: np.ndarray, five_point: bool = True) -> None:
        self.cross = cross
        self.five_point = five_point
        self.x = x.copy()
        self.coords = coords
        self.h = 1e-3 * np.maximum(np.abs(x[coords]), 0.1)
        self.ok = True
        self._pts: dict[tuple[int, ...], _Point | None] = {}
        self.center = self._at(())
        k = len(coords)
        for i in range(k):
            for s in (1, -1, 2, -2) if five_point else (1, -1):
                self._at(((i, s),))
            for j in range(i):
                for si in (1, -1):
                    for sj in (1, -1):
                        self._at(((i, si), (j, sj)))

    def _at(self, offsets: tuple[tuple[int, int], ...]) -> _Point | None:
        key = tuple(v for o in offsets for v in o)
        if key not in self._pts:
            th = self.x.copy()
            for i, s in offsets:
                th[self.coords[i]] += s * self.h[i]
            ev = self.cross.evaluate(th)
            pt = None if ev is None else _Point(ev.ld_l2, ev.ld_rx2, ev.pwrss, self.cross.rx_inverse(ev))
            if pt is None:
                self.ok = False
            self._pts[key] = pt
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
                v = val(((i, 1), (j, 1))) - val(((i, 1), (j, -1))) - val(((i, -1), (j, 1)))
                v += val(((i, -1), (j, -1)))
                hess[a, b] = hess[b, a] = v / (4.0 * h * self.h[j])
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


def _fd_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Forward differences (one-sided towards the interior) for the optimiser's search."""
    g = np.empty_like(x)
    f0 = f(x)
    for i in range(len(x)):
        h = 1e-7 * max(abs(x[i]), 0.1)
        up = x.copy()
        up[i] += h
        g[i] = (f(up) - f0) / h
    return g


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


def optimise(cross: _Cross, reml: bool) -> tuple[np.ndarray, bool, str, Stencil | None]:
    """theta at the (RE)ML optimum, whether it converged, the optimiser's message if not, and the stencil
    of the last Newton step over every theta entry (for the Satterthwaite df)."""
    blocks = cross.blocks
    lower = theta_lower(blocks)
    bounded = np.isfinite(lower)
    cache: dict[bytes, float] = {}

    def dev(th: np.ndarray) -> float:
        th = np.where(bounded, np.maximum(th, 0.0), th)
        key = th.tobytes()
        if key not in cache:
            cache[key] = cross.profiled(cross.evaluate(th), reml)
        return cache[key]

    def fun(th: np.ndarray) -> tuple[float, np.ndarray]:
        return dev(th), _fd_gradient(dev, th, lower)

    res = _lbfgsb(fun, theta_start(blocks), lower)
    theta = np.asarray(res.x, dtype=float)
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
        theta = np.asarray(_lbfgsb(fun, best_x, lower).x, dtype=float)
    theta = np.where(bounded & (theta < 1e-8), 0.0, theta)
    theta, ok, stencil = _newton_polish(cross, dev, theta, lower, reml)
    message = ""
    if not ok:
        # Far from a quadratic bowl: a full quasi-Newton search, then the Newton steps again.
        res = _lbfgsb(fun, theta, lower)
        message = str(res.message)
        theta = np.where(bounded & (np.asarray(res.x) < 1e-8), 0.0, np.asarray(res.x, dtype=float))
        theta, ok, stencil = _newton_polish(cross, dev, theta, lower, reml)
    converged = ok and np.isfinite(dev(theta))
    return theta, converged, "" if converged else message, stencil


def _newton_polish(
    cross: _Cross, dev: Callable[[np.ndarray], float], theta: np.ndarray, lower: np.ndarray, reml: bool
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
    last_step = math.inf
    for _ in range(12):
        # Three-point gradients while far from the optimum, five-point ones (and the stencil the
        # Satterthwaite df need) once the steps are small.
        stencil = Stencil(cross, x, every, five_point=last_step < 1e-3)
        g, h = stencil.derivatives(prof, sub=free)
        try:
            chol = np.linalg.cholesky(h)
            newton = True
        except np.linalg.LinAlgError:
            # Far from the optimum: a Levenberg shift makes the step a descent direction.
            newton = False
            shift = abs(float(np.min(np.linalg.eigvalsh(h)))) + 1e-3 * float(np.max(np.abs(np.diag(h))))
            chol = np.linalg.cholesky(h + shift * np.eye(len(free)))
        scaled = sla.solve_triangular(chol, g, lower=True, check_finite=False)
        scaled_max = float(np.max(np.abs(scaled))) if newton else math.inf
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
        if newton and stencil.five_point and last_step < 1e-7:
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
