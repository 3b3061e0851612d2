"""The numerical engine behind :func:`lacrima.mixed`: lacrima's own, on numpy and scipy.

lacrima builds the model matrices itself (names, contrasts, missing data) and hands the engine plain
numeric columns: the response, the fixed-effects matrix and one :class:`Block` per random term (its
columns, integer group codes and number of levels, in lme4's order of terms). :func:`fit` dispatches:

- ``family="gaussian"``: profiled REML or ML in lme4's parametrisation with the block structure of the
  random effects exploited, Satterthwaite degrees of freedom as lmerTest (:mod:`._lmm`);
- ``family="binomial"``: PIRLS and the Laplace approximation, or adaptive Gauss-Hermite quadrature for one
  scalar random effect (``nagq > 1``), as glmer (:mod:`._glmm`).

Both return an :class:`EngineFit` in lacrima's order of fixed effects and random blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lacrima.errors import DataError
from lacrima.longitudinal._structure import Block

__all__ = ["Block", "EngineFit", "fit"]


@dataclass(frozen=True)
class EngineFit:
    """What the engine returns, in lacrima's own order of fixed effects and random blocks.

    ``ranef`` holds per term an (L_k, q_k) array of conditional modes b = Lambda u; ``ranef_condvar`` per
    term an (L_k, q_k, q_k) array of their conditional covariances given the data at the estimates (as
    lme4's ``ranef(fit, condVar = TRUE)``), empty where not computed.
    """

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
    ranef_condvar: list[np.ndarray] = field(default_factory=list)


def check_dimensions(n: int, blocks: list[Block]) -> None:
    """lme4's checks before a fit (``check.nobs.vs.nlev`` and ``check.nobs.vs.nRE``, both "stop")."""
    too_many = [k for k, b in enumerate(blocks) if b.n_levels >= n]
    if too_many:
        raise DataError(
            f"number of levels of each grouping factor must be < number of observations (here {n}); as "
            "lme4, a random effect per observation cannot be told from the residual; drop the term or use "
            "a model without it"
        )
    n_re = sum(b.q * b.n_levels for b in blocks)
    if n <= n_re:
        raise DataError(
            f"number of observations (={n}) <= number of random effects (={n_re}); as lme4, the random "
            "effects variances and the residual variance are probably unidentifiable; simplify the random "
            "part (e.g. drop a random slope)"
        )


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
    from lacrima.longitudinal._lmm import fit_lmm

    check_dimensions(int(y.shape[0]), blocks)
    res = fit_lmm(y, x, blocks, reml)
    return EngineFit(
        beta=res.beta,
        vcov=res.vcov,
        ddf=res.ddf,
        covs=res.covs,
        sigma2=res.sigma2,
        loglik=res.loglik,
        converged=res.converged,
        singular=res.singular,
        ranef=res.ranef,
        ntheta=len(res.theta),
        message=res.message,
        ranef_condvar=res.condvar,
    )
