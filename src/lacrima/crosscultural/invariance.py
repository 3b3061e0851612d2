"""Measurement invariance across groups: configural, metric, scalar and strict models, and partial
invariance by releasing equality constraints one at a time.

Each step adds equality constraints across groups (lavaan's ``group.equal``):

- ``configural``: same factor structure, everything free in every group;
- ``metric``: equal loadings (``group.equal = "loadings"``);
- ``scalar``: equal loadings and intercepts, latent means free in groups 2..G and fixed to 0 in the first
  (``group.equal = c("loadings", "intercepts")``);
- ``strict``: also equal residual variances (``group.equal = c("loadings", "intercepts", "residuals")``).

A step *holds* when fit does not get much worse than at the step before, by Chen's (2007) cut-offs:
change in CFI of at least -0.010 and change in RMSEA of at most +0.015.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from lacrima._results import Result, to_jsonable
from lacrima.crosscultural import _cfa_engine as engine
from lacrima.crosscultural._cfa_fit import chisq_sf
from lacrima.crosscultural.cfa import CFAResult, fit_prepared, prepare_data
from lacrima.errors import DataError

__all__ = ["STEPS", "InvarianceResult", "PartialInvarianceResult", "invariance"]

#: each invariance step and the parameter kinds it holds equal across groups
STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}
_NEW_KIND = {"metric": "loadings", "scalar": "intercepts", "strict": "residuals"}
_OP_SUFFIX = {"=~": "{lhs}=~{rhs}", "~1": "{lhs}~1", "~~": "{lhs}~~{rhs}"}

_COLUMNS = [
    "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_low", "rmsea_ci_high", "srmr", "aic", "bic",
    "delta_chisq", "delta_df", "delta_p", "delta_cfi", "delta_rmsea", "decision",
]  # fmt: skip


def _compare(fit: CFAResult, reference: CFAResult | None, cutoffs: tuple[float, float]) -> dict[str, Any]:
    row: dict[str, Any] = dict(fit.fit_measures())
    if reference is None:
        row.update(
            delta_chisq=np.nan, delta_df=np.nan, delta_p=np.nan, delta_cfi=np.nan, delta_rmsea=np.nan,
            decision="reference",
        )  # fmt: skip
        return row
    d_chisq = fit.chisq - reference.chisq
    d_df = fit.df - reference.df
    d_cfi = fit.cfi - reference.cfi
    d_rmsea = fit.rmsea - reference.rmsea
    row.update(
        delta_chisq=d_chisq,
        delta_df=float(d_df),
        delta_p=chisq_sf(d_chisq, d_df) if d_df > 0 else np.nan,
        delta_cfi=d_cfi,
        delta_rmsea=d_rmsea,
        decision="holds" if (d_cfi >= -cutoffs[0] and d_rmsea <= cutoffs[1]) else "fails",
    )
    return row


def _drop_private(obj: Result) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(obj).__name__}
    for f in fields(obj):  # type: ignore[arg-type]
        if not f.name.startswith("_"):
            out[f.name] = to_jsonable(getattr(obj, f.name))
    return out


@dataclass(frozen=True, eq=False)
class PartialInvarianceResult(Result):
    """Partial invariance at one step, found by releasing constraints one at a time.

    Attributes
    ----------
    step : str
        The invariance step made partial (``metric``, ``scalar`` or ``strict``).
    compared_with : str
        The step whose fit the partial model is compared with.
    freed : tuple of str
        Released constraints in order, in lavaan syntax with the group, e.g. ``"x3~1 [Grant-White]"``.
    holds : bool
        Whether the final partial model meets the cut-offs.
    iterations : DataFrame
        One row per model tried (see :meth:`table`).
    fit : CFAResult
        The final partial model.
    """

    step: str
    compared_with: str
    freed: tuple[str, ...]
    holds: bool
    iterations: pd.DataFrame
    fit: CFAResult

    def table(self) -> pd.DataFrame:
        """The models tried, indexed by iteration (0 = the full step): columns ``freed, group, score_x2``
        (the constraint released before this fit and its score test) and the invariance table's columns,
        the deltas taken against ``compared_with``."""
        return self.iterations.copy()

    def to_dict(self) -> dict[str, Any]:
        return _drop_private(self)


@dataclass(frozen=True, eq=False)
class InvarianceResult(Result):
    """Fits of the invariance steps and their comparison.

    Attributes
    ----------
    model : str
        The model syntax.
    group : str
        The group column.
    groups : tuple of str
        Group labels; the first is the reference whose latent means are fixed to 0.
    n : tuple of int
        Complete cases per group.
    excluded : int
        Rows dropped (listwise) for a missing model variable or group.
    steps : tuple of str
        The steps fitted, in order.
    fits : Mapping[str, CFAResult]
        The fitted model of each step.
    cutoffs : tuple of float
        ``(cfi, rmsea)``: a step holds when CFI drops by at most ``cfi`` and RMSEA rises by at most
        ``rmsea`` relative to the step before.
    """

    model: str
    group: str
    groups: tuple[str, ...]
    n: tuple[int, ...]
    excluded: int
    steps: tuple[str, ...]
    fits: Mapping[str, CFAResult]
    cutoffs: tuple[float, float]

    def table(self) -> pd.DataFrame:
        """One row per step (index ``step``) with columns ``chisq, df, pvalue, cfi, tli, rmsea,
        rmsea_ci_low, rmsea_ci_high, srmr, aic, bic, delta_chisq, delta_df, delta_p, delta_cfi,
        delta_rmsea, decision``. Deltas compare each step with the one before (chi-square difference
        test); ``decision`` is ``"holds"`` or ``"fails"`` by the cut-offs, ``"reference"`` for the first."""
        rows = []
        previous: CFAResult | None = None
        for step in self.steps:
            fit = self.fits[step]
            rows.append(_compare(fit, previous, self.cutoffs))
            previous = fit
        out = pd.DataFrame(rows, index=pd.Index(list(self.steps), name="step"))
        return out[_COLUMNS]

    def partial(self, step: str, max_free: int | None = None) -> PartialInvarianceResult:
        """Partial invariance: release the constraint with the largest score test, refit, and repeat
        until the step holds against the step before it.

        Only the constraints the step adds are candidates (loadings for ``metric``, intercepts for
        ``scalar``, residual variances for ``strict``). A released constraint frees the parameter in one
        group (with two groups this is lavaan's ``group.partial``).

        Parameters
        ----------
        step : str
            ``"metric"``, ``"scalar"`` or ``"strict"``; it and the step before it must have been fitted.
        max_free : int, optional
            Stop after releasing this many constraints (default: as many as the step added).

        Notes
        -----
        Score tests as lavaan 0.6-14's ``lavTestScore(fit)$uni``; each refit matches
        ``cfa(model, data, group = g, group.equal = ..., group.partial = c("x3~1", ...))``.
        """
        if step not in _NEW_KIND:
            raise DataError(f"partial invariance applies to metric, scalar or strict, not {step!r}")
        if step not in self.steps:
            raise DataError(f"step {step!r} was not fitted; include it in invariance(steps=...)")
        pos = self.steps.index(step)
        if pos == 0:
            raise DataError(f"step {step!r} has no earlier step to compare with; fit the steps before it too")
        reference = self.fits[self.steps[pos - 1]]
        current = self.fits[step]
        kind = _NEW_KIND[step]
        released: list[tuple[int, str, str, str]] = []
        freed: list[str] = []
        rows = [{"freed": "", "group": "", "score_x2": np.nan, **_compare(current, reference, self.cutoffs)}]
        limit = max_free if max_free is not None else 10**9
        while rows[-1]["decision"] != "holds" and len(released) < limit:
            tests = current.score_tests()
            tests = tests[tests["kind"] == kind]
            if tests.empty:
                break
            best = tests.iloc[int(np.argmax(tests["x2"].to_numpy()))]
            g = self.groups.index(str(best["group"]))
            released.append((g, str(best["lhs"]), str(best["op"]), str(best["rhs"])))
            label = _OP_SUFFIX[str(best["op"])].format(lhs=best["lhs"], rhs=best["rhs"])
            freed.append(f"{label} [{best['group']}]")
            current = _refit_released(current, STEPS[step], released)
            rows.append(
                {"freed": label, "group": str(best["group"]), "score_x2": float(best["x2"]),
                 **_compare(current, reference, self.cutoffs)}
            )  # fmt: skip
        table = pd.DataFrame(rows, index=pd.RangeIndex(len(rows), name="iteration"))
        return PartialInvarianceResult(
            step=step,
            compared_with=self.steps[pos - 1],
            freed=tuple(freed),
            holds=rows[-1]["decision"] == "holds",
            iterations=table,
            fit=current,
        )

    def to_dict(self) -> dict[str, Any]:
        return _drop_private(self)


def _warm_start(previous: CFAResult, new: engine.Structure) -> np.ndarray:
    """Starting values for a related model from a previous fit: each new parameter starts at the mean of
    the previous estimates of the entries it covers (same parameter table row order in both models)."""
    state = previous._state
    total = np.zeros(new.npar)
    count = np.zeros(new.npar)
    for old_row, new_row in zip(state.structure.rows, new.rows, strict=True):
        if new_row.free >= 0:
            total[new_row.free] += state.x[old_row.free] if old_row.free >= 0 else old_row.value
            count[new_row.free] += 1.0
    return np.asarray(total / np.maximum(count, 1.0), dtype=float)


def _refit_released(
    previous: CFAResult, equal: Sequence[str], released: Sequence[tuple[int, str, str, str]]
) -> CFAResult:
    """Refit with more constraints released, starting from the previous estimates."""
    prepared = previous._state.prepared
    new = engine.build_structure(prepared.model, len(prepared.groups), equal, released)
    return fit_prepared(prepared, equal, released, x0=_warm_start(previous, new))


def invariance(
    df: pd.DataFrame,
    model: str,
    group: str,
    steps: Sequence[str] = ("configural", "metric", "scalar", "strict"),
    cutoffs: tuple[float, float] = (0.010, 0.015),
) -> InvarianceResult:
    """Test measurement invariance of a factor model across groups.

    Parameters
    ----------
    df : DataFrame
        One row per respondent with the indicators and the group column.
    model : str
        lavaan-style measurement syntax, e.g. ``"bond =~ wai_03 + wai_05 + wai_07"``.
    group : str
        Column defining the groups (at least two).
    steps : sequence of str
        Steps to fit, in order, from ``configural, metric, scalar, strict``.
    cutoffs : (float, float)
        Allowed drop in CFI and rise in RMSEA from one step to the next (Chen, 2007: 0.010 and 0.015).

    Returns
    -------
    InvarianceResult
        ``.table()`` compares the steps; ``.fits[step]`` holds each model; ``.partial(step)`` searches
        for partial invariance.

    Raises
    ------
    DataError
        Unknown or out-of-order steps, fewer than two groups, and every problem :func:`cfa` rejects.

    Notes
    -----
    Checked against lavaan 0.6-14 (``tests/reference/lavaan_hs.R``)::

        cfa(model, data = df, group = "school", group.equal = c("loadings", "intercepts"))

    and ``fitMeasures``; see :func:`lacrima.crosscultural.cfa.cfa` for the estimator. Chen, F. F. (2007).
    Sensitivity of goodness of fit indexes to lack of measurement invariance. Structural Equation
    Modeling, 14(3), 464-504. Chen also proposes a change in SRMR (0.030 for loadings, 0.010 for
    intercepts and residuals); it is in the table but not in ``decision``.
    """
    order = list(STEPS)
    steps = tuple(steps)
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise DataError(f"unknown invariance steps {unknown}; choose from {order}")
    if len(set(steps)) != len(steps) or [order.index(s) for s in steps] != sorted(
        order.index(s) for s in steps
    ):
        raise DataError(f"steps must be distinct and in the order {order}, got {list(steps)}")
    if len(cutoffs) != 2 or not all(np.isfinite(c) and c >= 0 for c in cutoffs):
        raise DataError("cutoffs must be two non-negative numbers: (drop in CFI, rise in RMSEA)")
    prepared = prepare_data(df, model, group)
    if len(prepared.groups) < 2:
        raise DataError(
            f"column {group!r} has {len(prepared.groups)} group with complete data; "
            "invariance needs at least 2"
        )
    fits: dict[str, CFAResult] = {}
    previous: CFAResult | None = None
    for step in steps:
        # each step starts from the previous step's estimates (equal parameters at their mean)
        x0 = None
        if previous is not None:
            structure = engine.build_structure(prepared.model, len(prepared.groups), STEPS[step])
            x0 = _warm_start(previous, structure)
        previous = fits[step] = fit_prepared(prepared, STEPS[step], x0=x0)
    return InvarianceResult(
        model=model,
        group=group,
        groups=prepared.groups,
        n=tuple(mo.n for mo in prepared.moments),
        excluded=prepared.excluded,
        steps=steps,
        fits=fits,
        cutoffs=(float(cutoffs[0]), float(cutoffs[1])),
    )
