"""Random-effects meta-analysis of site effects (and meta-regression on site-level moderators).

``meta()`` pools one effect per site or study: correlations (through Fisher's z), standardised mean
differences (Hedges' g) or any effect with a standard error. tau^2 is estimated by REML (default), DL, PM or
ML, or set to 0 (FE); inference is by z or by the Hartung-Knapp(-Sidik-Jonkman) t method. Every number was
checked against metafor's ``rma()`` (see ``tests/reference/meta.R``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from lacrima import _dist
from lacrima._results import Result
from lacrima.crosscultural import _meta_fit as fit
from lacrima.crosscultural._meta_fit import FloatArray
from lacrima.errors import DataError, Problem, SmallSampleWarning

__all__ = ["MetaRegressionResult", "MetaResult", "meta", "smd_from_groups"]

Measure = Literal["r", "smd", "generic"]
Method = Literal["REML", "DL", "PM", "ML", "FE"]
Test = Literal["z", "knha"]

_METHOD_NAMES = {
    "REML": "random effects, REML",
    "DL": "random effects, DerSimonian-Laird",
    "PM": "random effects, Paule-Mandel",
    "ML": "random effects, ML",
    "FE": "fixed effect",
}


@dataclass(frozen=True, eq=False)
class MetaResult(Result):
    """A pooled effect from :func:`meta` (intercept-only model).

    ``estimate``, ``ci`` and ``pi`` are on the scale of the effects given (correlations for
    ``measure="r"``). ``estimate_z``, ``se_z``, ``ci_z``, ``pi_z`` and ``tau2`` are on the analysis scale:
    Fisher's z for ``measure="r"``; for ``"smd"`` and ``"generic"`` the analysis scale is the effect's own,
    so ``estimate_z == estimate``. ``stat`` is z, or t with ``df`` = k - 1 for ``test="knha"``.
    ``weights`` are percentages (metafor's ``weights()``); ``i2`` is a percentage.
    """

    measure: str
    method: str
    test: str
    level: float
    k: int
    estimate: float
    ci: tuple[float, float]
    pi: tuple[float, float]
    estimate_z: float
    se_z: float
    ci_z: tuple[float, float]
    pi_z: tuple[float, float]
    stat: float
    df: float | None
    p: float
    tau2: float
    tau2_se: float
    tau2_ci: tuple[float, float] | None
    tau: float
    i2: float
    i2_ci: tuple[float, float] | None
    h2: float
    h2_ci: tuple[float, float] | None
    q: float
    q_df: int
    q_p: float
    labels: tuple[str, ...]
    effects: tuple[float, ...]
    yi: tuple[float, ...]
    vi: tuple[float, ...]
    n: tuple[float, ...] | None
    weights: tuple[float, ...]
    iterations: int

    @property
    def se(self) -> float:
        """Standard error of the pooled effect on the analysis scale (same as ``se_z``)."""
        return self.se_z

    def study_table(self) -> pd.DataFrame:
        """One row per study: label, estimate, se, ci_low, ci_high, weight (percent) and n when known.

        Study intervals use the normal quantile on the analysis scale and are back-transformed like the
        pooled estimate (metafor's ``forest()`` does the same).
        """
        crit = float(_dist.norm_ppf(0.5 + self.level / 2.0))
        yi = np.asarray(self.yi)
        sei = np.sqrt(np.asarray(self.vi))
        low, high = _back(self.measure, yi - crit * sei), _back(self.measure, yi + crit * sei)
        return pd.DataFrame(
            {
                "label": list(self.labels),
                "estimate": list(self.effects),
                "se": sei,
                "ci_low": low,
                "ci_high": high,
                "weight": list(self.weights),
                "n": list(self.n) if self.n is not None else [math.nan] * self.k,
            }
        )

    def table(self) -> pd.DataFrame:
        """Per-study rows (label, estimate, ci, weight) followed by the pooled row (with p and the
        prediction interval)."""
        studies = self.study_table()
        studies["p"] = math.nan
        studies["pi_low"] = math.nan
        studies["pi_high"] = math.nan
        pooled = {
            "label": f"pooled ({_METHOD_NAMES[self.method]})",
            "estimate": self.estimate,
            "se": self.se_z,
            "ci_low": self.ci[0],
            "ci_high": self.ci[1],
            "weight": 100.0,
            "n": float(np.sum(self.n)) if self.n is not None else math.nan,
            "p": self.p,
            "pi_low": self.pi[0],
            "pi_high": self.pi[1],
        }
        return pd.concat([studies, pd.DataFrame([pooled])], ignore_index=True)


@dataclass(frozen=True, eq=False)
class MetaRegressionResult(Result):
    """A mixed-effects meta-regression from :func:`meta` with ``moderators``.

    ``coefficients`` has one row per term (``intercept`` first) with estimate, se, stat (z, or t for
    ``test="knha"``), p, ci_low, ci_high, on the analysis scale (Fisher's z for ``measure="r"``).
    ``qm`` tests all moderators together (chi-square with ``qm_df`` = (m,), or F with (m, k - p) for
    knha). ``tau2``, ``i2``, ``h2`` are the residual heterogeneity; ``q`` is the test of residual
    heterogeneity (QE); ``r2`` is metafor's pseudo R^2 in percent (the proportional reduction of tau^2
    against the intercept-only model; for FE, the weighted adjusted R^2).
    """

    measure: str
    method: str
    test: str
    level: float
    k: int
    n_coef: int
    coefficients: pd.DataFrame
    qm: float
    qm_df: tuple[int, ...]
    qm_p: float
    tau2: float
    tau2_se: float
    tau2_ci: tuple[float, float] | None
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    r2: float
    labels: tuple[str, ...]
    yi: tuple[float, ...]
    vi: tuple[float, ...]
    weights: tuple[float, ...]
    iterations: int

    def table(self) -> pd.DataFrame:
        """The coefficient table (term, estimate, se, stat, p, ci_low, ci_high)."""
        return self.coefficients.copy()


def _back(measure: str, z: FloatArray | float) -> Any:
    return np.tanh(z) if measure == "r" else z


def _as_vector(values: ArrayLike, name: str, problems: list[Problem]) -> FloatArray | None:
    try:
        if isinstance(values, pd.Series):
            arr = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        problems.append(Problem(f"{name} must be numbers; got {values!r:.80}"))
        return None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        problems.append(
            Problem(f"{name} must be one-dimensional (one value per study); got shape {arr.shape}")
        )
        return None
    for i, value in enumerate(arr):
        if not math.isfinite(value):
            problems.append(Problem(f"{name} is missing or not finite; give a value for every study", row=i))
    return arr


def _prepare(
    effects: ArrayLike, n: ArrayLike | None, se: ArrayLike | None, measure: str
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None]:
    """Check the inputs and return (effects, yi, vi, n)."""
    if measure not in ("r", "smd", "generic"):
        raise DataError(f"measure must be 'r', 'smd' or 'generic'; got {measure!r}")
    problems: list[Problem] = []
    eff = _as_vector(effects, "effects", problems)
    if measure == "r":
        if n is None:
            raise DataError("measure='r' needs n (the sample size behind each correlation)")
        if se is not None:
            raise DataError("measure='r' takes n, not se: the variance of Fisher's z is 1/(n - 3)")
        other = _as_vector(n, "n", problems)
        other_name = "n"
    else:
        if se is None:
            raise DataError(
                f"measure={measure!r} needs se (the standard error of each effect); "
                "for group means and SDs use smd_from_groups() first"
            )
        other = _as_vector(se, "se", problems)
        other_name = "se"
    if eff is not None and other is not None and len(eff) != len(other):
        raise DataError(
            f"effects has {len(eff)} values but {other_name} has {len(other)}; give one per study"
        )
    if problems or eff is None or other is None:
        raise DataError("meta-analysis input is not usable", problems)
    for i, (e, o) in enumerate(zip(eff, other, strict=True)):
        if measure == "r":
            if not -1.0 < e < 1.0:
                problems.append(Problem(f"correlation {e!r} is outside (-1, 1)", row=i, column="effects"))
            if not o > 3:
                problems.append(Problem(f"n = {o!r}; Fisher's z needs n > 3", row=i, column="n"))
        elif not o > 0:
            problems.append(Problem(f"se = {o!r}; standard errors must be positive", row=i, column="se"))
    if problems:
        raise DataError("meta-analysis input is not usable", problems)
    if measure == "r":
        return eff, np.arctanh(eff), 1.0 / (other - 3.0), other
    return eff, eff.copy(), other**2, None


def _design(moderators: pd.DataFrame | ArrayLike, k: int) -> tuple[FloatArray, list[str]]:
    """Build the model matrix (intercept first) from site-level moderators."""
    if isinstance(moderators, pd.Series):
        moderators = moderators.to_frame()
    if isinstance(moderators, pd.DataFrame):
        frame = moderators.reset_index(drop=True)
    else:
        arr = np.asarray(moderators)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(f"moderators must be a DataFrame or a 1-D/2-D array; got shape {arr.shape}")
        frame = pd.DataFrame(arr, columns=[f"x{j + 1}" for j in range(arr.shape[1])])
    if len(frame) != k:
        raise DataError(f"moderators has {len(frame)} rows but there are {k} studies; give one row per study")
    columns: list[FloatArray] = []
    names: list[str] = []
    problems: list[Problem] = []
    for col in frame.columns:
        s = frame[col]
        if s.isna().any():
            for i in np.flatnonzero(s.isna().to_numpy()):
                problems.append(Problem("moderator value is missing", row=int(i), column=str(col)))
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            columns.append(s.to_numpy(dtype=float))
            names.append(str(col))
        else:
            levels = sorted(s.astype(str).unique())
            for level in levels[1:]:
                columns.append((s.astype(str) == level).to_numpy(dtype=float))
                names.append(f"{col}[{level}]")
    if problems:
        raise DataError("moderators are not usable", problems)
    if not columns:
        raise DataError("moderators has no columns; pass moderators=None for an intercept-only model")
    X = np.column_stack([np.ones(k), *columns])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise DataError(
            f"the moderators {names} are collinear (or constant); drop or combine moderators so that the "
            "model matrix has full rank"
        )
    if k <= X.shape[1]:
        raise DataError(
            f"a meta-regression with {X.shape[1]} coefficients needs more than {X.shape[1]} studies; got {k}"
        )
    return X, ["intercept", *names]


def _heterogeneity(
    X: FloatArray, yi: FloatArray, vi: FloatArray, tau2: float, fixed: bool
) -> dict[str, float]:
    k, p = X.shape
    terms = fit.residual_terms(X, yi, 1.0 / vi)
    q = max(0.0, terms.q)
    vt = (k - p) / terms.tr_p
    if fixed:
        i2 = max(0.0, 100.0 * (q - (k - p)) / q) if q > 0 else 0.0
        h2 = q / (k - p)
    else:
        i2 = 100.0 * tau2 / (vt + tau2)
        h2 = tau2 / vt + 1.0
    return {"q": q, "q_p": float(_dist.chi2_sf(q, k - p)), "vt": vt, "i2": i2, "h2": h2}


def _labels(labels: Sequence[Any] | None, effects: ArrayLike, k: int) -> tuple[str, ...]:
    if labels is None:
        # a Series indexed by site names labels itself; a positional (integer) index does not
        if isinstance(effects, pd.Series) and not pd.api.types.is_integer_dtype(effects.index.dtype):
            return tuple(str(i) for i in effects.index)
        return tuple(str(i + 1) for i in range(k))
    out = tuple(str(x) for x in labels)
    if len(out) != k:
        raise DataError(f"labels has {len(out)} entries but there are {k} studies")
    return out


@overload
def meta(
    effects: ArrayLike,
    n: ArrayLike | None = ...,
    se: ArrayLike | None = ...,
    measure: Measure = ...,
    method: Method = ...,
    test: Test = ...,
    level: float = ...,
    moderators: None = ...,
    labels: Sequence[Any] | None = ...,
    *,
    control: Mapping[str, float] | None = ...,
) -> MetaResult: ...


@overload
def meta(
    effects: ArrayLike,
    n: ArrayLike | None = ...,
    se: ArrayLike | None = ...,
    measure: Measure = ...,
    method: Method = ...,
    test: Test = ...,
    level: float = ...,
    *,
    moderators: pd.DataFrame | ArrayLike,
    labels: Sequence[Any] | None = ...,
    control: Mapping[str, float] | None = ...,
) -> MetaRegressionResult: ...


def meta(
    effects: ArrayLike,
    n: ArrayLike | None = None,
    se: ArrayLike | None = None,
    measure: Measure = "r",
    method: Method = "REML",
    test: Test = "z",
    level: float = 0.95,
    moderators: pd.DataFrame | ArrayLike | None = None,
    labels: Sequence[Any] | None = None,
    *,
    control: Mapping[str, float] | None = None,
) -> MetaResult | MetaRegressionResult:
    """Random-effects (or fixed-effect) meta-analysis of one effect per site or study.

    Parameters
    ----------
    effects : array-like
        One effect per study: correlations (``measure="r"``), Hedges' g (``"smd"``) or any effect on an
        approximately normal scale, such as a log odds ratio (``"generic"``).
    n : array-like, optional
        Sample sizes, required for ``measure="r"`` (the variance of Fisher's z is 1/(n - 3)).
    se : array-like, optional
        Standard errors, required for ``"smd"`` and ``"generic"``. :func:`smd_from_groups` gives g and
        its standard error from group means, SDs and sizes.
    measure : {"r", "smd", "generic"}
    method : {"REML", "DL", "PM", "ML", "FE"}
        Estimator of the between-study variance tau^2 (FE fixes it at 0).
    test : {"z", "knha"}
        ``"knha"``: Hartung-Knapp adjusted standard error with t on k - p degrees of freedom.
    level : float
        Confidence level of every interval.
    moderators : DataFrame or array-like, optional
        Site-level moderators for a mixed-effects meta-regression (one row per study). Text columns are
        dummy-coded against their first level in sorted order. Gives a :class:`MetaRegressionResult`.
    labels : sequence, optional
        Study labels for tables and forest plots.
    control : mapping, optional
        ``threshold`` (default 1e-5) and ``max_iter`` (100) of the Fisher scoring used by REML and ML.

    Returns
    -------
    MetaResult or MetaRegressionResult

    Raises
    ------
    DataError
        Lengths differ, values are missing, a correlation is outside (-1, 1), n <= 3, se <= 0, fewer than
        two studies, collinear moderators, or ``test="knha"`` with ``method="FE"``.

    Warns
    -----
    SmallSampleWarning
        Fewer than three studies: tau^2 and the intervals are poorly determined.
    ConvergenceWarning
        Fisher scoring did not converge, or stopped at a local maximum.

    Notes
    -----
    Checked against metafor 3.8-1 (tests/reference/meta.R) on dat.molloy2014, dat.normand1999 and dat.bcg
    to 1e-6 or better::

        dat <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
        res <- rma(yi, vi, data = dat, method = "REML", test = "z")
        predict(res, transf = transf.ztor); confint(res)
        rma(yi, vi, mods = ~ meanage, data = dat)

    I^2 = 100 tau^2 / (tau^2 + s^2) with s^2 = (k - p) / tr(P) (for k studies and the intercept-only model,
    (k - 1) sum w / ((sum w)^2 - sum w^2)); H^2 = 1 + tau^2 / s^2; for FE, I^2 = 100 (Q - df) / Q and
    H^2 = Q / df. The tau^2 interval is the Q-profile interval (``confint.rma.uni`` default), solved to
    machine precision where metafor stops at about 1e-4 by default. REML and ML use metafor's Fisher
    scoring from the Hedges starting value and stop at the same threshold. The prediction interval is
    estimate +- crit * sqrt(se^2 + tau^2), crit from z or, for knha, t with k - p df.
    """
    if method not in fit.METHODS:
        raise DataError(f"method must be one of {', '.join(fit.METHODS)}; got {method!r}")
    if test not in ("z", "knha"):
        raise DataError(f"test must be 'z' or 'knha'; got {test!r}")
    if not 0.0 < level < 1.0:
        raise DataError(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}")
    if method == "FE" and test == "knha":
        raise DataError("test='knha' is meant for random-effects models; use test='z' with method='FE'")
    ctrl = dict(control or {})
    unknown = set(ctrl) - {"threshold", "max_iter"}
    if unknown:
        raise DataError(f"unknown control settings {sorted(unknown)}; use 'threshold' and 'max_iter'")
    threshold = float(ctrl.get("threshold", fit.THRESHOLD))
    max_iter = int(ctrl.get("max_iter", fit.MAX_ITER))

    eff, yi, vi, nn = _prepare(effects, n, se, measure)
    k = len(yi)
    if k < 2:
        raise DataError(f"a meta-analysis needs at least two studies; got {k}")
    lab = _labels(labels, effects, k)
    if moderators is None:
        X = np.ones((k, 1))
        names = ["intercept"]
    else:
        X, names = _design(moderators, k)
    p = X.shape[1]
    if k < 3:
        warnings.warn(
            f"only {k} studies: tau^2 is poorly estimated and the intervals are unreliable; report the "
            "individual effects alongside the pooled one",
            SmallSampleWarning,
            stacklevel=2,
        )

    t2 = fit.estimate_tau2(method, X, yi, vi, threshold, max_iter)
    tau2 = t2.tau2
    wfit = fit.wls(X, yi, vi, tau2)
    vb = wfit.vb
    if test == "knha":
        s2w = wfit.rss / (k - p) if wfit.rss > np.finfo(float).eps else 0.0
        vb = vb * s2w
        df: float | None = float(k - p)
        crit = float(_dist.t_ppf(0.5 + level / 2.0, k - p))
    else:
        df = None
        crit = float(_dist.norm_ppf(0.5 + level / 2.0))
    beta = wfit.beta
    se_b = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):  # knha gives se = 0 when all effects are equal
        stat_b = beta / se_b
    p_b = 2.0 * _dist.t_sf(np.abs(stat_b), k - p) if test == "knha" else 2.0 * _dist.norm_sf(np.abs(stat_b))
    het = _heterogeneity(X, yi, vi, tau2, fixed=(method == "FE"))
    weights = tuple(float(x) for x in 100.0 * wfit.weights / np.sum(wfit.weights))
    tau2_ci = None if method == "FE" else fit.q_profile_ci(tau2, X, yi, vi, level)

    common: dict[str, Any] = {
        "measure": measure,
        "method": method,
        "test": test,
        "level": level,
        "k": k,
        "tau2": tau2,
        "tau2_se": t2.se,
        "tau2_ci": tau2_ci,
        "i2": het["i2"],
        "h2": het["h2"],
        "q": het["q"],
        "q_df": k - p,
        "q_p": het["q_p"],
        "labels": lab,
        "yi": tuple(float(x) for x in yi),
        "vi": tuple(float(x) for x in vi),
        "weights": weights,
        "iterations": t2.iterations,
    }

    if moderators is not None:
        coef = pd.DataFrame(
            {
                "term": names,
                "estimate": beta,
                "se": se_b,
                "stat": stat_b,
                "p": p_b,
                "ci_low": beta - crit * se_b,
                "ci_high": beta + crit * se_b,
            }
        )
        b_mod = beta[1:]
        qm = float(b_mod @ np.linalg.solve(vb[1:, 1:], b_mod))
        m = p - 1
        if test == "knha":
            qm /= m
            qm_df: tuple[int, ...] = (m, k - p)
            qm_p = float(_dist.f_sf(qm, m, k - p))
        else:
            qm_df = (m,)
            qm_p = float(_dist.chi2_sf(qm, m))
        r2 = _pseudo_r2(method, X, yi, vi, tau2, threshold, max_iter)
        return MetaRegressionResult(
            n_coef=p, coefficients=coef, qm=qm, qm_df=qm_df, qm_p=qm_p, r2=r2, **common
        )

    est, se_est = float(beta[0]), float(se_b[0])
    ci_z = (est - crit * se_est, est + crit * se_est)
    half = crit * math.sqrt(se_est**2 + tau2)
    pi_z = (est - half, est + half)
    if tau2_ci is None:
        i2_ci = h2_ci = None
    else:
        vt = het["vt"]
        i2_ci = (100.0 * tau2_ci[0] / (vt + tau2_ci[0]), 100.0 * tau2_ci[1] / (vt + tau2_ci[1]))
        h2_ci = (tau2_ci[0] / vt + 1.0, tau2_ci[1] / vt + 1.0)
    return MetaResult(
        estimate=float(_back(measure, est)),
        ci=(float(_back(measure, ci_z[0])), float(_back(measure, ci_z[1]))),
        pi=(float(_back(measure, pi_z[0])), float(_back(measure, pi_z[1]))),
        estimate_z=est,
        se_z=se_est,
        ci_z=ci_z,
        pi_z=pi_z,
        stat=float(stat_b[0]),
        df=df,
        p=float(p_b[0]),
        tau=math.sqrt(tau2),
        i2_ci=i2_ci,
        h2_ci=h2_ci,
        effects=tuple(float(x) for x in eff),
        n=None if nn is None else tuple(float(x) for x in nn),
        **common,
    )


def _pseudo_r2(
    method: str, X: FloatArray, yi: FloatArray, vi: FloatArray, tau2: float, threshold: float, max_iter: int
) -> float:
    """metafor's pseudo R^2 (percent) of a meta-regression."""
    k, p = X.shape
    if method == "FE":
        w = 1.0 / vi
        wfit = fit.wls(X, yi, vi, 0.0)
        fitted = X @ wfit.beta
        mean_f = float(np.sum(w * fitted) / np.sum(w))
        mss = float(np.sum(w * (fitted - mean_f) ** 2))
        r2 = mss / (mss + wfit.rss)
        adj = 1.0 - (1.0 - r2) * (k - 1) / (k - p)
        return max(0.0, 100.0 * adj)
    ones = np.ones((k, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau2_re = fit.estimate_tau2(method, ones, yi, vi, threshold, max_iter).tau2
    if tau2_re == 0.0:
        return 0.0
    return max(0.0, 100.0 * (tau2_re - tau2) / tau2_re)


def smd_from_groups(
    m1: ArrayLike, sd1: ArrayLike, n1: ArrayLike, m2: ArrayLike, sd2: ArrayLike, n2: ArrayLike
) -> pd.DataFrame:
    """Hedges' g (bias-corrected standardised mean difference) and its sampling variance per study.

    Parameters
    ----------
    m1, sd1, n1, m2, sd2, n2 : array-like
        Means, standard deviations and sizes of group 1 and group 2 (g > 0 when group 1 is higher).

    Returns
    -------
    DataFrame
        Columns ``g``, ``vi`` and ``se`` (= sqrt(vi)); pass ``g`` and ``se`` to
        ``meta(..., measure="smd")``.

    Notes
    -----
    Matches metafor's ``escalc(measure = "SMD", m1i, sd1i, n1i, m2i, sd2i, n2i)`` (vtype "LS"): with the
    pooled SD s_p, d = (m1 - m2) / s_p, g = c(m) d with the exact correction
    c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m - 1)/2)), m = n1 + n2 - 2, and
    vi = 1/n1 + 1/n2 + g^2 / (2 (n1 + n2)).
    """
    problems: list[Problem] = []
    names = ("m1", "sd1", "n1", "m2", "sd2", "n2")
    arrays = [
        _as_vector(a, name, problems) for a, name in zip((m1, sd1, n1, m2, sd2, n2), names, strict=True)
    ]
    if problems:
        raise DataError("group summaries are not usable", problems)
    a1, s1, k1, a2, s2, k2 = (np.asarray(a, dtype=float) for a in arrays)
    lengths = {len(a1), len(s1), len(k1), len(a2), len(s2), len(k2)}
    if len(lengths) != 1:
        raise DataError(f"m1, sd1, n1, m2, sd2, n2 must have the same length; got lengths {sorted(lengths)}")
    for i in range(len(a1)):
        if not (s1[i] > 0 and s2[i] > 0):
            problems.append(Problem("standard deviations must be positive", row=i))
        if not (k1[i] >= 2 and k2[i] >= 2):
            problems.append(Problem("each group needs at least 2 people", row=i))
    if problems:
        raise DataError("group summaries are not usable", problems)
    m = k1 + k2 - 2.0
    sp = np.sqrt(((k1 - 1.0) * s1**2 + (k2 - 1.0) * s2**2) / m)
    d = (a1 - a2) / sp
    cm = np.exp(special.gammaln(m / 2.0) - 0.5 * np.log(m / 2.0) - special.gammaln((m - 1.0) / 2.0))
    g = cm * d
    vi = 1.0 / k1 + 1.0 / k2 + g**2 / (2.0 * (k1 + k2))
    return pd.DataFrame({"g": g, "vi": vi, "se": np.sqrt(vi)})
