"""From a respondent table to everything the report shows: scores, sample, measures, planned tests."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lacrima._results import Result, to_jsonable
from lacrima.analysis import prevalence
from lacrima.analysis.plan import AnalysisPlan
from lacrima.analysis.runner import HypothesisResult, PlanResults, run_plan
from lacrima.errors import DataError
from lacrima.instruments import load_instrument
from lacrima.scoring import reliability, score_all

__all__ = ["Report", "analyze", "prepare"]


@dataclass(frozen=True, eq=False)
class Report(Result):
    """Everything one run of the battery produced; render with :meth:`to_html`, :meth:`to_docx`,
    :meth:`to_json`."""

    title: str
    data: pd.DataFrame
    plan_results: PlanResults
    sample: pd.DataFrame
    measures: pd.DataFrame
    reliabilities: pd.DataFrame
    prevalence: pd.DataFrame
    scored: tuple[str, ...]
    site_column: str | None
    notes: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def results(self) -> dict[str, HypothesisResult]:
        return {r.hypothesis.id: r for r in self.plan_results.results}

    def table(self) -> pd.DataFrame:
        return self.plan_results.table()

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "n": len(self.data),
            "scored_instruments": list(self.scored),
            "plan": self.plan_results.plan.name,
            "seed": self.plan_results.seed,
            "n_boot": self.plan_results.n_boot,
            "hypotheses": to_jsonable(self.plan_results.table()),
            "sample": to_jsonable(self.sample),
            "measures": to_jsonable(self.measures),
            "reliabilities": to_jsonable(self.reliabilities),
            "prevalence": to_jsonable(self.prevalence),
            "notes": list(self.notes),
            "details": {r.hypothesis.id: r.detail.to_dict() for r in self.plan_results.results if r.detail},
            **{name: extra.to_dict() for name, extra in self.extras.items() if hasattr(extra, "to_dict")},
        }

    def to_html(self, path: str | Path) -> Path:
        from lacrima.report._render import render_html

        return render_html(self, path)

    def to_docx(self, path: str | Path) -> Path:
        from lacrima.report._docx import render_docx

        return render_docx(self, path)

    def to_json(self, path: str | Path) -> Path:
        import json

        target = Path(path)
        tmp = target.with_name(target.name + ".part")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(target)
        return target


def prepare(data: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...], tuple[str, ...]]:
    """Score every instrument whose items are present and join the scores (existing score columns win)."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score_all(data, strict=False)
    for w in caught:
        notes.append(f"Scoring: {w.message}")
    scores = result.scores.drop(columns=[c for c in result.scores.columns if c in data.columns])
    scored = data.join(scores) if not scores.empty else data.copy()
    return scored, tuple(result.scored), tuple(notes)


