"""The consortium's results: site summaries pooled exactly, per hypothesis of the analysis plan (JSON
here; :func:`lacrima.report.render.render_pooled` renders them as one self-contained HTML file).

For every correlation hypothesis of the plan (``test: correlate``, with or without ``covar``) whose
columns every summary holds, the report gives

- the pooled (partial) correlation from the pooled moments, equal to the correlation of the concatenated
  raw rows (:meth:`PooledSummary.correlation`);
- each site's own (partial) correlation, from that site's covariance matrix;
- a random-effects meta-analysis of the site effects (Fisher's z, variance 1/(n - 3 - number of
  covariates)), with heterogeneity and a forest plot.

Other kinds of hypotheses (group comparisons, crosstabs, moderation) need rows or cell statistics that a
site summary does not hold; they are listed as not pooled, with the reason.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lacrima._results import Result, to_jsonable
from lacrima.analysis.plan import AnalysisPlan, Hypothesis, load_plan
from lacrima.crosscultural.federated import PooledCorrelation, PooledSummary, pool_summaries
from lacrima.crosscultural.meta import MetaResult, Method, meta
from lacrima.errors import DataError

__all__ = ["PooledHypothesis", "PooledReport", "level_key", "pool_plan"]

JSON_SCHEMA = "lacrima.pooled-report"
JSON_VERSION = 1


def level_key(value: Any) -> str:
    """How a subset value appears as a level in a site summary's ``counts`` (``1``, ``"woman"``)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, eq=False)
class PooledHypothesis(Result):
    """One correlation hypothesis of the plan, pooled.

    ``pooled`` is the (partial) correlation of the pooled data; ``sites`` has one row per site (site, r,
    ci_low, ci_high, p, n) from the site's own covariance matrix; ``meta`` is the random-effects
    meta-analysis of the site effects (None when fewer than two sites give a usable effect).
    """

    hypothesis: Hypothesis
    pooled: PooledCorrelation
    sites: pd.DataFrame
    meta: MetaResult | None
    notes: tuple[str, ...] = ()

    @property
    def effect(self) -> str:
        return "partial r" if self.pooled.covar else "r"

    def table(self) -> pd.DataFrame:
        """One row: the pooled effect and the meta-analytic summary."""
        p, m = self.pooled, self.meta
        nan = math.nan
        return pd.DataFrame(
            [
                {
                    "id": self.hypothesis.id,
                    "x": p.x,
                    "y": p.y,
                    "covar": ", ".join(p.covar),
                    "effect": self.effect,
                    "estimate": p.r,
                    "ci_low": p.ci[0],
                    "ci_high": p.ci[1],
                    "p": p.p,
                    "n": p.n,
                    "meta_estimate": m.estimate if m else nan,
                    "meta_ci_low": m.ci[0] if m else nan,
                    "meta_ci_high": m.ci[1] if m else nan,
                    "tau2": m.tau2 if m else nan,
                    "i2": m.i2 if m else nan,
                    "k": m.k if m else len(self.sites),
                }
            ]
        )


