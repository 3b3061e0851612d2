"""Linear and logistic mixed models with lme4's formulas, names and numbers: :func:`mixed`."""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from lacrima._results import Result, to_jsonable
from lacrima.errors import ConvergenceWarning, DataError, Problem, SingularFitWarning
from lacrima.longitudinal._engine import Block, EngineFit, fit
from lacrima.longitudinal._formula import Encoding, ParsedFormula, RandomTerm, parse_formula

__all__ = ["LrtResult", "MixedResult", "mixed"]

Family = Literal["gaussian", "binomial"]


@dataclass(frozen=True)
class _Block:
    """A random block as fitted: lme4 term, VarCorr group name, column names and level labels."""

    term: RandomTerm
    name: str
    columns: tuple[str, ...]
    levels: pd.Index


@dataclass(frozen=True)
class _State:
    """What predict, ranef and lrt need after the fit (kept out of repr and to_dict)."""

    parsed: ParsedFormula
    encoding: Encoding
    frame: pd.DataFrame
    blocks: tuple[_Block, ...]
    beta: np.ndarray
    ranef: tuple[np.ndarray, ...]
    npar: int
    condvar: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True, eq=False)
class LrtResult(Result):
    """Likelihood-ratio test between two nested mixed models (as R's ``anova(m0, m1)``)."""

    chisq: float
    df: int
    p: float
    loglik_small: float
    loglik_big: float
    aic_small: float
    aic_big: float
    refitted_ml: bool


