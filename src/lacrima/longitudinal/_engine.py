"""The numerical engine behind :func:`lacrima.mixed`: an adapter over the ``mixedlm`` package.

lacrima builds the model matrices itself (names, contrasts, missing data) and hands the engine plain
numeric columns, so that the engine can be replaced without touching the public API. What is taken from
``mixedlm`` (and checked against lme4/lmerTest in ``tests/longitudinal``): the profiled (RE)ML fit of linear
mixed models, the Laplace fit of binomial GLMMs, conditional modes, and Satterthwaite degrees of freedom.
What is done here because ``mixedlm`` differs from lme4: the covariance of GLMM fixed effects, which lme4
takes from the numerical Hessian of the Laplace deviance in (theta, beta) rather than from the
conditional estimate (about 3 % smaller standard errors in mixedlm 1.3.0).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lacrima.longitudinal._structure import Block

__all__ = ["Block", "EngineFit", "fit"]


@dataclass(frozen=True)
class EngineFit:
    """What the engine returns, in lacrima's own order of fixed effects and random blocks."""

    beta: np.ndarray
    vcov: np.ndarray
    ddf: np.ndarray | None
    covs: list[np.ndarray]
    sigma2: float | None
    loglik: float
    converged: bool
    singular: bool
    ranef: list[np.ndarray]
    ntheta: int
    message: str


def _engine_frame(
    y: np.ndarray, x: np.ndarray, x_intercept: bool, blocks: list[Block]
) -> tuple[pd.DataFrame, str, list[str]]:
    data: dict[str, np.ndarray] = {"y": y}
    start = 1 if x_intercept else 0
    fixed = [f"x{j}" for j in range(start, x.shape[1])]
    for j in range(start, x.shape[1]):
        data[f"x{j}"] = x[:, j]
    rhs = ["1" if x_intercept else "0", *fixed]
    for k, b in enumerate(blocks):
        zstart = 1 if b.intercept else 0
        names = [f"z{k}_{j}" for j in range(zstart, b.z.shape[1])]
        for j in range(zstart, b.z.shape[1]):
            data[f"z{k}_{j}"] = b.z[:, j]
        # Integer codes: the engine sorts them numerically, so its level order is lacrima's.
        data[f"g{k}"] = b.codes.astype(np.int64)
        lhs = " + ".join(["1" if b.intercept else "0", *names])
        rhs.append(f"({lhs} | g{k})")
    return pd.DataFrame(data), "y ~ " + " + ".join(rhs), fixed


def _ranef(model: object, blocks: list[Block]) -> list[np.ndarray]:
    modes = model.ranef()  # type: ignore[attr-defined]
    structures = {s.grouping_factor: s for s in model.matrices.random_structures}  # type: ignore[attr-defined]
    out: list[np.ndarray] = []
    for k in range(len(blocks)):
        s = structures[f"g{k}"]
        order = np.array([s.level_map[key] for key in sorted(s.level_map, key=int)])
        cols = [np.asarray(modes[f"g{k}"][name], dtype=float)[order] for name in s.term_names]
        out.append(np.column_stack(cols))
    return out