@dataclass(frozen=True, eq=False)
class PooledReport(Result):
    """Everything ``lacrima pool`` produces: :meth:`to_json` writes it and
    ``lacrima.report.render.render_pooled`` renders it."""

    title: str
    pooled: PooledSummary
    summaries: tuple[Mapping[str, Any], ...]
    sources: tuple[str, ...]
    plan_name: str
    hypotheses: tuple[PooledHypothesis, ...]
    not_pooled: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    method: str
    level: float

    def table(self) -> pd.DataFrame:
        """One row per pooled hypothesis (see :meth:`PooledHypothesis.table`)."""
        if not self.hypotheses:
            return pd.DataFrame(columns=["id", "x", "y", "covar", "effect", "estimate", "ci_low", "ci_high"])
        return pd.concat([h.table() for h in self.hypotheses], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        pooled = self.pooled
        sites = [
            {
                "site": str(s["site"]),
                "source": src,
                "n": int(s["n"]),
                "n_excluded": int(s["n_excluded"]),
                "created": str(s["created"]),
                "lacrima_version": str(s["lacrima_version"]),
            }
            for s, src in zip(self.summaries, self.sources, strict=True)
        ]
        correlations = []
        site_effects = []
        metas = []
        for h in self.hypotheses:
            c = h.pooled
            correlations.append(
                {
                    "id": h.hypothesis.id,
                    "title": h.hypothesis.title,
                    "x": c.x,
                    "y": c.y,
                    "covar": list(c.covar),
                    "subset": dict(h.hypothesis.subset),
                    "effect": h.effect,
                    "r": c.r,
                    "ci_low": c.ci[0],
                    "ci_high": c.ci[1],
                    "t": c.t,
                    "df": c.df,
                    "p": c.p,
                    "n": c.n,
                }
            )
            for row in h.sites.to_dict(orient="records"):
                site_effects.append({"id": h.hypothesis.id, **row})
            if h.meta is not None:
                m = h.meta
                metas.append(
                    {
                        "id": h.hypothesis.id,
                        "method": m.method,
                        "k": m.k,
                        "estimate": m.estimate,
                        "ci_low": m.ci[0],
                        "ci_high": m.ci[1],
                        "pi_low": m.pi[0],
                        "pi_high": m.pi[1],
                        "estimate_z": m.estimate_z,
                        "se_z": m.se_z,
                        "p": m.p,
                        "tau2": m.tau2,
                        "i2": m.i2,
                        "q": m.q,
                        "q_df": m.q_df,
                        "q_p": m.q_p,
                    }
                )
        out = {
            "schema": JSON_SCHEMA,
            "version": JSON_VERSION,
            "title": self.title,
            "plan": self.plan_name,
            "level": self.level,
            "n": pooled.n,
            "n_excluded": pooled.n_excluded,
            "sites": sites,
            "variables": list(pooled.variables),
            "descriptives": pooled.table(),
            "correlations": correlations,
            "site_effects": site_effects,
            "meta": metas,
            "counts": pooled.counts,
            "not_pooled": [{"id": hid, "reason": why} for hid, why in self.not_pooled],
            "notes": list(self.notes),
        }
        result: dict[str, Any] = to_jsonable(out)
        return result

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON (numbers unrounded; missing values as null), atomically."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_text(
            json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
        )
        tmp.replace(target)
        return target


def _site_effects(
    summaries: Sequence[Mapping[str, Any]], h: Hypothesis, level: float
) -> tuple[pd.DataFrame, list[str]]:
    x, y = str(h.columns["x"]), str(h.columns["y"])
    covar = list(h.columns.get("covar", ()))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for s in summaries:
        try:
            c = pool_summaries([s]).correlation(x, y, covar=covar, level=level)
        except DataError as exc:
            notes.append(f"{h.id}: site {s['site']!r} gives no effect ({exc.summary})")
            continue
        rows.append(
            {"site": str(s["site"]), "r": c.r, "ci_low": c.ci[0], "ci_high": c.ci[1], "p": c.p, "n": c.n}
        )
    frame = pd.DataFrame(rows, columns=["site", "r", "ci_low", "ci_high", "p", "n"])
    return frame, notes


def _meta(
    h: Hypothesis, sites: pd.DataFrame, k_covar: int, method: Method, level: float
) -> tuple[MetaResult | None, list[str]]:
    usable = sites[sites["r"].between(-1.0, 1.0, inclusive="neither") & (sites["n"] - k_covar > 3)]
    notes: list[str] = []
    if len(usable) < len(sites):
        notes.append(
            f"{h.id}: {len(sites) - len(usable)} site(s) left out of the meta-analysis "
            "(|r| = 1 or n too small)"
        )
    if len(usable) < 2:
        notes.append(f"{h.id}: fewer than two sites give an effect; no meta-analysis")
        return None, notes
    # The variance of Fisher's z of a partial correlation with k covariates is 1/(n - 3 - k): passing
    # n - k as the sample size gives exactly that (and 1/(n - 3) for a zero-order correlation).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = meta(
                usable["r"].to_numpy(dtype=float),
                n=(usable["n"] - k_covar).to_numpy(dtype=float),
                measure="r",
                method=method,
                level=level,
                labels=usable["site"].tolist(),
            )
        except DataError as exc:
            notes.append(f"{h.id}: meta-analysis not possible ({exc.summary})")
            return None, notes
    notes.extend(f"{h.id}: {w.message}" for w in caught)
    if not isinstance(result, MetaResult):
        return None, notes
    return result, notes