@dataclass(frozen=True, eq=False)
class MixedResult(Result):
    """A fitted linear or logistic mixed model.

    Attributes
    ----------
    fixed : pandas.DataFrame
        Index: lme4's term names (``(Intercept)``, ``session``, ``genderwoman``, ``session:genderwoman``).
        Columns ``estimate, se, df, t, p, ci_low, ci_high``. Gaussian models: Satterthwaite df, t tests and
        t-based 95 % intervals as lmerTest's ``summary``. Binomial models: Wald z (held in column ``t``),
        ``df`` is infinite, p and interval from the normal distribution as ``summary(glmer)``.
    vcov : pandas.DataFrame
        Covariance matrix of the fixed-effect estimates, as R's ``vcov(fit)``: index and columns are the
        terms of ``fixed`` in the same order, and ``fixed["se"]`` is the square root of its diagonal.
        Gaussian models: ``sigma^2 (X' V^-1 X)^-1`` at the (RE)ML estimates, V the marginal covariance of
        the outcome over sigma^2. Binomial models: the beta block of twice the inverse Hessian of the
        Laplace deviance in (theta, beta), as lme4's default ``vcov(fit, use.hessian = TRUE)``. For
        standard errors of contrasts and predictions (delta method): the variance of ``c @ beta`` is
        ``c @ fit.vcov.to_numpy() @ c``. ``to_dict()`` gives ``{"term": [...], "matrix": [[...], ...]}``.
    varcomp : pandas.DataFrame
        As R's ``as.data.frame(VarCorr(fit))`` (with ``grp`` named ``group``): per random term its
        variances, then covariances, then the ``Residual`` row (gaussian only); ``var1``/``var2`` are None
        where R has NA; ``sdcor`` holds standard deviations and correlations.
    loglik : float
        As R's ``logLik(fit)``: the REML criterion based value when ``reml`` is True.
    excluded : int
        Rows dropped because a model variable was missing (listwise deletion, as R's ``na.omit``).

    Notes
    -----
    ``vcov`` was checked in ``tests/longitudinal/test_mixed_lme4.py`` against lme4 1.1-31 / lmerTest on
    every model of ``tests/reference/lme4.R`` (1e-4 relative; GLMM 1e-3)::

        fit <- lmerTest::lmer(y ~ session + cried + (1 + session | client) + (1 | therapist), data)
        as.matrix(vcov(fit))
        as.matrix(vcov(glmer(cried ~ session + anx + (1 | client), data, family = binomial)))
    """

    formula: str
    family: str
    reml: bool
    fixed: pd.DataFrame
    vcov: pd.DataFrame
    varcomp: pd.DataFrame
    loglik: float
    df_loglik: int
    aic: float
    bic: float
    nobs: int
    ngroups: dict[str, int]
    converged: bool
    singular: bool
    excluded: int
    excluded_rows: tuple[Any, ...] = field(repr=False)
    _state: _State = field(repr=False, compare=False)

    def table(self) -> pd.DataFrame:
        """Fixed effects as a tidy DataFrame with a ``term`` column and ``n`` (observations used)."""
        out = self.fixed.reset_index(names="term")
        out["n"] = self.nobs
        return out

    def to_dict(self) -> dict[str, Any]:
        """Public fields as JSON-ready values (the fitted data are left out).

        ``vcov`` becomes ``{"term": [...], "matrix": [[...], ...]}``: term names as keys of row records could
        clash with the record's own ``term`` key.
        """
        out: dict[str, Any] = {"type": type(self).__name__}
        for name in self.__dataclass_fields__:
            if name == "vcov":
                terms = [str(t) for t in self.vcov.index]
                out[name] = {"term": terms, "matrix": to_jsonable(self.vcov.to_numpy())}
            elif not name.startswith("_"):
                out[name] = to_jsonable(getattr(self, name))
        return out

    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects, as R's ``ranef(fit)``.

        One DataFrame per grouping factor (terms of the same factor, as from ``||``, side by side), indexed
        by the factor's levels, one column per random effect.
        """
        out: dict[str, pd.DataFrame] = {}
        for block, values in zip(self._state.blocks, self._state.ranef, strict=True):
            frame = pd.DataFrame(values, index=block.levels, columns=list(block.columns))
            key = block.term.group
            out[key] = pd.concat([out[key], frame], axis=1) if key in out else frame
        return out

    def ranef_frame(self) -> pd.DataFrame:
        """Conditional modes with their conditional standard deviations, one row per level and effect, as
        R's ``as.data.frame(ranef(fit, condVar = TRUE))``: columns ``grpvar, term, grp, condval, condsd``.

        ``condsd`` is the square root of the diagonal of the conditional covariance of the random
        effects given the data at the estimates (lme4's ``postVar``); NaN where the engine gave none.
        """
        parts: list[pd.DataFrame] = []
        cvs = self._state.condvar or (None,) * len(self._state.blocks)
        for block, values, cv in zip(self._state.blocks, self._state.ranef, cvs, strict=True):
            for j, col in enumerate(block.columns):
                sd = np.sqrt(np.clip(cv[:, j, j], 0.0, None)) if cv is not None else np.nan
                parts.append(
                    pd.DataFrame(
                        {
                            "grpvar": block.term.group,
                            "term": col,
                            "grp": block.levels.astype(str),
                            "condval": values[:, j],
                            "condsd": sd,
                        }
                    )
                )
        return pd.concat(parts, ignore_index=True)

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        re_form: str | None = None,
        type: Literal["link", "response"] = "link",
        allow_new_levels: bool = False,
    ) -> pd.Series:
        """Predictions as R's ``predict(fit, newdata, re.form, type)``.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; default the rows used in the fit.
        re_form : {None, "~0", "NA"}
            None: conditional on the random effects (conditional modes); ``"~0"`` or ``"NA"``: population
            level (fixed effects only).
        type : {"link", "response"}
            Binomial models: log-odds (``"link"``, R's default) or probabilities. Ignored for gaussian.
        allow_new_levels : bool
            If False (R's default) a group level not seen in the fit is an error; if True it gets random
            effects of 0.
        """
        st = self._state
        data = st.frame if newdata is None else newdata
        needed = [v for v in st.parsed.variables() if v != st.parsed.response]
        missing = [v for v in needed if v not in data.columns]
        if re_form is not None:
            if re_form.replace(" ", "") not in ("~0", "NA"):
                raise DataError(f"re_form must be None, '~0' or 'NA', not {re_form!r}")
            missing = [v for v in missing if v in _fixed_vars(st.parsed)]
        if missing:
            raise DataError(f"newdata lacks the model columns {missing}")
        used = [v for v in needed if v in data.columns and (re_form is None or v in _fixed_vars(st.parsed))]
        # Rows missing a predictor get NaN (not a reference-level dummy of 0).
        incomplete = data[used].isna().any(axis=1).to_numpy()
        x, _ = st.encoding.matrix(data, st.parsed.intercept, st.parsed.fixed)
        eta = x @ st.beta
        if re_form is None:
            for block, modes in zip(st.blocks, st.ranef, strict=True):
                z, _ = _random_matrix(st.encoding, data, block.term)
                labels = _group_labels(data, block.term.group_vars)
                pos = block.levels.get_indexer(pd.Index(labels))
                unseen = (pos < 0) & ~incomplete
                if np.any(unseen) and not allow_new_levels:
                    new = sorted(set(labels[unseen].astype(str)))[:10]
                    raise DataError(
                        f"grouping factor {block.term.group!r} has levels not in the fitted model: {new}; "
                        "pass allow_new_levels=True to predict them with random effects of 0"
                    )
                b = np.where((pos >= 0)[:, None], modes[np.maximum(pos, 0)], 0.0)
                eta = eta + np.sum(z * b, axis=1)
        eta = np.where(incomplete, np.nan, eta)
        if self.family == "binomial" and type == "response":
            eta = stats.logistic.cdf(eta)
        return pd.Series(eta, index=data.index, name="predicted")

    def lrt(self, other: MixedResult, refit: bool = True) -> LrtResult:
        """Likelihood-ratio test against another model fitted to the same rows, as R's ``anova(m0, m1)``.

        As ``anova.merMod``, REML fits are refitted with ML first (``refit=True``), because REML likelihoods
        of models with different fixed effects are not comparable. Only set ``refit=False`` when the models
        differ only in their random effects and both were fitted with REML.
        """
        if self.family != other.family:
            raise DataError("lrt compares models of the same family")
        if not self._state.frame.index.equals(other._state.frame.index):
            raise DataError(
                f"the models were fitted to different rows ({self.nobs} and {other.nobs}); refit both on the "
                "complete cases of the larger model"
            )
        a, b = self, other
        refitted = refit and (a.reml or b.reml)
        if refitted:
            a, b = a._refit_ml(), b._refit_ml()
        small, big = (a, b) if a.df_loglik <= b.df_loglik else (b, a)
        chisq = max(2.0 * (big.loglik - small.loglik), 0.0)
        ddf = big.df_loglik - small.df_loglik
        p = float(stats.chi2.sf(chisq, ddf)) if ddf > 0 else math.nan
        return LrtResult(chisq, ddf, p, small.loglik, big.loglik, small.aic, big.aic, refitted)

    def _refit_ml(self) -> MixedResult:
        if not self.reml:
            return self
        return mixed(self.formula, self._state.frame, reml=False, family=self.family)  # type: ignore[arg-type]


def _fixed_vars(parsed: ParsedFormula) -> set[str]:
    return {v for t in parsed.fixed for v in t}


def _random_matrix(encoding: Encoding, frame: pd.DataFrame, term: RandomTerm) -> tuple[np.ndarray, list[str]]:
    return encoding.matrix(frame, term.intercept, term.terms)


def _group_labels(frame: pd.DataFrame, group_vars: tuple[str, ...]) -> np.ndarray:
    if len(group_vars) == 1:
        col = frame[group_vars[0]]
        # Integer ids stay integers (fast to sort and look up); everything else is compared as objects.
        if pd.api.types.is_integer_dtype(col) and not pd.api.types.is_bool_dtype(col):
            return col.to_numpy()
        return col.to_numpy(dtype=object)
    parts = [frame[v].astype(str).to_numpy(dtype=object) for v in group_vars]
    out = parts[0]
    for p in parts[1:]:
        out = out + ":" + p
    return np.asarray(out, dtype=object)


def _integer_codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct integer ids and each label's position among them (by table lookup when the ids
    are dense, as client and therapist numbers are)."""
    lo, hi = int(labels.min()), int(labels.max())
    if hi - lo <= 4 * len(labels) + 1000:
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[labels - lo] = True
        levels = np.flatnonzero(present) + lo
        lookup = np.cumsum(present) - 1
        return levels.astype(labels.dtype), lookup[labels - lo]
    levels, codes = np.unique(labels, return_inverse=True)
    return levels, codes.ravel()


def _sorted_levels(labels: np.ndarray) -> pd.Index:
    if labels.dtype.kind in "iu" and len(labels):
        return pd.Index(_integer_codes(labels)[0])
    uniq = pd.unique(labels)
    try:
        return pd.Index(sorted(uniq))
    except TypeError:
        return pd.Index(sorted(uniq, key=str))


def _validate(data: pd.DataFrame, parsed: ParsedFormula, family: str) -> tuple[pd.DataFrame, pd.Index]:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if family not in ("gaussian", "binomial"):
        raise DataError(f"family must be 'gaussian' or 'binomial', not {family!r}")
    names = parsed.variables()
    missing = [v for v in names if v not in data.columns]
    if missing:
        raise DataError(
            f"formula {parsed.text!r} names columns that are not in the data: {missing}",
            [Problem("no such column", column=v) for v in missing],
        )
    if not parsed.random:
        raise DataError(
            f"formula {parsed.text!r} has no random term; add one like (1 | client_id), or use an OLS model"
        )
    y = data[parsed.response]
    if not (pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y)):
        raise DataError(
            f"outcome {parsed.response!r} must be numeric (it has dtype {y.dtype}); convert it, e.g. with "
            "pd.to_numeric, or recode a categorical outcome to 0/1 and use family='binomial'"
        )
    complete = data[names].notna().all(axis=1)
    frame = data.loc[complete, names]
    dropped = data.index[~complete]
    if family == "binomial":
        yv = frame[parsed.response].astype(float)
        bad = ~yv.isin([0.0, 1.0])
        if bad.any():
            rows = frame.index[bad][:20]
            raise DataError(
                f"binomial outcome {parsed.response!r} must be 0/1; found other values",
                [
                    Problem(f"value {frame.at[r, parsed.response]!r}", row=r, column=parsed.response)
                    for r in rows
                ],
            )
    problems: list[Problem] = []
    seen: set[str] = set()
    for term in parsed.random:
        if term.group in seen:
            continue
        seen.add(term.group)
        n_levels = len(pd.unique(_group_labels(frame, term.group_vars)))
        if n_levels < 2:
            problems.append(
                Problem(
                    f"grouping factor {term.group!r} has {n_levels} level(s) in the complete rows; a random "
                    "effect needs at least 2 groups (in practice 5 or more)"
                )
            )
    if len(frame) == 0:
        problems.append(Problem("no complete rows: every row misses at least one model variable"))
    if problems:
        raise DataError("the data cannot be fitted with this mixed model", problems)
    return frame, dropped


def _check_slopes(term: RandomTerm, z: np.ndarray, cols: list[str], codes: np.ndarray, n_levels: int) -> None:
    """A random slope on a variable that never varies within a group cannot be told from the intercept."""
    # Each group's first row: the slope is constant within every group iff every row equals it.
    first = np.empty(n_levels, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    for j, name in enumerate(cols):
        if name == "(Intercept)":
            continue
        if np.array_equal(z[:, j], z[first[codes], j]):
            raise DataError(
                f"random slope {name!r} in ({' + '.join(cols)} | {term.group}) is constant within every "
                f"level of {term.group!r}, so its variance cannot be estimated; drop it from the random "
                "part (keep it as a fixed effect)"
            )


def _varcomp(blocks: list[_Block], covs: list[np.ndarray], sigma2: float | None) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for block, cov in zip(blocks, covs, strict=True):
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        for i, c in enumerate(block.columns):
            rows.append({"group": block.name, "var1": c, "var2": None, "vcov": cov[i, i], "sdcor": sd[i]})
        for i in range(len(block.columns)):
            for j in range(i + 1, len(block.columns)):
                denom = sd[i] * sd[j]
                corr = cov[i, j] / denom if denom > 0 else math.nan
                rows.append(
                    {
                        "group": block.name,
                        "var1": block.columns[i],
                        "var2": block.columns[j],
                        "vcov": cov[i, j],
                        "sdcor": corr,
                    }
                )
    if sigma2 is not None:
        rows.append(
            {"group": "Residual", "var1": None, "var2": None, "vcov": sigma2, "sdcor": math.sqrt(sigma2)}
        )
    # Object columns keep None where R has NA (pandas would otherwise infer strings with NaN).
    out = {c: pd.Series([r[c] for r in rows], dtype=object) for c in ("group", "var1", "var2")}
    out |= {c: pd.Series([r[c] for r in rows], dtype=float) for c in ("vcov", "sdcor")}
    return pd.DataFrame(out)


def _lme4_block_order(n_levels: list[int]) -> list[int]:
    """lme4's mkReTrms: if any term has more levels than the one before, order by levels, decreasing."""
    idx = list(range(len(n_levels)))
    if any(b > a for a, b in itertools.pairwise(n_levels)):
        idx = sorted(idx, key=lambda i: n_levels[i])[::-1]
    return idx


def mixed(
    formula: str,
    data: pd.DataFrame,
    reml: bool = True,
    family: Family = "gaussian",
    nagq: int = 1,
) -> MixedResult:
    """Fit a linear or logistic mixed model with an lme4-style formula.

    Parameters
    ----------
    formula : str
        lme4 syntax, e.g. ``"alliance ~ session + cried + (1 + session | client_id) + (1 | therapist_id)"``.
        Supported: ``+``, ``:``, ``*``, ``0 +``/``- 1``; random terms ``(1 | g)``, ``(1 + x | g)``,
        ``(0 + x | g)``, ``(x || g)``, ``(1 | a/b)``, ``(1 | a:b)``; crossed factors as separate terms.
        String and categorical columns get treatment contrasts named like R (``genderwoman``); booleans
        enter as 0/1 under their own name (R would call them ``criedTRUE``).
    data : DataFrame
        One row per observation. Rows missing any model variable are dropped (counted in ``.excluded``).
    reml : bool
        REML (default, as ``lmer``) or maximum likelihood. Ignored for binomial models (always ML/Laplace).
    family : {"gaussian", "binomial"}
        Linear mixed model (``lmer``) or logistic mixed model (``glmer``, Laplace approximation, nAGQ = 1).
    nagq : int
        Binomial models only: quadrature points per random effect, as glmer's ``nAGQ``. 1 (default) is the
        Laplace approximation; k > 1 is adaptive Gauss-Hermite quadrature with k points, available (as in
        glmer) only for a single scalar random term such as ``(1 | client_id)``. ``mixed(f, data,
        family="binomial", nagq=9)`` matches ``glmer(f, data, family = binomial, nAGQ = 9)``. The
        log-likelihood, AIC and BIC are then those of the quadrature.

    Returns
    -------
    MixedResult

    Raises
    ------
    DataError
        Missing columns, non-numeric outcome, binomial outcome not 0/1, a grouping factor with fewer than
        2 levels, or a random slope on a variable constant within every group. Gaussian models also, as
        lmer refuses them: a grouping factor with as many levels as observations (one observation per
        group), or as many random effects as observations (e.g. a random slope with two per group).
    ValueError
        ``nagq`` not a whole number >= 1, ``nagq`` other than 1 for a gaussian model, or ``nagq`` > 1 with
        several random terms or a vector-valued one (glmer refuses these too).

    Warns
    -----
    SingularFitWarning
        A variance is estimated as 0 or a correlation as +-1 (as lme4's ``isSingular``).
    ConvergenceWarning
        The optimiser did not report convergence.

    Notes
    -----
    Checked in ``tests/longitudinal`` against R (lme4 1.1-31, lmerTest) on lme4's sleepstudy and a
    simulated three-level data set::

        fit <- lmerTest::lmer(y ~ session + cried + (1 + session | client) + (1 | therapist), data)
        summary(fit); as.data.frame(VarCorr(fit)); logLik(fit)
        glmer(cried ~ session + anx + (1 | client), data, family = binomial, nAGQ = 1)

    Linear models: fixed effects, standard errors, ``vcov`` and variance components agree with R to 1e-6
    (relative) of lme4's optimum (``tests/reference/lme4_engine.R``: the goldens, lme4's InstEval and
    simulated extremes), Satterthwaite df to 2e-5. The numerical work is lacrima's own engine
    (``lacrima/longitudinal/_engine.py``: profiled REML/ML in lme4's parametrisation on cross-products
    formed once, the block structure of the random effects exploited; PIRLS, Laplace and adaptive
    Gauss-Hermite quadrature for binomial models).
    """
    parsed = parse_formula(formula)
    if isinstance(nagq, bool) or not isinstance(nagq, (int, np.integer)) or nagq < 1:
        raise ValueError(f"nagq must be a whole number >= 1 (quadrature points), not {nagq!r}")
    if nagq != 1 and family != "binomial":
        raise ValueError(f"nagq applies to binomial models only (glmer's nAGQ), not to family={family!r}")
    frame, dropped = _validate(data, parsed, family)
    predictors = [v for v in parsed.variables() if v != parsed.response]
    group_cols = {g for t in parsed.random for g in t.group_vars}
    encoding = Encoding.from_frame(
        frame, [v for v in predictors if v not in group_cols or _in_effects(parsed, v)]
    )
    y = frame[parsed.response].to_numpy(dtype=float)
    x, fixed_names = encoding.matrix(frame, parsed.intercept, parsed.fixed)
    rank = np.linalg.matrix_rank(x) if x.shape[1] else 0
    if rank < x.shape[1]:
        raise DataError(
            f"the fixed effects {fixed_names} are linearly dependent (rank {rank} of {x.shape[1]}); R's lmer "
            "would drop columns silently; remove the redundant term"
        )

    raw: list[tuple[RandomTerm, np.ndarray, list[str], pd.Index, np.ndarray]] = []
    for term in parsed.random:
        z, cols = _random_matrix(encoding, frame, term)
        labels = _group_labels(frame, term.group_vars)
        if labels.dtype.kind in "iu":
            ids, codes = _integer_codes(labels)
            levels = pd.Index(ids)
        else:
            levels = _sorted_levels(labels)
            codes = levels.get_indexer(pd.Index(labels))
        _check_slopes(term, z, cols, codes, len(levels))
        raw.append((term, z, cols, levels, codes))
    order = _lme4_block_order([len(r[3]) for r in raw])
    raw = [raw[i] for i in order]
    if nagq > 1 and (len(raw) != 1 or raw[0][1].shape[1] != 1):
        raise ValueError(
            f"nagq={nagq} (adaptive Gauss-Hermite quadrature) needs a single scalar random term such as "
            f"(1 | client_id), as glmer's nAGQ > 1; {formula!r} has another structure: use nagq=1 (Laplace)"
        )

    seen: dict[str, int] = {}
    blocks: list[_Block] = []
    for term, _, cols, levels, _ in raw:
        # VarCorr names repeated factors as R's make.unique does: client, client.1, client.2.
        k = seen.get(term.group, 0)
        seen[term.group] = k + 1
        name = term.group if k == 0 else f"{term.group}.{k}"
        blocks.append(_Block(term, name, tuple(cols), levels))

    eng = fit(
        y,
        x,
        parsed.intercept,
        [Block(z, term.intercept, codes, len(levels)) for term, z, _, levels, codes in raw],
        family,
        reml and family == "gaussian",
        nagq=int(nagq),
    )
    use_reml = reml and family == "gaussian"
    result = _assemble(parsed, family, use_reml, frame, dropped, encoding, fixed_names, blocks, eng)
    if result.singular:
        warnings.warn(
            f"singular fit for {formula!r}: a random-effect variance is estimated as 0 or a correlation as "
            "+-1 (see .varcomp). The random-effects structure is too rich for these data; simplify it, e.g. "
            "drop a random slope or a correlation with '||'. Fixed-effect tests remain usable but df are "
            "approximate.",
            SingularFitWarning,
            stacklevel=2,
        )
    if not result.converged:
        warnings.warn(
            f"the optimiser did not converge for {formula!r} ({eng.message or 'no message'}); estimates may "
            "be off. Rescale predictors (e.g. session in tens) or simplify the random effects.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result


def _in_effects(parsed: ParsedFormula, var: str) -> bool:
    return var in _fixed_vars(parsed) or any(var in t for r in parsed.random for t in r.terms)


def _assemble(
    parsed: ParsedFormula,
    family: str,
    reml: bool,
    frame: pd.DataFrame,
    dropped: pd.Index,
    encoding: Encoding,
    fixed_names: list[str],
    blocks: list[_Block],
    eng: EngineFit,
) -> MixedResult:
    # Symmetric to the last bit (the engine's LMM covariance is off by ~1e-19), as R's dpoMatrix.
    vcov = (eng.vcov + eng.vcov.T) / 2.0
    se = np.sqrt(np.diag(vcov))
    stat = eng.beta / se
    if family == "gaussian" and eng.ddf is not None:
        df = eng.ddf
        p = 2.0 * stats.t.sf(np.abs(stat), df)
        q = stats.t.ppf(0.975, df)
    else:
        df = np.full(len(eng.beta), np.inf)
        p = 2.0 * stats.norm.sf(np.abs(stat))
        q = np.full(len(eng.beta), stats.norm.ppf(0.975))
    fixed = pd.DataFrame(
        {
            "estimate": eng.beta,
            "se": se,
            "df": df,
            "t": stat,
            "p": p,
            "ci_low": eng.beta - q * se,
            "ci_high": eng.beta + q * se,
        },
        index=pd.Index(fixed_names, name="term"),
    )
    vcov_frame = pd.DataFrame(vcov, index=pd.Index(fixed_names, name="term"), columns=pd.Index(fixed_names))
    nobs = len(frame)
    npar = len(eng.beta) + eng.ntheta + (1 if family == "gaussian" else 0)
    ngroups: dict[str, int] = {}
    for b in blocks:
        ngroups.setdefault(b.term.group, len(b.levels))
    state = _State(
        parsed, encoding, frame, tuple(blocks), eng.beta, tuple(eng.ranef), npar, tuple(eng.ranef_condvar)
    )
    return MixedResult(
        formula=parsed.text,
        family=family,
        reml=reml,
        fixed=fixed,
        vcov=vcov_frame,
        varcomp=_varcomp(blocks, eng.covs, eng.sigma2),
        loglik=eng.loglik,
        df_loglik=npar,
        aic=-2.0 * eng.loglik + 2.0 * npar,
        bic=-2.0 * eng.loglik + math.log(nobs) * npar,
        nobs=nobs,
        ngroups=ngroups,
        converged=eng.converged,
        singular=eng.singular,
        excluded=len(dropped),
        excluded_rows=tuple(dropped),
        _state=state,
    )
