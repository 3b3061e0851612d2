"""Confirmatory factor analysis by maximum likelihood, single- and multi-group, checked against lavaan.

>>> import lacrima.crosscultural.cfa as c  # doctest: +SKIP
>>> fit = c.cfa(df, "visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", group="school")  # doctest: +SKIP
>>> fit.cfi, fit.rmsea, fit.table()  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from lacrima._results import Result, to_jsonable
from lacrima.crosscultural import _cfa_engine as engine
from lacrima.crosscultural._cfa_fit import FitMeasures, chisq_sf, fit_measures
from lacrima.crosscultural._cfa_syntax import MeasurementModel, parse_model
from lacrima.errors import ConvergenceWarning, DataError, InvarianceWarning, Problem

__all__ = ["CFAResult", "cfa"]

_Z975 = float(special.ndtri(0.975))  # scipy.stats.norm.ppf(0.975), without importing scipy.stats


@dataclass(frozen=True)
class PreparedData:
    """Validated input: the parsed model, group labels and each group's sample moments."""

    model: MeasurementModel
    groups: tuple[str, ...]
    group_column: str | None
    moments: tuple[engine.GroupMoments, ...]
    excluded: int


@dataclass(frozen=True)
class FitState:
    """What later steps (score tests, partial invariance) need from a fit."""

    prepared: PreparedData
    structure: engine.Structure
    x: np.ndarray


@dataclass(frozen=True, eq=False)
class CFAResult(Result):
    """A fitted (multi-group) confirmatory factor model.

    Attributes
    ----------
    model : str
        The model syntax as given.
    groups : tuple of str
        Group labels in model order (the first is the reference group whose latent means are fixed to 0).
    n : tuple of int
        Cases used per group (after listwise deletion).
    excluded : int
        Rows dropped because a model variable or the group was missing.
    equal : tuple of str
        Parameter kinds constrained equal across groups (``loadings``, ``intercepts``, ``residuals``).
    chisq, df, pvalue, cfi, tli, rmsea, rmsea_ci, srmr, aic, bic, loglik, npar : fit statistics, as
        lavaan's ``fitMeasures`` (``srmr`` is lavaan's ``srmr``, Bentler's version including the means).
    estimates : DataFrame
        One row per parameter and group (see :meth:`table`).
    """

    model: str
    groups: tuple[str, ...]
    group_column: str | None
    n: tuple[int, ...]
    n_total: int
    excluded: int
    equal: tuple[str, ...]
    chisq: float
    df: int
    pvalue: float
    cfi: float
    tli: float
    rmsea: float
    rmsea_ci: tuple[float, float]
    srmr: float
    aic: float
    bic: float
    loglik: float
    npar: int
    baseline_chisq: float
    baseline_df: int
    converged: bool
    iterations: int
    estimates: pd.DataFrame
    _state: FitState = field(repr=False)

    def table(self) -> pd.DataFrame:
        """Parameter estimates: columns ``group, lhs, op, rhs, free, estimate, se, z, p, ci_low, ci_high,
        std_all`` (lavaan's ``parameterEstimates(fit, standardized = TRUE)`` layout; fixed parameters have
        NaN standard errors)."""
        return self.estimates.copy()

    def fit_measures(self) -> dict[str, float]:
        """The fit statistics as a flat dict (names as the invariance table's columns)."""
        return {
            "chisq": self.chisq,
            "df": float(self.df),
            "pvalue": self.pvalue,
            "cfi": self.cfi,
            "tli": self.tli,
            "rmsea": self.rmsea,
            "rmsea_ci_low": self.rmsea_ci[0],
            "rmsea_ci_high": self.rmsea_ci[1],
            "srmr": self.srmr,
            "aic": self.aic,
            "bic": self.bic,
        }

    def omega(self) -> pd.DataFrame:
        """Composite reliability (McDonald's omega) of each factor in each group.

        ``omega = (sum lambda)^2 phi / ((sum lambda)^2 phi + sum of the residual variances and
        covariances of the factor's indicators)`` from this model's estimates (Raykov's composite
        reliability with the model-implied error variance). Columns ``group, factor, omega``.
        """
        est = self.estimates
        rows: list[dict[str, Any]] = []
        for g in self.groups:
            e = est[est["group"] == g]
            for fname, inds in self._state.prepared.model.factors:
                lam = e[(e["op"] == "=~") & (e["lhs"] == fname)]["estimate"].sum()
                phi = e[(e["op"] == "~~") & (e["lhs"] == fname) & (e["rhs"] == fname)]["estimate"].iloc[0]
                theta = e[(e["op"] == "~~") & e["lhs"].isin(inds) & e["rhs"].isin(inds)]
                err = float(np.sum(np.where(theta["lhs"] == theta["rhs"], 1.0, 2.0) * theta["estimate"]))
                true = float(lam) ** 2 * float(phi)
                rows.append({"group": g, "factor": fname, "omega": true / (true + err)})
        return pd.DataFrame(rows)

    def score_tests(self) -> pd.DataFrame:
        """Univariate score tests (modification indices) for releasing each cross-group equality constraint.

        One row per constraint that ties a parameter of group ``group`` to the same parameter of the first
        group: columns ``lhs, op, rhs, group, kind, x2, df, p`` (``kind`` is ``loadings``,
        ``intercepts`` or ``residuals``). A large ``x2`` marks a parameter that differs across groups.

        Notes
        -----
        Checked against lavaan 0.6-14: ``lavTestScore(fit)$uni`` (expected information).
        """
        state = self._state
        if not state.structure.constraints:
            raise DataError("this model has no equality constraints across groups; fit it with invariance()")
        tests = engine.score_tests(state.structure, state.prepared.moments, state.x)
        records = []
        for _, row_g, x2 in tests:
            r = state.structure.rows[row_g]
            records.append(
                {
                    "lhs": r.lhs,
                    "op": r.op,
                    "rhs": r.rhs,
                    "group": self.groups[r.group],
                    "kind": r.kind,
                    "x2": x2,
                    "df": 1,
                    "p": chisq_sf(x2, 1),
                }
            )
        return pd.DataFrame(records)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": type(self).__name__}
        for f in fields(self):
            if not f.name.startswith("_"):
                out[f.name] = to_jsonable(getattr(self, f.name))
        return out