def _sample_table(data: pd.DataFrame, site: str | None) -> pd.DataFrame:
    groups = [("All", data)] + ([(str(k), g) for k, g in data.groupby(site, sort=True)] if site else [])
    rows = []
    for name, g in groups:
        row: dict[str, Any] = {"group": name, "n": len(g)}
        if "gender" in g:
            counts = g["gender"].astype("string").value_counts()
            row["women_pct"] = 100 * counts.get("woman", 0) / len(g) if len(g) else math.nan
            row["men_pct"] = 100 * counts.get("man", 0) / len(g) if len(g) else math.nan
        if "age" in g:
            ages = pd.to_numeric(g["age"], errors="coerce")
            row["age_mean"], row["age_sd"] = float(ages.mean()), float(ages.std())
        if "cried_in_therapy" in g:
            cried = pd.to_numeric(g["cried_in_therapy"], errors="coerce")
            row["cried_pct"] = 100 * float(cried.mean()) if cried.notna().any() else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _measures(data: pd.DataFrame, scored: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for iid in scored:
        ins = load_instrument(iid)
        for name in ins.subscales:
            col = f"{ins.prefix}_{name}"
            if col not in data:
                continue
            x = pd.to_numeric(data[col], errors="coerce")
            v = x.dropna()
            rows.append(
                {
                    "instrument": iid,
                    "subscale": name,
                    "column": col,
                    "items": len(ins.subscales[name].items),
                    "n": int(v.size),
                    "mean": float(v.mean()) if v.size else math.nan,
                    "sd": float(v.std()) if v.size > 1 else math.nan,
                    "min": float(v.min()) if v.size else math.nan,
                    "max": float(v.max()) if v.size else math.nan,
                    "pct_missing": 100 * float(x.isna().mean()) if len(x) else math.nan,
                }
            )
    return pd.DataFrame(rows)


def _reliabilities(
    data: pd.DataFrame, scored: tuple[str, ...], site: str | None
) -> tuple[pd.DataFrame, list[str]]:
    rows = []
    notes: list[str] = []
    groups = [("All", data)] + ([(str(k), g) for k, g in data.groupby(site, sort=True)] if site else [])
    for iid in scored:
        ins = load_instrument(iid)
        for name, sub in ins.subscales.items():
            if len(sub.items) < 2 or (name == "total" and len(ins.subscales) > 1):
                continue
            for gname, g in groups:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        rel = reliability(g, instrument=ins, subscale=name)
                    except DataError as exc:
                        notes.append(
                            f"Reliability of {ins.prefix}_{name} ({gname}) not computed: {exc.summary}"
                        )
                        continue
                for w in caught:
                    if len(sub.items) == 2 and "three items" in str(w.message):
                        continue  # omega of a two-item scale is undefined; the table shows a dash
                    notes.append(f"Reliability of {ins.prefix}_{name} ({gname}): {w.message}")
                rows.append(
                    {
                        "group": gname,
                        "instrument": iid,
                        "subscale": name,
                        "column": f"{ins.prefix}_{name}",
                        "items": len(sub.items),
                        "n": rel.n,
                        "alpha": rel.alpha,
                        "alpha_ci_low": rel.alpha_ci[0],
                        "alpha_ci_high": rel.alpha_ci[1],
                        "omega": rel.omega_total,
                    }
                )
    return pd.DataFrame(rows), notes


def _prevalence(data: pd.DataFrame, site: str | None) -> pd.DataFrame:
    if "cried_in_therapy" not in data:
        return pd.DataFrame(columns=["by", "group", "n", "share", "ci_low", "ci_high"])
    frame = data[[c for c in dict.fromkeys((site, "gender", "cried_in_therapy")) if c and c in data]].copy()
    frame["cried_in_therapy"] = pd.to_numeric(frame["cried_in_therapy"], errors="coerce")
    out = []
    for by in [b for b in (site, "gender") if b and b in frame]:
        tab = prevalence(frame, "cried_in_therapy", by=by).table()
        for _, row in tab.iterrows():
            out.append(
                {
                    "by": by,
                    "group": str(row["group"]),
                    "n": int(row["n"]),
                    "share": float(row["estimate"]),
                    "ci_low": float(row["ci_low"]),
                    "ci_high": float(row["ci_high"]),
                }
            )
    return pd.DataFrame(out)


def analyze(
    data: pd.DataFrame | str | Path,
    plan: AnalysisPlan | str | Path | Mapping[str, Any] | None = None,
    *,
    seed: int = 2024,
    n_boot: int | None = None,
    bootstrap: bool = True,
    site: str | None = "site",
    title: str = "Crying in psychotherapy: replication report",
    missing: str = "error",
    multisite: bool = False,
    sessions: pd.DataFrame | None = None,
) -> Report:
    """Score, describe and run the analysis plan (default: the published battery) on a respondent table.

    ``data`` is a DataFrame or a file any lacrima importer reads. Item columns are scored with the shipped
    instruments; existing score columns (``<prefix>_<subscale>``) are used as they are. A plan naming columns
    the data lacks is an error (``missing="error"``) or, with ``missing="skip"``, those hypotheses are shown
    as not run with the columns they need. ``multisite=True`` adds the cross-cultural section: the battery per
    site with random-effects meta-analyses, gender x crying per site, and measurement invariance of the
    crying and alliance scales across sites and genders (:func:`lacrima.crosscultural.multisite.multisite`).
    ``sessions`` (a session table) adds the longitudinal section: the default longitudinal plan of mixed
    models over sessions (:func:`lacrima.longitudinal.plan.analyze_sessions`).

    Examples
    --------
    >>> import lacrima as lc
    >>> study = lc.simulate_study(seed=7)
    >>> report = lc.analyze(study.data, n_boot=200)
    >>> report.results["H1"].verdict
    'supported'
    """
    if not isinstance(data, pd.DataFrame):
        from lacrima.io import read_table

        data = read_table(data, instruments=None).data
    if len(data) == 0:
        raise DataError("the data has no rows to analyse")
    scored_data, scored, notes = prepare(data)
    site_col = site if site and site in scored_data and scored_data[site].nunique() > 1 else None
    results = run_plan(scored_data, plan, seed=seed, n_boot=n_boot, bootstrap=bootstrap, missing=missing)
    rel, rel_notes = _reliabilities(scored_data, scored, site_col)
    extras: dict[str, Any] = {}
    if multisite and site_col:
        from lacrima.crosscultural.multisite import multisite as run_multisite

        extras["multisite"] = run_multisite(scored_data, plan, site=site_col, seed=seed)
    elif multisite:
        rel_notes.append("The multi-site section was asked for, but the data has fewer than two sites.")
    if sessions is not None:
        from lacrima.longitudinal.plan import analyze_sessions

        extras["longitudinal"] = analyze_sessions(sessions, seed=seed)
    return Report(
        title=title,
        data=scored_data,
        plan_results=results,
        sample=_sample_table(scored_data, site_col),
        measures=_measures(scored_data, scored),
        reliabilities=rel,
        prevalence=_prevalence(scored_data, site_col),
        scored=scored,
        site_column=site_col,
        notes=tuple(notes) + tuple(rel_notes),
        extras=extras,
    )
