"""Measurement invariance of the crying and alliance scales across sites and genders, and group means
licensed (or not) by scalar invariance.

Private helpers of :mod:`lacrima.crosscultural.multisite`. Nothing here rounds numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lacrima.analysis import welch_anova
from lacrima.crosscultural._cfa_syntax import parse_model
from lacrima.crosscultural.invariance import InvarianceResult, invariance
from lacrima.errors import ConvergenceWarning, DataError
from lacrima.instruments import load_instrument

__all__ = [
    "CONFIGURAL_FIT",
    "Grouping",
    "InvarianceRun",
    "ScaleModel",
    "as_models",
    "default_invariance_models",
    "group_means",
    "run_invariance",
]

#: a configural model counts as fitting when CFI >= 0.90 and RMSEA <= 0.10 (the usual "acceptable" and
#: "mediocre" bounds; Hu & Bentler, 1999; MacCallum, Browne & Sugawara, 1996)
CONFIGURAL_FIT = (0.90, 0.10)
_LEVELS = ("configural", "metric", "scalar", "strict")


@dataclass(frozen=True)
class ScaleModel:
    """A factor model whose invariance is tested before means of its scales are compared.

    Attributes
    ----------
    name : str
        Short name used in tables (``"wai_sr"``).
    model : str
        lavaan-style measurement syntax.
    label : str
        Readable name for the report.
    scales : tuple of str
        Score columns whose group means this model licenses (``wai_goal``, ...).
    subset : Mapping[str, tuple]
        Rows the model is about, as in an analysis plan (``{"cried_in_therapy": (1,)}``).
    """

    name: str
    model: str
    label: str = ""
    scales: tuple[str, ...] = ()
    subset: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def select(self, data: pd.DataFrame) -> pd.DataFrame:
        mask = pd.Series(True, index=data.index)
        for col, allowed in self.subset.items():
            if col not in data.columns:
                raise DataError(f"model {self.name!r} selects rows on column {col!r}, which the data lacks")
            mask &= data[col].isin(list(allowed))
        return data.loc[mask]


def _factors(instrument: str, subscales: Sequence[str]) -> str:
    ins = load_instrument(instrument)
    return "\n".join(f"{s} =~ " + " + ".join(ins.subscale_columns(s)) for s in subscales)


def default_invariance_models() -> dict[str, ScaleModel]:
    """The default models, built from the instrument definitions.

    - ``wai_sr``: goal, task and bond, one factor per WAI-SR subscale (12 items);
    - ``crying``: positive feelings, negative feelings and cognitive change after crying (13 items of
      ``crying_in_therapy``), among participants who have cried in therapy.

    Reverse-keyed items enter as answered: flipping an indicator's sign changes the sign of its loading
    but no fit statistic, so invariance decisions are the same.
    """
    cry = ("positive_feelings", "negative_feelings", "cognitive_change")
    return {
        "wai_sr": ScaleModel(
            name="wai_sr",
            model=_factors("wai_sr", ("goal", "task", "bond")),
            label="Working alliance (WAI-SR: goal, task, bond)",
            scales=("wai_goal", "wai_task", "wai_bond", "wai_total"),
        ),
        "crying": ScaleModel(
            name="crying",
            model=_factors("crying_in_therapy", cry),
            label="Crying experience (positive feelings, negative feelings, cognitive change)",
            scales=tuple(f"cry_{s}" for s in cry),
            subset={"cried_in_therapy": (1,)},
        ),
    }


def as_models(models: Mapping[str, ScaleModel | str] | None) -> dict[str, ScaleModel]:
    """The default models (None), or the given ones; a plain string is a model syntax with no scales."""
    if models is None:
        return default_invariance_models()
    out: dict[str, ScaleModel] = {}
    for name, spec in models.items():
        if isinstance(spec, ScaleModel):
            out[str(name)] = spec
        elif isinstance(spec, str):
            out[str(name)] = ScaleModel(name=str(name), model=spec, label=str(name))
        else:
            raise DataError(
                f"invariance model {name!r} must be lavaan-style syntax (a string) or a ScaleModel; "
                f"got {type(spec).__name__}"
            )
    return out


@dataclass(frozen=True)
class Grouping:
    """A comparison: ``name`` for tables, the group ``column`` and the ``groups`` compared (in order)."""

    name: str
    column: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class InvarianceRun:
    model: str
    grouping: str
    result: InvarianceResult | None
    level: str
    reason: str
    warnings: tuple[str, ...]


def _level(table: pd.DataFrame) -> str:
    """The highest step that holds, every step before it holding too ("none" when configural fit is poor)."""
    conf = table.iloc[0]
    if not (conf["cfi"] >= CONFIGURAL_FIT[0] and conf["rmsea"] <= CONFIGURAL_FIT[1]):
        return "none"
    level = str(table.index[0])
    for step, row in table.iloc[1:].iterrows():
        if row["decision"] != "holds":
            break
        level = str(step)
    return level


def run_invariance(data: pd.DataFrame, spec: ScaleModel, grouping: Grouping) -> InvarianceRun:
    """Fit the invariance steps of one model across one grouping; record, never raise, why it failed."""
    try:
        rows = spec.select(data)
    except DataError as exc:
        return InvarianceRun(spec.name, grouping.name, None, "not tested", str(exc), ())
    if grouping.column not in rows.columns:
        return InvarianceRun(
            spec.name, grouping.name, None, "not tested", f"the data has no {grouping.column!r} column", ()
        )
    rows = rows[rows[grouping.column].astype("string").isin(grouping.groups)]
    try:
        observed = list(parse_model(spec.model).observed)
    except DataError as exc:
        return InvarianceRun(spec.name, grouping.name, None, "not tested", exc.summary, ())
    rows = rows[[c for c in dict.fromkeys([*observed, grouping.column]) if c in rows.columns]]
    frame = rows.assign(
        **{grouping.column: pd.Categorical(rows[grouping.column].astype(str), list(grouping.groups))}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = invariance(frame, spec.model, grouping.column)
            reason = ""
        except DataError as exc:
            result, reason = (
                None,
                exc.summary + (": " + "; ".join(str(p) for p in exc.problems) if exc.problems else ""),
            )
        except (np.linalg.LinAlgError, ArithmeticError, ValueError) as exc:
            result, reason = None, f"the model could not be fitted ({type(exc).__name__}: {exc})"
    messages = tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    if result is None:
        return InvarianceRun(spec.name, grouping.name, None, "not tested", reason, messages)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return InvarianceRun(
            spec.name,
            grouping.name,
            result,
            "not determined",
            "a step did not converge, so the comparison of steps is not trustworthy",
            messages,
        )
    return InvarianceRun(spec.name, grouping.name, result, _level(result.table()), "", messages)


def invariance_tables(
    runs: Sequence[InvarianceRun], models: Mapping[str, ScaleModel]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(steps, summary): the step tables stacked with ``model`` and ``grouping`` columns, and one row per
    model x grouping with the groups, their sizes, the level reached and why a model was not fitted."""
    steps: list[pd.DataFrame] = []
    summary: list[dict[str, Any]] = []
    for run in runs:
        res = run.result
        if res is not None:
            t = res.table().reset_index()
            t.insert(0, "grouping", run.grouping)
            t.insert(0, "model", run.model)
            steps.append(t)
        summary.append(
            {
                "model": run.model,
                "label": models[run.model].label or run.model,
                "grouping": run.grouping,
                "groups": tuple(res.groups) if res is not None else (),
                "n": tuple(int(n) for n in res.n) if res is not None else (),
                "n_total": int(sum(res.n)) if res is not None else 0,
                "excluded": int(res.excluded) if res is not None else 0,
                "level": run.level,
                "scalar": run.level in ("scalar", "strict"),
                "reason": run.reason,
                "warnings": " | ".join(run.warnings),
            }
        )
    steps_frame = (
        pd.concat(steps, ignore_index=True) if steps else pd.DataFrame(columns=["model", "grouping", "step"])
    )
    return steps_frame, pd.DataFrame(summary)