def cfa(df: pd.DataFrame, model: str, group: str | None = None) -> CFAResult:
    """Fit a confirmatory factor model by maximum likelihood, in one group or several.

    Parameters
    ----------
    df : DataFrame
        One row per respondent; the indicators must be numeric (NaN for missing answers).
    model : str
        lavaan-style measurement syntax, e.g. ``"bond =~ wai_03 + wai_05 + wai_07"``, one factor per line,
        ``#`` comments and residual covariances ``x1 ~~ x4``. The first loading of each factor is fixed
        to 1; factors covary freely.
    group : str, optional
        Column defining the groups. Without it the model is fitted to all rows as one group.

    Returns
    -------
    CFAResult

    Raises
    ------
    DataError
        Bad syntax, unknown or non-numeric variables, a group with no more cases than observed variables,
        an indicator that is constant within a group, or a model that is not identified.

    Warns
    -----
    ConvergenceWarning
        The optimiser stopped before the gradient vanished.
    InvarianceWarning
        A Heywood case (negative residual variance) or a latent covariance matrix that is not positive
        definite.

    Notes
    -----
    Checked against lavaan 0.6-14 (``tests/reference/lavaan_hs.R``)::

        cfa(model, data = df, group = "school", meanstructure = TRUE)

    Maximum likelihood with a mean structure, sample covariances with divisor N (lavaan's
    ``likelihood = "normal"``), chi-square ``sum_g N_g F_g``, standard errors from the expected
    information. The mean structure is always estimated, also in one group (lavaan's single-group default
    omits it, which changes ``npar``, AIC and BIC but nothing else). Groups are ordered as the categories
    of a categorical column, otherwise in order of first appearance (as lavaan does). Rows with a missing
    model variable or group are dropped (listwise deletion) and counted in ``excluded``.
    """
    prepared = prepare_data(df, model, group)
    return fit_prepared(prepared, equal=())


