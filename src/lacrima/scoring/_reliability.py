"""Internal consistency: Cronbach's alpha with Feldt's interval, McDonald's omega total, item-total table."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lacrima import _dist
from lacrima._deprecation import warn_renamed
from lacrima._results import Result
from lacrima.errors import ConvergenceWarning, DataError, LacrimaWarning, Problem, SingularDataWarning
from lacrima.instruments import Instrument
from lacrima.scoring._validate import as_instrument, item_values

__all__ = ["OneFactorFit", "ReliabilityResult", "fit_one_factor", "reliability"]


@dataclass(frozen=True, eq=False)
class OneFactorFit:
    """Maximum-likelihood one-factor model of a covariance matrix (factor variance fixed to 1)."""

    loadings: np.ndarray
    residual_variances: np.ndarray
    fmin: float
    converged: bool
    heywood: bool


# The optimiser's settings. _GTOL is the tolerance scipy's BFGS was run with before (largest absolute
# gradient in the (loadings, log residual variances) parameters); a fit whose gradient ends below
# _CONVERGED_GTOL is taken as converged even if rounding stopped it short of _GTOL, as before.
_GTOL = 1e-10
_CONVERGED_GTOL = 1e-6
_MAX_ITER = 200
_MAX_HALVINGS = 40
_ARMIJO = 1e-4
_MAX_LOG_STEP = 5.0


@dataclass(frozen=True, eq=False)
class _Point:
    """The ML discrepancy and its gradient at ``theta``, with the matrices its derivatives reuse."""

    theta: np.ndarray
    f: float
    grad: np.ndarray
    inv: np.ndarray  # Sigma^-1
    inv_s_inv: np.ndarray  # Sigma^-1 S Sigma^-1


def _evaluate(theta: np.ndarray, s: np.ndarray, logdet_s: float) -> _Point | None:
    """ML discrepancy ``log|Sigma| + tr(S Sigma^-1) - log|S| - p`` and its gradient, or None.

    Parameters are the loadings and the logs of the residual variances, so that variances stay positive.
    None means the point is unusable: a non-finite parameter or value, or a Sigma that is not positive
    definite (a residual variance that underflowed to zero).
    """
    if not np.all(np.isfinite(theta)):
        return None
    p = s.shape[0]
    lam = theta[:p]
    psi = np.exp(theta[p:])
    sigma = np.outer(lam, lam)
    sigma.flat[:: p + 1] += psi
    try:
        chol = np.linalg.cholesky(sigma)
        inv = np.linalg.inv(sigma)
    except np.linalg.LinAlgError:
        return None
    inv_s = inv @ s
    f = 2.0 * float(np.sum(np.log(np.diag(chol)))) + float(np.trace(inv_s)) - logdet_s - p
    inv_s_inv = inv_s @ inv
    w = inv - inv_s_inv
    grad = np.concatenate([2.0 * w @ lam, np.diag(w) * psi])
    if not (np.isfinite(f) and np.all(np.isfinite(grad))):
        return None
    return _Point(theta=theta, f=f, grad=grad, inv=inv, inv_s_inv=inv_s_inv)


def _curvatures(pt: _Point) -> tuple[np.ndarray, np.ndarray]:
    """Exact Hessian and a positive semi-definite Fisher-scoring matrix of the discrepancy at ``pt``.

    With ``A = Sigma^-1``, ``B = Sigma^-1 S Sigma^-1`` and ``W = A - B`` (so that ``dF = tr(W dSigma)``),
    ``d2F = 2 tr(A dSigma_1 B dSigma_2) - tr(A dSigma_1 A dSigma_2) + tr(W d2Sigma)``; the expected
    information is ``tr(A dSigma_1 A dSigma_2)`` (the value of the Hessian where ``S = Sigma``). Both are
    taken to the (loadings, log psi) parameters by the chain rule. The Fisher matrix gets ``|dF/dlog psi|``
    on its diagonal in place of the chain rule's signed term, which keeps the steps in ``log psi`` bounded
    when a residual variance heads for zero (a Heywood case).
    """
    p = pt.inv.shape[0]
    lam = pt.theta[:p]
    psi = np.exp(pt.theta[p:])
    a, b = pt.inv, pt.inv_s_inv
    a_lam, b_lam = a @ lam, b @ lam
    lam_a_lam, lam_b_lam = float(lam @ a_lam), float(lam @ b_lam)
    g_log_psi = pt.grad[p:]
    # tr(X dSigma_1 Y dSigma_2) for loadings i, j: x_i y_j + y_i x_j + (lam'Y lam) X_ij + (lam'X lam) Y_ij
    # (x = X lam); for loading i and residual variance j: X_ij y_j + x_j Y_ij; for variances: X_ij Y_ij.
    cross_ab = np.outer(a_lam, b_lam)
    t_ab_ll = cross_ab + cross_ab.T + lam_b_lam * a + lam_a_lam * b
    t_aa_ll = 2.0 * np.outer(a_lam, a_lam) + 2.0 * lam_a_lam * a
    t_ab_lp = a * b_lam + b * a_lam
    t_aa_lp = 2.0 * a * a_lam
    t_ab_pp = a * b
    t_aa_pp = a * a
    psi_psi = np.outer(psi, psi)

    def assemble(ll: np.ndarray, lp: np.ndarray, pp: np.ndarray, log_diag: np.ndarray) -> np.ndarray:
        out = np.empty((2 * p, 2 * p))
        out[:p, :p] = ll
        out[:p, p:] = lp * psi
        out[p:, :p] = out[:p, p:].T
        out[p:, p:] = pp * psi_psi
        out.flat[p * (2 * p + 1) :: 2 * p + 1] += log_diag
        return out

    hessian = assemble(
        2.0 * t_ab_ll - t_aa_ll + 2.0 * (a - b), 2.0 * t_ab_lp - t_aa_lp, 2.0 * t_ab_pp - t_aa_pp, g_log_psi
    )
    fisher = assemble(t_aa_ll, t_aa_lp, t_aa_pp, np.abs(g_log_psi))
    return hessian, fisher


def _direction(pt: _Point) -> np.ndarray:
    """Newton step where the Hessian is positive definite, else a Fisher-scoring step, else descent."""
    for matrix in _curvatures(pt):
        if not np.all(np.isfinite(matrix)):
            continue
        try:
            np.linalg.cholesky(matrix)
            step = np.linalg.solve(matrix, -pt.grad)
        except np.linalg.LinAlgError:
            continue
        if np.all(np.isfinite(step)) and float(pt.grad @ step) < 0:
            return step
    return -pt.grad


def _minimise(theta0: np.ndarray, s: np.ndarray, logdet_s: float, max_iter: int) -> _Point:
    """Damped Newton / Fisher scoring with step halving, to a largest absolute gradient below _GTOL.

    Stops early, at the best point found, when no step along the direction lowers the discrepancy (at the
    optimum rounding does that); the caller judges convergence by the gradient.
    """
    p = s.shape[0]
    pt = _evaluate(theta0, s, logdet_s)
    if pt is None:
        raise DataError(
            "the one-factor model for omega could not be started from the items' covariance matrix "
            "(non-finite values); check the items for extreme or constant values"
        )
    # Differences of f below this are rounding: near the optimum a Newton step is then judged by whether
    # it shrinks the gradient.
    noise = 1e-14 * (1.0 + abs(logdet_s) + p)
    for _ in range(max_iter):
        gmax = float(np.max(np.abs(pt.grad)))
        if gmax < _GTOL:
            break
        step = _direction(pt)
        biggest_log = float(np.max(np.abs(step[p:])))
        if biggest_log > _MAX_LOG_STEP:
            step = step * (_MAX_LOG_STEP / biggest_log)
        slope = float(pt.grad @ step)
        size = 1.0
        accepted: _Point | None = None
        for _ in range(_MAX_HALVINGS):
            trial = _evaluate(pt.theta + size * step, s, logdet_s)
            if trial is not None and (
                trial.f <= pt.f + _ARMIJO * size * slope
                or (trial.f <= pt.f + noise and float(np.max(np.abs(trial.grad))) < gmax)
            ):
                accepted = trial
                break
            size /= 2.0
        if accepted is None:
            break
        pt = accepted
    return pt


def fit_one_factor(cov: np.ndarray, *, max_iter: int = _MAX_ITER) -> OneFactorFit:
    """Fit a one-factor model by maximum likelihood to a covariance matrix.

    Minimises ``log|Sigma| + tr(S Sigma^-1) - log|S| - p`` with ``Sigma = lambda lambda' + diag(psi)`` over
    the loadings and ``log psi`` (residual variances stay positive), starting from the principal-axis
    solution, by Newton's method with the analytic gradient and Hessian (Fisher scoring where the Hessian
    is not positive definite) and step halving, until the largest absolute gradient is below 1e-10.
    ``fmin`` is half the minimum, as lavaan reports it. The sign is chosen so that the loadings sum to a
    positive number. ``converged`` is False when the gradient is still above 1e-6 after ``max_iter``
    iterations or when no step lowers the discrepancy before that.

    Notes
    -----
    This replaced ``scipy.optimize.minimize(method="BFGS", gtol=1e-10)``: same minimum, fewer iterations,
    and no import of ``scipy.optimize`` on the report's path. BFGS often stopped on rounding with gradients
    near 1e-8, so its loadings differed from these by up to about 2e-8 (omega by 3e-9).
    """
    s = np.asarray(cov, dtype=float)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise DataError(f"a covariance matrix must be square, got an array of shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise DataError(
            "the items' covariance matrix has missing or infinite values; omega cannot be estimated"
        )
    if max_iter < 1:
        raise DataError(f"max_iter must be a positive number of iterations, not {max_iter!r}")
    p = s.shape[0]
    sign, logdet_s = np.linalg.slogdet(s)
    try:
        np.linalg.cholesky(s)
        positive_definite = sign > 0
    except np.linalg.LinAlgError:
        positive_definite = False
    if not positive_definite:
        raise DataError(
            "the items' covariance matrix is singular (an item is a linear combination of others, or "
            "there are fewer complete cases than items); omega cannot be estimated"
        )
    d = np.sqrt(np.diag(s))
    r = s / np.outer(d, d)
    smc = 1.0 - 1.0 / np.diag(np.linalg.inv(r))
    reduced = r - np.diag(1.0 - smc)
    w, v = np.linalg.eigh(reduced)
    lam0 = v[:, -1] * np.sqrt(max(w[-1], 1e-3)) * d
    psi0 = np.maximum(np.diag(s) - lam0**2, 0.05 * np.diag(s))
    theta0 = np.concatenate([lam0, np.log(psi0)])
    best = _minimise(theta0, s, float(logdet_s), max_iter)
    converged = bool(np.max(np.abs(best.grad)) < _CONVERGED_GTOL)
    lam = best.theta[:p].copy()
    psi = np.exp(best.theta[p:])
    if lam.sum() < 0:
        lam = -lam
    heywood = bool(np.any(psi < 1e-4 * np.diag(s)))
    return OneFactorFit(
        loadings=lam, residual_variances=psi, fmin=best.f / 2.0, converged=converged, heywood=heywood
    )


def _positive_definite(cov: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return False
    return bool(np.linalg.slogdet(cov)[0] > 0)


def _alpha(cov: np.ndarray) -> float:
    k = cov.shape[0]
    return float(k / (k - 1) * (1.0 - np.trace(cov) / cov.sum()))


def _feldt(alpha: float, n: int, k: int, level: float) -> tuple[float, float]:
    a = 1.0 - level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    low = 1.0 - (1.0 - alpha) * _dist.f_ppf(1.0 - a / 2.0, df1, df2)
    high = 1.0 - (1.0 - alpha) * _dist.f_ppf(a / 2.0, df1, df2)
    return float(low), float(high)


@dataclass(frozen=True, eq=False)
class ReliabilityResult(Result):
    """Internal consistency of a set of items.

    Attributes
    ----------
    items : tuple of str
        Item columns, in the order given.
    reverse : tuple of str
        Items that were reverse-keyed before the computation.
    n : int
        Complete cases used.
    n_excluded : int
        Rows left out because at least one item was missing.
    alpha : float
        Cronbach's alpha on the raw (covariance) metric.
    std_alpha : float
        Standardised alpha (from the correlation matrix).
    alpha_ci : tuple of float
        Feldt's F-based interval for alpha at ``level``.
    level : float
        Coverage of ``alpha_ci`` (``ci_level`` before 0.2: a deprecated alias until 0.3).
    omega_total : float
        McDonald's omega total from a one-factor ML model (NaN with two items).
    item_total : DataFrame
        Per item (index): ``mean``, ``sd``, ``r_drop`` (corrected item-total correlation),
        ``alpha_if_dropped``, ``std_alpha_if_dropped``, ``loading``, ``residual_variance``.
    """

    items: tuple[str, ...]
    reverse: tuple[str, ...]
    n: int
    n_excluded: int
    alpha: float
    std_alpha: float
    alpha_ci: tuple[float, float]
    level: float
    omega_total: float
    item_total: pd.DataFrame

    @property
    def ci_level(self) -> float:
        """Deprecated: the coverage of ``alpha_ci`` is :attr:`level`."""
        warn_renamed("ReliabilityResult.ci_level", ".level", stacklevel=2)
        return self.level

    def table(self, which: Literal["summary", "items"] = "summary") -> pd.DataFrame:
        """``"summary"``: rows alpha, std_alpha, omega_total with ``estimate, ci_low, ci_high, n,
        n_excluded``; ``"items"``: the item-total table."""
        if which == "items":
            return self.item_total.copy()
        if which != "summary":
            raise DataError(f"table() takes 'summary' or 'items', not {which!r}")
        nan = float("nan")
        return pd.DataFrame(
            {
                "estimate": [self.alpha, self.std_alpha, self.omega_total],
                "ci_low": [self.alpha_ci[0], nan, nan],
                "ci_high": [self.alpha_ci[1], nan, nan],
                "n": [self.n] * 3,
                "n_excluded": [self.n_excluded] * 3,
            },
            index=pd.Index(["alpha", "std_alpha", "omega_total"], name="statistic"),
        )


def _from_instrument(
    instrument: str | Instrument, subscale: str | None
) -> tuple[list[str], list[str], tuple[float, float]]:
    inst = as_instrument(instrument)
    if subscale is None:
        if len(inst.subscales) != 1:
            raise DataError(
                f"{inst.id} has subscales {', '.join(inst.subscales)}; say which one with subscale=..."
            )
        subscale = next(iter(inst.subscales))
    if subscale not in inst.subscales:
        raise DataError(
            f"{inst.id} has no subscale {subscale!r}; its subscales are {', '.join(inst.subscales)}"
        )
    columns = inst.subscale_columns(subscale)
    reverse = [c for c in columns if inst.item(c).reverse]
    return columns, reverse, (inst.scale.min, inst.scale.max)


def reliability(
    df: pd.DataFrame,
    items: Sequence[str] | None = None,
    reverse: Sequence[str] = (),
    scale: tuple[float, float] | None = None,
    *,
    instrument: str | Instrument | None = None,
    subscale: str | None = None,
    level: float = 0.95,
    ci_level: float | None = None,
) -> ReliabilityResult:
    """Cronbach's alpha (with Feldt's interval), McDonald's omega total and an item-total table.

    Parameters
    ----------
    df : DataFrame
        Item responses, one row per respondent.
    items : sequence of str
        Item columns (at least two; three for omega). Not needed with ``instrument``.
    reverse : sequence of str
        Items to reverse-key as ``lo + hi - x``; needs ``scale``.
    scale : (lo, hi), optional
        Response scale; values outside it are an error.
    instrument, subscale : optional
        Take the items, reverse keys and scale from an instrument's subscale instead
        (``reliability(df, instrument="ecr_r", subscale="anxiety")``).
    level : float, default 0.95
        Coverage of the interval for alpha.
    ci_level : float, optional
        Deprecated name of ``level`` (warns; removed in lacrima 0.3).

    Returns
    -------
    ReliabilityResult

    Notes
    -----
    Rows with any missing item are left out (complete cases) and counted in ``n_excluded``.

    ``alpha`` and ``std_alpha`` match ``psych::alpha(x)$total$raw_alpha`` and ``std.alpha`` on complete
    cases; ``alpha_ci`` is Feldt's interval ``1 - (1 - alpha) F_{1-a/2}(n-1, (n-1)(k-1))`` to
    ``1 - (1 - alpha) F_{a/2}(...)``, as in ``psych::alpha(x)$feldt`` and
    ``psych::alpha.ci(alpha, n.obs, n.var)``. The item table's ``r_drop`` and ``alpha_if_dropped`` match
    ``item.stats$r.drop`` and ``alpha.drop$raw_alpha``.

    ``omega_total`` is ``(sum lambda)^2 / ((sum lambda)^2 + sum psi)`` from a one-factor maximum-likelihood
    model fitted here to the covariance matrix (denominator: the model-implied total variance), which is
    what ``lavaan::cfa("f =~ x1 + ... + xk", std.lv = TRUE)`` followed by that formula (semTools'
    model-implied omega) gives; checked against lavaan 0.6-14 to 1e-5 (lavaan stops its optimiser slightly
    earlier, which moves loadings in the sixth decimal). It is not the ``omega.tot`` of
    ``psych::omega(x, nfactors = 1)``: psych divides by the observed total variance of the correlation
    matrix, ``1 - sum(u2) / sum(R)``, which on psych::bfi's agreeableness and neuroticism items was
    0.005-0.012 higher (the tests reproduce psych's value from this fit).

    R calls (tests/reference/reliability.R)::

        psych::alpha(x)                                  # raw_alpha, std.alpha, feldt, r.drop
        fit <- lavaan::cfa("f =~ A1 + A2 + A3 + A4 + A5", data = x, std.lv = TRUE)

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lacrima.scoring import reliability
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=300)
    >>> df = pd.DataFrame({f"x{i}": np.clip(np.round(3 + f + rng.normal(size=300)), 1, 5) for i in range(4)})
    >>> res = reliability(df, ["x0", "x1", "x2", "x3"], scale=(1, 5))
    >>> 0 < res.alpha < 1
    True
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of item columns, got {type(df).__name__}")
    if instrument is not None:
        if items is not None:
            raise DataError("give either items=... or instrument=... (with subscale=...), not both")
        columns, rev, scale = _from_instrument(instrument, subscale)
        if reverse:
            rev = list(reverse)
    else:
        if items is None:
            raise DataError("say which items to use: reliability(df, ['x1', 'x2', ...]) or instrument=...")
        if isinstance(items, str):
            raise DataError(f"items must be a list of column names, not the single string {items!r}")
        columns, rev = list(items), list(reverse)
    if ci_level is not None:
        if level != 0.95:
            raise TypeError("give level or ci_level (its deprecated name), not both")
        warn_renamed("reliability(ci_level=...)", "level=...")
        level = ci_level
    if not 0 < level < 1:
        raise DataError(f"level must lie between 0 and 1, not {level!r}")
    problems: list[Problem] = []
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise DataError(f"item column(s) {', '.join(absent)} are not in the data")
    if len(set(columns)) != len(columns):
        raise DataError("an item is listed more than once; list each item once")
    if len(columns) < 2:
        raise DataError(f"reliability needs at least two items, got {len(columns)}")
    not_listed = [c for c in rev if c not in columns]
    if not_listed:
        raise DataError(f"reverse-keyed item(s) {', '.join(not_listed)} are not among the items")
    if rev and scale is None:
        raise DataError(f"pass scale=(lo, hi) so that {', '.join(rev)} can be reverse-keyed as lo + hi - x")
    if scale is not None:
        lo, hi = float(scale[0]), float(scale[1])
        if not lo < hi:
            raise DataError(f"scale must be (lowest, highest) answer with lowest < highest, got {scale!r}")
    data = np.empty((len(df), len(columns)))
    for j, c in enumerate(columns):
        values, non_numeric = item_values(df[c])
        for i in np.flatnonzero(non_numeric)[:20].tolist():
            problems.append(
                Problem(f"value {df[c].iloc[i]!r} is not a number", row=str(df.index[i]), column=c)
            )
        if scale is not None:
            with np.errstate(invalid="ignore"):
                off = np.flatnonzero((values < lo) | (values > hi))
            for i in off.tolist():
                problems.append(
                    Problem(
                        f"item {c} has value {values[i]:g}; the scale runs {lo:g}-{hi:g}",
                        row=str(df.index[i]),
                        column=c,
                    )
                )
        data[:, j] = values
    if problems:
        raise DataError("item values do not fit: fix them or give the right scale=(lo, hi)", problems)
    for j, c in enumerate(columns):
        if c in rev:
            data[:, j] = lo + hi - data[:, j]
    complete = ~np.isnan(data).any(axis=1)
    x = data[complete] if not complete.all() else data
    n, k = x.shape
    if n < 3:
        raise DataError(
            f"only {n} row(s) answer all {k} items (of {len(df)}); reliability needs at least 3 "
            "complete cases"
        )
    means = x.mean(axis=0)
    # centred in place: on a million respondents np.cov's centred copy of the data is the largest cost
    x -= means
    cov = (x.T @ x) / (n - 1)
    var = np.diag(cov)
    constant = [c for c, v in zip(columns, var, strict=True) if v <= 0]
    if constant:
        raise DataError(
            f"item(s) {', '.join(constant)} have the same value in every complete case; a constant item "
            "says nothing about consistency: drop it"
        )
    sd = np.sqrt(var)
    corr = cov / np.outer(sd, sd)
    alpha = _alpha(cov)
    std_alpha = _alpha(corr)
    ci = _feldt(alpha, n, k, level)

    total = cov.sum()
    row_sums = cov.sum(axis=1)
    rest_var = total - 2.0 * row_sums + var
    r_drop = (row_sums - var) / np.sqrt(var * rest_var)
    keep = [np.delete(np.arange(k), j) for j in range(k)]
    nan_k = np.full(k, np.nan)
    alpha_drop = np.array([_alpha(cov[np.ix_(ix, ix)]) for ix in keep]) if k > 2 else nan_k
    std_alpha_drop = np.array([_alpha(corr[np.ix_(ix, ix)]) for ix in keep]) if k > 2 else nan_k

    ml_cov = cov * (n - 1) / n
    if k >= 3 and not _positive_definite(ml_cov):
        why = (
            f"only {n} complete cases for {k} items"
            if n <= k
            else "an item is a linear combination of the others"
        )
        warnings.warn(
            f"the items' covariance matrix is singular ({why}), so the one-factor model for omega cannot "
            "be fitted: omega_total is NaN (alpha stands). Collect more complete cases or drop the "
            "redundant item",
            SingularDataWarning,
            stacklevel=2,
        )
        lam, psi, omega = nan_k, nan_k, float("nan")
    elif k >= 3:
        fit = fit_one_factor(ml_cov)
        if not fit.converged:
            warnings.warn(
                "the one-factor model for omega did not converge; omega_total may be wrong. Check for items "
                "that hardly correlate with the rest",
                ConvergenceWarning,
                stacklevel=2,
            )
        if fit.heywood:
            warnings.warn(
                "the one-factor model for omega has a residual variance at zero (a Heywood case); "
                "omega_total is at its boundary and should not be reported without checking the items",
                LacrimaWarning,
                stacklevel=2,
            )
        lam, psi = fit.loadings, fit.residual_variances
        omega = float(lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum()))
    else:
        warnings.warn(
            "omega_total needs at least three items (a one-factor model of two items is not identified); "
            "it is NaN",
            LacrimaWarning,
            stacklevel=2,
        )
        lam, psi, omega = nan_k, nan_k, float("nan")

    item_total = pd.DataFrame(
        {
            "mean": means,
            "sd": sd,
            "r_drop": r_drop,
            "alpha_if_dropped": alpha_drop,
            "std_alpha_if_dropped": std_alpha_drop,
            "loading": lam,
            "residual_variance": psi,
        },
        index=pd.Index(columns, name="item"),
    )
    return ReliabilityResult(
        items=tuple(columns),
        reverse=tuple(rev),
        n=int(n),
        n_excluded=int(len(df) - n),
        alpha=alpha,
        std_alpha=std_alpha,
        alpha_ci=ci,
        level=float(level),
        omega_total=omega,
        item_total=item_total,
    )