def _covs(model: object, blocks: list[Block]) -> list[np.ndarray]:
    groups = model.VarCorr().groups  # type: ignore[attr-defined]
    return [np.atleast_2d(np.asarray(groups[f"g{k}"].cov, dtype=float)) for k in range(len(blocks))]


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central-difference Hessian with step ``h[i]`` in parameter i."""
    n = len(x)
    out = np.zeros((n, n))
    f0 = f(x)
    step = np.diag(h)
    for i in range(n):
        out[i, i] = (f(x + step[i]) - 2.0 * f0 + f(x - step[i])) / h[i] ** 2
        for j in range(i):
            v = (
                f(x + step[i] + step[j])
                - f(x + step[i] - step[j])
                - f(x - step[i] + step[j])
                + f(x - step[i] - step[j])
            ) / (4.0 * h[i] * h[j])
            out[i, j] = out[j, i] = v
    return out


def _relative_steps(x: np.ndarray) -> np.ndarray:
    # 1e-3 relative: truncation error ~1e-6 and rounding error negligible for deviances up to ~1e7.
    return 1e-3 * np.maximum(np.abs(x), 1e-2)


def _satterthwaite(model: object, reml: bool, theta: np.ndarray, sigma: float, n: int, p: int) -> np.ndarray:
    """Satterthwaite df per coefficient as lmerTest: variance parameters (theta, sigma), the Hessian of the
    unprofiled (RE)ML deviance for their covariance, and the Jacobian of the fixed-effect covariance.

    mixedlm's own ``satterthwaite_df`` profiles sigma out and differs from lmerTest by ~1e-3 on ML fits.
    """
    from mixedlm.estimation.reml import LMMOptimizer

    evaluator = LMMOptimizer(model.matrices, REML=reml)  # type: ignore[attr-defined]
    cache: dict[bytes, Any] = {}

    def core(th: np.ndarray) -> Any:
        key = th.tobytes()
        if key not in cache:
            cache[key] = evaluator._evaluate_core(np.asarray(th, dtype=float))
        return cache[key]

    dof = n - p if reml else n

    def deviance(vp: np.ndarray) -> float:
        c = core(vp[:-1])
        s2 = vp[-1] ** 2
        dev = c.ldL2 + dof * np.log(2.0 * np.pi * s2) + c.pwrss / s2
        return float(dev + (c.ldRX2 if reml else 0.0))

    def covbeta(vp: np.ndarray) -> np.ndarray:
        info = np.asarray(core(vp[:-1]).fixed_information, dtype=float)
        return vp[-1] ** 2 * np.linalg.inv((info + info.T) / 2.0)

    vp0 = np.concatenate([theta, [sigma]])
    steps = _relative_steps(vp0)
    hess = _hessian(deviance, vp0, steps)
    a_cov = 2.0 * np.linalg.pinv(hess)
    # Jacobian of cov(beta) in each variance parameter (central differences).
    grads = []
    for k in range(len(vp0)):
        up = vp0.copy()
        dn = vp0.copy()
        up[k] += steps[k]
        dn[k] -= steps[k]
        grads.append((covbeta(up) - covbeta(dn)) / (2.0 * steps[k]))
    v = covbeta(vp0)
    out = np.empty(p)
    for i in range(p):
        g = np.array([gk[i, i] for gk in grads])
        out[i] = 2.0 * v[i, i] ** 2 / float(g @ a_cov @ g)
    return out


def fit(
    y: np.ndarray,
    x: np.ndarray,
    x_intercept: bool,
    blocks: list[Block],
    family: str,
    reml: bool,
    nagq: int = 1,
) -> EngineFit:
    """Fit a linear (``family="gaussian"``) or logistic (``"binomial"``) mixed model."""
    if family == "binomial":
        from lacrima.longitudinal._glmm import fit_glmm

        return fit_glmm(y, x, x_intercept, blocks, nagq=nagq)
    import mixedlm

    frame, formula, _ = _engine_frame(y, x, x_intercept, blocks)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model: Any
        if family == "gaussian":
            model = mixedlm.lmer(formula, frame, REML=reml)
        else:
            model = mixedlm.glmer(formula, frame, family=mixedlm.families.Binomial(), nAGQ=1)
    messages = [str(w.message) for w in caught]
    theta = np.asarray(model.theta, dtype=float)
    beta = np.asarray(model.beta, dtype=float)
    ddf: np.ndarray | None = None
    sigma2: float | None = None
    if family == "gaussian":
        vcov = np.asarray(model.vcov(), dtype=float)
        sigma2 = float(model.sigma) ** 2
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                ddf = _satterthwaite(model, reml, theta, float(model.sigma), y.shape[0], x.shape[1])
            except (ValueError, ArithmeticError, AttributeError, np.linalg.LinAlgError) as exc:
                messages.append(f"Satterthwaite df failed: {exc}")
                ddf = np.full(len(beta), np.nan)
    else:
        vcov = _glmm_vcov(mixedlm, formula, frame, theta, beta)
    return EngineFit(
        beta=beta,
        vcov=vcov,
        ddf=ddf,
        covs=_covs(model, blocks),
        sigma2=sigma2,
        loglik=float(model.logLik().value),
        converged=bool(model.converged),
        singular=bool(model.isSingular()),
        ranef=_ranef(model, blocks),
        ntheta=len(theta),
        message="; ".join(messages),
    )


def _glmm_vcov(
    mixedlm: object, formula: str, frame: pd.DataFrame, theta: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """Fixed-effect covariance as lme4's ``vcov(use.hessian = TRUE)``: the beta block of 2 H^-1."""
    parsed = mixedlm.glFormula(formula, frame, family=mixedlm.families.Binomial())  # type: ignore[attr-defined]
    devfun = mixedlm.mkGlmerDevfun(parsed)  # type: ignore[attr-defined]
    x0 = np.concatenate([theta, beta])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        # lme4's deriv12 step (1e-4, absolute).
        hess = _hessian(lambda v: float(devfun(v)), x0, np.full(len(x0), 1e-4))
    nth = len(theta)
    try:
        full = np.linalg.inv(hess)
        v = 2.0 * full[nth:, nth:]
        v = (v + v.T) / 2.0
        if np.all(np.isfinite(v)) and np.all(np.linalg.eigvalsh(v) > 0):
            return v
    except np.linalg.LinAlgError:
        pass
    # At a boundary (theta = 0) the Hessian can be singular; lme4 then falls back to the conditional
    # estimate too (with a warning), which is the beta-only Hessian.
    hb = hess[nth:, nth:]
    return 2.0 * np.linalg.inv(hb)