def _licence_note(run: InvarianceRun | None) -> str:
    if run is None:
        return "invariance not tested for this scale"
    if run.level in ("scalar", "strict"):
        return f"{run.level} invariance holds: means can be compared"
    if run.level == "metric":
        return "only metric invariance holds: compare correlations, not means"
    if run.level == "configural":
        return "only configural invariance holds: means are not comparable"
    if run.level == "none":
        return "the configural model fits poorly: means are not comparable"
    return f"invariance {run.level} ({run.reason}): means are not licensed"


def group_means(
    data: pd.DataFrame,
    models: Mapping[str, ScaleModel],
    groupings: Sequence[Grouping],
    runs: Sequence[InvarianceRun],
) -> tuple[pd.DataFrame, list[str]]:
    """Means of each model's scales by group, with Welch's ANOVA and whether scalar invariance licenses
    comparing them."""
    by_key = {(r.model, r.grouping): r for r in runs}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for spec in models.values():
        try:
            selected = spec.select(data)
        except DataError:
            continue
        for grouping in groupings:
            run = by_key.get((spec.name, grouping.name))
            if grouping.column not in selected.columns:
                continue
            sub = selected[selected[grouping.column].astype("string").isin(grouping.groups)]
            for scale in spec.scales:
                if scale not in sub.columns:
                    continue
                values = pd.to_numeric(sub[scale], errors="coerce")
                f = df1 = df2 = p = math.nan
                with warnings.catch_warnings(record=True):
                    warnings.simplefilter("always")
                    try:
                        frame = pd.DataFrame({"y": values, "g": sub[grouping.column].astype(str)})
                        w = welch_anova(frame, "y", "g", groups=list(grouping.groups))
                        f, df1, df2, p = w.f, w.df1, w.df2, w.p
                    except DataError as exc:
                        notes.append(f"Means of {scale} by {grouping.name}: no Welch test: {exc.summary}")
                for g in grouping.groups:
                    v = values[(sub[grouping.column].astype("string") == g).to_numpy()].dropna()
                    rows.append(
                        {
                            "grouping": grouping.name,
                            "model": spec.name,
                            "scale": scale,
                            "group": g,
                            "n": int(v.size),
                            "mean": float(v.mean()) if v.size else math.nan,
                            "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan,
                            "welch_f": f,
                            "welch_df1": df1,
                            "welch_df2": df2,
                            "welch_p": p,
                            "invariance": run.level if run is not None else "not tested",
                            "licensed": run is not None and run.level in ("scalar", "strict"),
                            "note": _licence_note(run),
                        }
                    )
    return pd.DataFrame(rows), notes
