"""Internal consistency: Cronbach's alpha with Feldt's interval, McDonald's omega total, item-total table."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize

from lacrima import _dist
from lacrima._results import Result
from lacrima.errors import ConvergenceWarning, DataError, LacrimaWarning, Problem
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


def _ml_discrepancy(theta: np.ndarray, s: np.ndarray, logdet_s: float) -> tuple[float, np.ndarray]:
    """ML discrepancy ``log|Sigma| + tr(S Sigma^-1) - log|S| - p`` and its gradient.

    Parameters are the loadings and the logs of the residual variances, so that variances stay positive.
    """
    p = s.shape[0]
    lam = theta[:p]
    psi = np.exp(theta[p:])
    sigma = np.outer(lam, lam) + np.diag(psi)
    sign, logdet = np.linalg.slogdet(sigma)
    if sign <= 0:
        return np.inf, np.zeros_like(theta)
    inv = np.linalg.inv(sigma)
    inv_s = inv @ s
    f = logdet + np.trace(inv_s) - logdet_s - p
    g_sigma = inv - inv_s @ inv
    grad = np.concatenate([2.0 * g_sigma @ lam, np.diag(g_sigma) * psi])
    return float(f), grad


def fit_one_factor(cov: np.ndarray) -> OneFactorFit:
    """Fit a one-factor model by maximum likelihood to a covariance matrix.

    Minimises ``log|Sigma| + tr(S Sigma^-1) - log|S| - p`` with ``Sigma = lambda lambda' + diag(psi)`` by
    BFGS with the analytic gradient, starting from the principal-axis solution. ``fmin`` is half the
    minimum, as lavaan reports it. The sign is chosen so that the loadings sum to a positive number.
    """
    s = np.asarray(cov, dtype=float)
    p = s.shape[0]
    sign, logdet_s = np.linalg.slogdet(s)
    if sign <= 0:
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
    res = optimize.minimize(
        _ml_discrepancy,
        theta0,
        args=(s, logdet_s),
        jac=True,
        method="BFGS",
        options={"gtol": 1e-10, "maxiter": 5000},
    )
    # BFGS may stop on precision loss right at the optimum: judge by the gradient, not the flag alone.
    _, grad = _ml_discrepancy(res.x, s, logdet_s)
    converged = bool(res.success or np.max(np.abs(grad)) < 1e-6)
    lam = res.x[:p]
    psi = np.exp(res.x[p:])
    if lam.sum() < 0:
        lam = -lam
    heywood = bool(np.any(psi < 1e-4 * np.diag(s)))
    return OneFactorFit(
        loadings=lam, residual_variances=psi, fmin=float(res.fun) / 2.0, converged=converged, heywood=heywood
    )


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
        Feldt's F-based interval for alpha at ``ci_level``.
    ci_level : float
        Coverage of ``alpha_ci``.
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
    ci_level: float
    omega_total: float
    item_total: pd.DataFrame

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
    ci_level: float = 0.95,
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
    ci_level : float, default 0.95
        Coverage of the interval for alpha.

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
    if not 0 < ci_level < 1:
        raise DataError(f"ci_level must lie between 0 and 1, not {ci_level!r}")
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
    ci = _feldt(alpha, n, k, ci_level)

    total = cov.sum()
    row_sums = cov.sum(axis=1)
    rest_var = total - 2.0 * row_sums + var
    r_drop = (row_sums - var) / np.sqrt(var * rest_var)
    keep = [np.delete(np.arange(k), j) for j in range(k)]
    nan_k = np.full(k, np.nan)
    alpha_drop = np.array([_alpha(cov[np.ix_(ix, ix)]) for ix in keep]) if k > 2 else nan_k
    std_alpha_drop = np.array([_alpha(corr[np.ix_(ix, ix)]) for ix in keep]) if k > 2 else nan_k

    if k >= 3:
        fit = fit_one_factor(cov * (n - 1) / n)
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
        ci_level=float(ci_level),
        omega_total=omega,
        item_total=item_total,
    )