def _check_subset(summaries: Sequence[Mapping[str, Any]], h: Hypothesis) -> list[str]:
    """Compare the hypothesis' subset with the sites' counts of the subset columns (when shared)."""
    notes: list[str] = []
    for col, value in h.subset.items():
        allowed = {level_key(v) for v in (value if isinstance(value, list | tuple) else [value])}
        for s in summaries:
            cells = s["counts"].get(col)
            if cells is None:
                notes.append(
                    f"{h.id}: site {s['site']!r} does not share counts of {col!r}, so its row set cannot be "
                    f"checked against the plan's subset ({col} in {sorted(allowed)})"
                )
                continue
            extra = sorted(level for level, c in cells.items() if level not in allowed and c != 0)
            if extra:
                notes.append(
                    f"{h.id}: site {s['site']!r} summarised rows with {col} = {extra}, outside the plan's "
                    f"subset {sorted(allowed)}; its summary does not match this hypothesis' row set"
                )
    return notes


def pool_plan(
    summaries: Sequence[Mapping[str, Any]],
    plan: str | Path | Mapping[str, Any] | AnalysisPlan | None = None,
    *,
    sources: Sequence[str] | None = None,
    title: str | None = None,
    method: Method = "REML",
    level: float = 0.95,
) -> PooledReport:
    """Pool validated site summaries and run the plan's correlation hypotheses on them.

    Parameters
    ----------
    summaries : sequence of dict
        Site summaries (:func:`~lacrima.crosscultural.federated.read_site_summary`).
    plan : path, mapping or AnalysisPlan, optional
        The analysis plan; default the published battery.
    sources : sequence of str, optional
        Where each summary came from (file names), shown in the report.
    title : str, optional
        Report title.
    method : {"REML", "DL", "PM", "ML", "FE"}
        Estimator of tau² for the meta-analyses.
    level : float
        Confidence level.

    Returns
    -------
    PooledReport

    Notes
    -----
    Pooled correlations equal ``cor()`` (partial: the correlation of the residuals on ``covar``) of the
    concatenated rows the sites summarised. The meta-analysis of site correlations is metafor's
    ``rma(yi, vi, method = "REML")`` on ``escalc(measure = "ZCOR", ri, ni)``, with ``ni`` = n - k for a
    partial correlation with k covariates (variance 1/(n - 3 - k), the same as the Fisher-z intervals);
    metafor's own ``ZPCOR`` measure uses 1/(n - k - 2) instead.
    """
    items = list(summaries)
    pooled = pool_summaries(items)
    src = (
        [str(s) for s in sources] if sources is not None else [f"summary {i + 1}" for i in range(len(items))]
    )
    if len(src) != len(items):
        raise DataError(f"sources has {len(src)} entries for {len(items)} summaries; give one per summary")
    the_plan = load_plan(plan)
    available = set(pooled.variables)
    done: list[PooledHypothesis] = []
    not_pooled: list[tuple[str, str]] = []
    notes: list[str] = []
    for h in the_plan.hypotheses:
        if h.test != "correlate":
            not_pooled.append(
                (h.id, f"a {h.test} test needs rows or cell statistics that site summaries do not hold")
            )
            continue
        if h.method != "pearson":
            not_pooled.append((h.id, f"{h.method} correlations need ranks; site summaries hold moments"))
            continue
        x, y = str(h.columns["x"]), str(h.columns["y"])
        covar = [str(c) for c in h.columns.get("covar", ())]
        missing = [v for v in [x, y, *covar] if v not in available]
        if missing:
            not_pooled.append((h.id, f"the site summaries do not hold {', '.join(missing)}"))
            continue
        try:
            corr = pooled.correlation(x, y, covar=covar or None, level=level)
        except DataError as exc:
            not_pooled.append((h.id, exc.summary))
            continue
        h_notes = _check_subset(items, h)
        sites, site_notes = _site_effects(items, h, level)
        result, meta_notes = _meta(h, sites, len(covar), method, level)
        all_notes = [*h_notes, *site_notes, *meta_notes]
        notes.extend(all_notes)
        done.append(
            PooledHypothesis(hypothesis=h, pooled=corr, sites=sites, meta=result, notes=tuple(all_notes))
        )
    return PooledReport(
        title=title or f"Consortium: pooled results from {len(items)} sites",
        pooled=pooled,
        summaries=tuple(items),
        sources=tuple(src),
        plan_name=the_plan.name,
        hypotheses=tuple(done),
        not_pooled=tuple(not_pooled),
        notes=tuple(notes),
        method=method,
        level=level,
    )