def prepare_data(df: pd.DataFrame, model: str, group: str | None) -> PreparedData:
    """Validate the input and compute each group's sample moments."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"df must be a pandas DataFrame, not {type(df).__name__}")
    spec = parse_model(model)
    observed = list(spec.observed)
    problems: list[Problem] = []
    missing = [v for v in observed if v not in df.columns]
    if missing:
        problems.extend(Problem("is in the model but not in the data", column=v) for v in missing)
    if group is not None and group not in df.columns:
        problems.append(Problem("is the group column but is not in the data", column=group))
    if problems:
        raise DataError("the model refers to columns the data does not have; check the spelling", problems)
    # one (p, N) float array, a row per variable; each group's cases are copied out column-major, as
    # pandas hands them over, so sums (and the moments) come out bit for bit as from the DataFrame
    columns = np.empty((len(observed), len(df)))
    for j, v in enumerate(observed):
        col = df[v]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "fiu":
            columns[j] = col.to_numpy(dtype=float)  # plain numeric: nothing to coerce or report
            continue
        num = (
            pd.to_numeric(col, errors="coerce") if not pd.api.types.is_bool_dtype(col) else col.astype(float)
        )
        bad = num.isna() & col.notna()
        if bad.any():
            pos = int(np.argmax(bad.to_numpy()))
            label = df.index[pos]
            problems.append(
                Problem(
                    f"has non-numeric value {col.iloc[pos]!r}; indicators must be numbers",
                    label if isinstance(label, (int, str)) else pos,
                    v,
                )
            )
            continue
        columns[j] = num.astype(float).to_numpy(dtype=float, na_value=np.nan)
    if problems:
        raise DataError("some indicators are not numeric; recode them first", problems)
    keep = np.asarray(~np.isnan(columns).any(axis=0), dtype=bool)
    if group is not None:
        keep &= df[group].notna().to_numpy()
    excluded = int(len(keep) - np.count_nonzero(keep))
    columns = columns[:, keep]
    if group is None:
        labels: list[Any] = [None]
        codes = np.zeros(columns.shape[1], dtype=np.intp)
    else:
        gcol = df[group].iloc[np.flatnonzero(keep)]
        if isinstance(gcol.dtype, pd.CategoricalDtype):
            cat_codes = gcol.cat.codes.to_numpy()
            present = np.unique(cat_codes)  # category order, as lavaan orders factor levels
            labels = [gcol.cat.categories[c] for c in present]
            codes = np.searchsorted(present, cat_codes)
        else:
            codes, uniques = pd.factorize(gcol, sort=False)  # order of first appearance, as pd.unique
            labels = list(uniques)
    p = len(observed)
    moments: list[engine.GroupMoments] = []
    names: list[str] = []
    for k, lab in enumerate(labels):
        x = np.asfortranarray(columns.T if lab is None else columns[:, codes == k].T)
        name = "all" if lab is None else str(lab)
        names.append(name)
        where = "the data" if lab is None else f"group {name!r}"
        if len(x) <= p:
            problems.append(
                Problem(
                    f"{where} has {len(x)} complete cases but the model has {p} observed variables; a group "
                    "needs more cases than variables (in practice at least 5-10 per parameter): merge small "
                    "groups or drop them"
                )
            )
            continue
        mean = x.mean(axis=0)
        cov = (x - mean).T @ (x - mean) / len(x)
        const = [observed[j] for j in range(p) if cov[j, j] <= 1e-12 * max(1.0, abs(mean[j]) ** 2)]
        for v in const:
            problems.append(
                Problem(f"is constant in {where}; a constant item carries no information, drop it", column=v)
            )
        if const:
            continue
        sign, logdet = np.linalg.slogdet(cov)
        if sign <= 0 or np.linalg.eigvalsh(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))[0] < 1e-10:
            problems.append(
                Problem(
                    f"the indicators are linearly dependent in {where} (the covariance matrix is singular); "
                    "drop duplicated or sum-score columns"
                )
            )
            continue
        moments.append(engine.GroupMoments(cov, mean, len(x), float(logdet)))
    if problems:
        raise DataError("the data cannot support this factor model", problems)
    return PreparedData(spec, tuple(names), group, tuple(moments), excluded)


def fit_prepared(
    prepared: PreparedData,
    equal: Sequence[str],
    released: Sequence[tuple[int, str, str, str]] = (),
    x0: np.ndarray | None = None,
) -> CFAResult:
    """Fit the model with parameters of the given kinds equal across groups (except ``released``)."""
    structure = engine.build_structure(prepared.model, len(prepared.groups), equal, released)
    p = len(structure.observed)
    n_moments = len(prepared.groups) * (p * (p + 1) // 2 + p)
    df_model = n_moments - structure.npar
    if df_model < 0:
        raise DataError(
            f"the model has {structure.npar} free parameters but the data only {n_moments} means, variances "
            "and covariances (df < 0): it is not identified; add indicators or drop residual covariances"
        )
    start = _check_identified(structure, prepared, exact=x0 is None)
    outcome = engine.fit_structure(structure, prepared.moments, x0=x0, start=start)
    if not outcome.converged:
        warnings.warn(
            f"the CFA optimiser did not converge ({outcome.message}); estimates and fit statistics may be "
            "wrong: check the model, or simplify it (fewer residual covariances, more indicators per factor)",
            ConvergenceWarning,
            stacklevel=3,
        )
    n_total = sum(mo.n for mo in prepared.moments)
    info = 0.5 * n_total * outcome.evaluation.info
    chol = engine.scaled_cholesky(info)
    if chol is None:
        warnings.warn(
            "the information matrix is singular at the solution: the model is empirically under-identified "
            "(e.g. a two-indicator factor uncorrelated with the others); standard errors are unusable",
            InvarianceWarning,
            stacklevel=3,
        )
        vcov = np.linalg.pinv(info)
    else:
        vcov = engine.chol_inverse(chol)
    measures = fit_measures(structure, prepared.moments, outcome.x, outcome.evaluation.f)
    estimates = _estimate_table(structure, prepared, outcome.x, vcov)
    _warn_heywood(structure, prepared.groups, outcome.x)
    return _result(prepared, structure, outcome, measures, estimates)


def _result(
    prepared: PreparedData,
    structure: engine.Structure,
    outcome: engine.FitOutcome,
    m: FitMeasures,
    estimates: pd.DataFrame,
) -> CFAResult:
    return CFAResult(
        model=prepared.model.syntax,
        groups=prepared.groups,
        group_column=prepared.group_column,
        n=tuple(mo.n for mo in prepared.moments),
        n_total=sum(mo.n for mo in prepared.moments),
        excluded=prepared.excluded,
        equal=tuple(k for k in engine.EQUALITY_KINDS if k in structure.equal),
        chisq=m.chisq,
        df=m.df,
        pvalue=m.pvalue,
        cfi=m.cfi,
        tli=m.tli,
        rmsea=m.rmsea,
        rmsea_ci=(m.rmsea_ci_low, m.rmsea_ci_high),
        srmr=m.srmr,
        aic=m.aic,
        bic=m.bic,
        loglik=m.loglik,
        npar=structure.npar,
        baseline_chisq=m.baseline_chisq,
        baseline_df=m.baseline_df,
        converged=outcome.converged,
        iterations=outcome.iterations,
        estimates=estimates,
        _state=FitState(prepared, structure, outcome.x),
    )


def _check_identified(
    structure: engine.Structure, prepared: PreparedData, exact: bool = False
) -> tuple[np.ndarray, engine.Evaluation] | None:
    """Local identification: the expected information must have full rank at the starting values.

    Returns the starting values and their evaluation (with the exact Hessian when ``exact``), for the
    optimiser to start from, or None where the implied covariance is not positive definite there.
    """
    x0 = engine.start_values(structure, prepared.moments)
    e = engine.evaluate(x0, structure.indices(), prepared.moments, structure.npar, exact=exact)
    if e is None:
        return None  # the optimiser's safe start handles this; the final check catches what remains
    if engine.scaled_cholesky(e.info, tol=1e-9) is None:
        raise DataError(
            "the model is not identified (its information matrix is singular): each factor needs at "
            "least 3 indicators, or 2 indicators and a covariance with another factor; residual "
            "covariances must not make loadings and error covariances interchangeable"
        )
    return x0, e


def _estimate_table(
    structure: engine.Structure, prepared: PreparedData, x: np.ndarray, vcov: np.ndarray
) -> pd.DataFrame:
    """The parameter table, computed column by column on numpy arrays (one pass over the rows for the
    labels); then the Heywood and latent-covariance checks on the same arrays."""
    rows = structure.rows
    n_rows = len(rows)
    free = np.fromiter((r.free for r in rows), dtype=np.intp, count=n_rows)
    group = np.fromiter((r.group for r in rows), dtype=np.intp, count=n_rows)
    row = np.fromiter((r.row for r in rows), dtype=np.intp, count=n_rows)
    col = np.fromiter((r.col for r in rows), dtype=np.intp, count=n_rows)
    fixed = np.fromiter((r.value for r in rows), dtype=float, count=n_rows)
    matrix = np.array([r.matrix for r in rows])
    is_free = free >= 0
    pos = np.where(is_free, free, 0)
    se_free = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    est = np.where(is_free, x[pos], fixed)
    se = np.where(is_free, se_free[pos], np.nan)

    mats = [engine.matrices(x, gi) for gi in structure.indices()]
    sd_ov = np.array(
        [np.sqrt(np.clip(np.diag(lam @ phi @ lam.T + th), 0.0, None)) for lam, phi, th, _, _ in mats]
    )
    sd_lv = np.array([np.sqrt(np.clip(np.diag(phi), 0.0, None)) for _, phi, _, _, _ in mats])
    th_diag = np.array([np.diag(th) for _, _, th, _, _ in mats])
    std = np.full(n_rows, np.nan)
    m = matrix == "lambda"
    std[m] = est[m] * sd_lv[group[m], col[m]] / sd_ov[group[m], row[m]]
    m = matrix == "phi"
    std[m] = est[m] / (sd_lv[group[m], row[m]] * sd_lv[group[m], col[m]])
    # residual variances by the total variance, residual covariances by the residual SDs (lavaan std.all)
    m = (matrix == "theta") & (row == col)
    std[m] = est[m] / sd_ov[group[m], row[m]] ** 2
    th_r, th_c = th_diag[group, row], th_diag[group, col]
    m = (matrix == "theta") & (row != col) & (th_r > 0) & (th_c > 0)
    std[m] = est[m] / np.sqrt(th_r[m] * th_c[m])
    m = matrix == "nu"
    std[m] = est[m] / sd_ov[group[m], row[m]]
    m = matrix == "kappa"
    std[m] = est[m] / sd_lv[group[m], row[m]]
    z = np.full(n_rows, np.nan)
    m = se > 0
    z[m] = est[m] / se[m]
    labels = prepared.groups
    table = pd.DataFrame(
        {
            "group": [labels[r.group] for r in rows],
            "lhs": [r.lhs for r in rows],
            "op": [r.op for r in rows],
            "rhs": [r.rhs for r in rows],
            "free": is_free,
            "estimate": est,
            "se": se,
            "z": z,
            "p": 2.0 * special.ndtr(-np.abs(z)),  # 2 * scipy.stats.norm.sf(|z|), in one call
            "ci_low": np.where(is_free, est - _Z975 * se, est),
            "ci_high": np.where(is_free, est + _Z975 * se, est),
            "std_all": std,
        }
    )
    return table


def _warn_heywood(structure: engine.Structure, groups: Sequence[str], x: np.ndarray) -> None:
    """Warn about negative residual variances and latent covariance matrices that are not positive
    definite, from the parameter vector (no DataFrame work)."""
    neg = []
    for r in structure.rows:
        if r.matrix == "theta" and r.row == r.col:
            value = float(x[r.free]) if r.free >= 0 else r.value
            if value < 0:
                neg.append(f"{r.lhs} in group {groups[r.group]!r} ({value:.3g})")
    if neg:
        warnings.warn(
            f"Heywood case: negative residual variance for {', '.join(neg)}; the model is misspecified or "
            "the sample too small for it, so its fit statistics and comparisons are doubtful: check the "
            "indicator, drop it, or collect more cases",
            InvarianceWarning,
            stacklevel=4,
        )
    for g, gi in enumerate(structure.indices()):
        _, phi, _, _, _ = engine.matrices(x, gi)
        if np.linalg.eigvalsh(phi)[0] <= 0:
            warnings.warn(
                f"the latent covariance matrix in group {groups[g]!r} is not positive definite (a factor "
                "variance below 0 or a factor correlation beyond +-1): two factors may be one; consider "
                "merging them",
                InvarianceWarning,
                stacklevel=4,
            )
