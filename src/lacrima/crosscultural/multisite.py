"""The replication battery across sites: per-site and pooled results, random-effects meta-analysis of
each effect, gender x crying by site, and measurement invariance before any comparison of means.

>>> import lacrima as lc
>>> from lacrima.crosscultural.multisite import multisite
>>> result = multisite(lc.simulate_study(seed=7).data, invariance_models={})  # doctest: +SKIP
>>> result.table().query("source == 'meta'")[["hypothesis", "estimate", "i2"]]  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lacrima._results import Result
from lacrima.analysis.plan import AnalysisPlan, load_plan
from lacrima.analysis.runner import PlanResults, run_plan
from lacrima.crosscultural._multisite_effects import effects_table, gender_crying, meta_by_hypothesis
from lacrima.crosscultural._multisite_invariance import (
    CONFIGURAL_FIT,
    Grouping,
    ScaleModel,
    as_models,
    default_invariance_models,
    group_means,
    invariance_tables,
    run_invariance,
)
from lacrima.crosscultural.invariance import InvarianceResult
from lacrima.crosscultural.meta import MetaResult
from lacrima.errors import DataError
from lacrima.scoring import score_all

__all__ = ["CONFIGURAL_FIT", "MultiSiteResult", "ScaleModel", "default_invariance_models", "multisite"]


@dataclass(frozen=True, eq=False)
class MultiSiteResult(Result):
    """The battery at every site, pooled and meta-analysed, with gender x crying and invariance.

    Attributes
    ----------
    site : str
        The site column.
    sites : tuple of str
        Sites analysed (at least ``min_site_n`` rows), in order of appearance.
    site_n : DataFrame
        Every site with its ``n`` and whether it was ``analysed``.
    per_site : Mapping[str, PlanResults]
        The battery run on each analysed site's rows.
    pooled : PlanResults
        The battery run on all rows (every site, including skipped ones).
    meta : Mapping[str, MetaResult]
        Per hypothesis id, the REML random-effects meta-analysis of the site effects: correlations through
        Fisher's z (partial correlations with n - q, q covariates), Hedges' g with its large-sample
        variance, odds ratios as log odds ratios (``measure="generic"``; back-transform with exp).
    effects : DataFrame
        What :meth:`table` returns.
    gender_crying : DataFrame
        Per site, pooled and meta-analysed: women and men who cried (``women_n``, ``women_cried``,
        ``women_share``, ``men_...``), the odds ratio women vs men with its Woolf interval, ``log_or``,
        ``se``, the chi-square test (``chi2``, ``p``) and Fisher's ``fisher_p``; the meta row holds the
        pooled odds ratio, its p and prediction interval.
    gender_meta : MetaResult or None
        Meta-analysis of the log odds ratios.
    invariance : DataFrame
        The step tables of every fitted model x grouping stacked (columns ``model, grouping, step`` and
        those of :meth:`InvarianceResult.table`).
    invariance_summary : DataFrame
        One row per model x grouping: ``model, label, grouping, groups, n, n_total, excluded, level``
        (highest step that holds: ``configural, metric, scalar, strict``; ``none`` when the configural
        model fits poorly; ``not tested`` or ``not determined`` with a ``reason``), ``scalar`` (whether
        means may be compared), ``reason`` and ``warnings``.
    invariance_results : Mapping[str, InvarianceResult]
        The fits, keyed ``"<model> by <grouping>"``.
    means : DataFrame
        Means of each model's scales per group (``grouping, model, scale, group, n, mean, sd``), Welch's
        ANOVA across the groups (``welch_f, welch_df1, welch_df2, welch_p``), the invariance level reached
        and ``licensed`` (scalar invariance holds) with a ``note``.
    notes : tuple of str
        Skipped sites, hypotheses not meta-analysed, models not fitted, and every warning raised.
    """

    site: str
    sites: tuple[str, ...]
    site_n: pd.DataFrame
    per_site: Mapping[str, PlanResults]
    pooled: PlanResults
    meta: Mapping[str, MetaResult]
    effects: pd.DataFrame
    gender_crying: pd.DataFrame
    gender_meta: MetaResult | None
    invariance: pd.DataFrame
    invariance_summary: pd.DataFrame
    invariance_results: Mapping[str, InvarianceResult]
    means: pd.DataFrame
    seed: int
    bootstrap: bool
    min_site_n: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def table(self) -> pd.DataFrame:
        """One row per hypothesis x (each site | pooled | meta): ``hypothesis, title, effect, source``
        (``site``, ``pooled``, ``meta``), ``label`` (the site name), ``estimate, ci_low, ci_high, p,
        p_adjusted, n, verdict``, and for meta rows ``k, tau2, i2, q, q_df, q_p, pi_low, pi_high``; an
        ``error`` when the hypothesis could not be tested there. Odds ratios of meta rows are
        back-transformed from the log scale (``tau2`` stays on the log scale, Fisher's z for r)."""
        return self.effects.copy()

    def to_dict(self) -> dict[str, Any]:
        from lacrima._results import to_jsonable

        return {
            "type": type(self).__name__,
            "site": self.site,
            "sites": list(self.sites),
            "site_n": to_jsonable(self.site_n),
            "effects": to_jsonable(self.effects),
            "gender_crying": to_jsonable(self.gender_crying),
            "invariance": to_jsonable(self.invariance),
            "invariance_summary": to_jsonable(self.invariance_summary),
            "means": to_jsonable(self.means),
            "seed": self.seed,
            "bootstrap": self.bootstrap,
            "min_site_n": self.min_site_n,
            "notes": list(self.notes),
        }


def _score(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Join the scores of every instrument whose items are present (existing score columns win)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score_all(data, strict=False)
    notes = list(dict.fromkeys(f"Scoring: {w.message}" for w in caught))
    scores = result.scores.drop(columns=[c for c in result.scores.columns if c in data.columns])
    return (data.join(scores) if not scores.empty else data.copy()), notes


def _sites(data: pd.DataFrame, site: str, min_site_n: int) -> tuple[pd.DataFrame, list[str], list[str]]:
    labels = data[site].astype("string")
    counts = labels.value_counts(sort=False)
    order = [str(s) for s in pd.unique(labels.dropna())]
    analysed = [s for s in order if counts[s] >= min_site_n]
    notes = [
        f"Site {s!r} was skipped: it has {int(counts[s])} participant(s), fewer than "
        f"min_site_n = {min_site_n}; its rows are still in the pooled analysis"
        for s in order
        if s not in analysed
    ]
    missing = int(labels.isna().sum())
    if missing:
        notes.append(f"{missing} row(s) have no {site!r}; they are only in the pooled analysis")
    site_n = pd.DataFrame(
        {"site": order, "n": [int(counts[s]) for s in order], "analysed": [s in analysed for s in order]}
    )
    return site_n, analysed, notes


def multisite(
    data: pd.DataFrame,
    plan: AnalysisPlan | str | Path | Mapping[str, Any] | None = None,
    *,
    site: str = "site",
    seed: int = 2024,
    bootstrap: bool = False,
    min_site_n: int = 20,
    invariance_models: Mapping[str, ScaleModel | str] | None = None,
    by_gender: bool = True,
) -> MultiSiteResult:
    """Run the replication battery at every site and pooled, meta-analyse the site effects, compare
    women and men, and test measurement invariance before comparing means.

    Parameters
    ----------
    data : DataFrame
        A respondent table (items are scored with the shipped instruments; score columns already present
        are used as they are) with a ``site`` column.
    plan : AnalysisPlan, path or mapping, optional
        The analysis plan; default the published battery.
    site : str
        The site column.
    seed : int
        Seed of the bootstrap (the same at every site).
    bootstrap : bool
        Bootstrap intervals for the battery (off by default: with several sites they cost time).
    min_site_n : int
        Sites with fewer rows are not analysed on their own (a note says so); their rows stay in the
        pooled battery.
    invariance_models : mapping, optional
        Name -> :class:`ScaleModel` (or lavaan syntax). Default :func:`default_invariance_models`: the
        WAI-SR's goal, task and bond, and the crying scales among criers. ``{}`` skips invariance.
    by_gender : bool
        Also compare women and men: crying by gender per site, and invariance across genders.

    Returns
    -------
    MultiSiteResult
        ``.table()`` gives every hypothesis at each site, pooled and meta-analysed.

    Raises
    ------
    DataError
        The site column is missing, fewer than two sites have ``min_site_n`` rows, or the plan names
        columns the data lacks. Problems of one hypothesis at one site, of a meta-analysis or of an
        invariance model are recorded in the result, never raised.

    Notes
    -----
    The meta-analyses are :func:`lacrima.crosscultural.meta.meta` (checked against metafor); this
    function's inputs were checked against metafor 3.8-1 in ``tests/reference/multisite.R``::

        escalc("ZCOR", ri, ni); escalc("ZCOR", ri = partial_r, ni = n - q)
        escalc("SMD", m1i, sd1i, n1i, m2i, sd2i, n2i); escalc("OR", ai, bi, ci, di)
        rma(yi, vi, method = "REML")

    A partial correlation with q covariates enters with Fisher's variance 1 / (n - q - 3) (metafor's
    ``ZPCOR`` uses 1 / (n - q - 2) instead).

    Invariance uses :func:`lacrima.crosscultural.invariance.invariance` (checked against lavaan). The level
    reached is the highest step that holds with every step before it holding too, after a configural model
    with CFI >= 0.90 and RMSEA <= 0.10 (:data:`CONFIGURAL_FIT`); means are licensed by scalar invariance.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if site not in data.columns:
        raise DataError(f"the data has no site column {site!r}; pass site= the column naming each site")
    if min_site_n < 4:
        raise DataError(f"min_site_n is {min_site_n}; give at least 4 (a correlation needs n > 3)")
    p = load_plan(plan)
    scored, notes = _score(data)
    p.check(scored)
    site_n, analysed, site_notes = _sites(scored, site, min_site_n)
    notes.extend(site_notes)
    if len(analysed) < 2:
        sizes = ", ".join(f"{s} (n = {n})" for s, n in zip(site_n["site"], site_n["n"], strict=True))
        raise DataError(
            f"a multi-site analysis needs at least two sites with {min_site_n} or more participants; "
            f"got {sizes or 'no sites'}: lower min_site_n or use lc.analyze for one sample"
        )
    labels = scored[site].astype("string")
    # the battery only needs the plan's columns; slicing a narrow frame is much faster per hypothesis
    needed = list(dict.fromkeys(c for h in p.hypotheses for c in h.variables()))
    narrow = scored[needed]
    per_site = {
        s: run_plan(narrow[(labels == s).to_numpy()], p, seed=seed, bootstrap=bootstrap) for s in analysed
    }
    pooled = run_plan(narrow, p, seed=seed, bootstrap=bootstrap)
    for s, res in per_site.items():
        for hr in res.results:
            if hr.error:
                notes.append(f"{hr.hypothesis.id} at site {s!r} was not run: {hr.error}")
    ids = [h.id for h in p.hypotheses]
    metas, meta_notes = meta_by_hypothesis(per_site, ids)
    notes.extend(meta_notes)
    effects = effects_table(per_site, pooled, metas)

    in_sites = scored[labels.isin(analysed).fillna(False).to_numpy()]
    if by_gender:
        gc = gender_crying(in_sites, site, analysed)
        gender_table, gender_meta = gc.table, gc.meta
        notes.extend(gc.notes)
    else:
        gender_table, gender_meta = pd.DataFrame(), None

    models = as_models(invariance_models)
    groupings = [Grouping("site", site, tuple(analysed))]
    if by_gender and "gender" in in_sites.columns:
        groupings.append(Grouping("gender", "gender", ("woman", "man")))
    runs = [run_invariance(in_sites, spec, g) for spec in models.values() for g in groupings]
    for run in runs:
        if run.result is None or run.reason:
            notes.append(f"Invariance of {run.model} across {run.grouping}: {run.level}: {run.reason}")
        notes.extend(f"Invariance of {run.model} across {run.grouping}: {w}" for w in run.warnings)
    steps, summary = invariance_tables(runs, models)
    means, mean_notes = group_means(in_sites, models, groupings, runs)
    notes.extend(mean_notes)
    return MultiSiteResult(
        site=site,
        sites=tuple(analysed),
        site_n=site_n,
        per_site=per_site,
        pooled=pooled,
        meta=metas,
        effects=effects,
        gender_crying=gender_table,
        gender_meta=gender_meta,
        invariance=steps,
        invariance_summary=summary,
        invariance_results={f"{r.model} by {r.grouping}": r.result for r in runs if r.result is not None},
        means=means,
        seed=seed,
        bootstrap=bootstrap,
        min_site_n=min_site_n,
        notes=tuple(dict.fromkeys(notes)),
    )
