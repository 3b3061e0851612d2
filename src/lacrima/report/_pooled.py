"""The consortium report: site summaries pooled exactly, per hypothesis of the analysis plan, in one
self-contained HTML file (and JSON). All rounding happens here, through :mod:`lacrima.report._format`.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lacrima._results import Result, to_jsonable
from lacrima.analysis.plan import AnalysisPlan, Hypothesis, load_plan
from lacrima.crosscultural.federated import PooledCorrelation, PooledSummary, pool_summaries
from lacrima.crosscultural.meta import MetaResult, Method, meta
from lacrima.errors import DataError
from lacrima.report._forest import forest_chart
from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r
from lacrima.report._html import HtmlReport
from lacrima.report._labels import label

__all__ = ["PooledHypothesis", "PooledReport", "pooled_report"]

JSON_SCHEMA = "lacrima.pooled-report"
JSON_VERSION = 1


def level_key(value: Any) -> str:
    """How a subset value appears as a level in a site summary's ``counts`` (``1``, ``"woman"``)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class PooledReport(Result):
    """Everything ``lacrima pool`` produces; render with :meth:`to_html` and :meth:`to_json`."""

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

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report (tables, forest plots embedded as PNG)."""
        return render_pooled(self, path)


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


def pooled_report(
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


# ---------------------------------------------------------------------------------------------------------
# HTML


def _pct(level: float) -> str:
    digits = 0 if float(100 * level).is_integer() else 1
    return f"{fmt_num(100 * level, digits)}%"


def _subset_text(h: Hypothesis) -> str:
    if not h.subset:
        return "all rows"
    parts = []
    for col, value in h.subset.items():
        values = value if isinstance(value, list | tuple) else [value]
        parts.append(f"{col} = {' or '.join(level_key(v) for v in values)}")
    return "; ".join(parts)


def _sites_section(rep: PooledReport, doc: HtmlReport) -> None:
    sec = doc.section("Sites")
    doc.paragraph(
        sec,
        f"{len(rep.summaries)} site summaries, {fmt_int(rep.pooled.n)} people in all "
        f"({fmt_int(rep.pooled.n_excluded)} rows left out at the sites for a missing answer). Every file "
        "was validated before pooling; no row-level data was shared.",
    )
    rows = [
        {
            "Site": str(s["site"]),
            "File": src,
            "n": fmt_int(s["n"]),
            "Excluded (missing)": fmt_int(s["n_excluded"]),
            "Small cells suppressed": fmt_int(len(s["suppressed"])),
            "min_cell": fmt_int(s["min_cell"]),
            "Created": str(s["created"]),
            "lacrima": str(s["lacrima_version"]),
        }
        for s, src in zip(rep.summaries, rep.sources, strict=True)
    ]
    rows.append(
        {
            "Site": "Pooled",
            "File": "",
            "n": fmt_int(rep.pooled.n),
            "Excluded (missing)": fmt_int(rep.pooled.n_excluded),
            "Small cells suppressed": fmt_int(sum(len(s["suppressed"]) for s in rep.summaries)),
            "min_cell": "",
            "Created": "",
            "lacrima": "",
        }
    )
    doc.table(
        sec,
        pd.DataFrame(rows),
        "Sites and their sample sizes",
        note="n counts the rows each site summarised (complete on every summarised variable, within the "
        "rows the plan selects).",
    )


def _descriptives_section(rep: PooledReport, doc: HtmlReport) -> None:
    sec = doc.section("Pooled descriptive statistics")
    pooled = rep.pooled
    t = pooled.table()
    frame = pd.DataFrame(
        {
            "Variable": [label(v) for v in t["variable"]],
            "Column": t["variable"].tolist(),
            "M": [fmt_num(v) for v in t["mean"]],
            "SD": [fmt_num(v) for v in t["sd"]],
            **{f"M {site}": [fmt_num(v) for v in pooled.site_means.loc[site]] for site in pooled.sites},
        }
    )
    doc.table(
        sec,
        frame,
        "Pooled means and standard deviations, with each site's mean",
        note=f"N = {fmt_int(pooled.n)}.",
    )
    corr = pooled.cov.to_numpy()
    k = len(pooled.variables)
    sd = [math.sqrt(corr[i, i]) for i in range(k)]
    cells = {
        str(j + 1): [
            fmt_r(corr[i, j] / (sd[i] * sd[j]))
            if i > j and sd[i] > 0 and sd[j] > 0
            else "\u2014"
            if i == j
            else ""
            for i in range(k)
        ]
        for j in range(k - 1)
    }
    names = [f"{i + 1}. {label(v)}" for i, v in enumerate(pooled.variables)]
    matrix = pd.DataFrame(cells, index=pd.Index(names, name="Variable"))
    doc.table(
        sec,
        matrix,
        "Pooled correlation matrix",
        index=True,
        note=f"Pearson correlations of the pooled data (N = {fmt_int(pooled.n)}).",
    )


def _correlations_section(rep: PooledReport, doc: HtmlReport) -> None:
    sec = doc.section("Pooled correlations per hypothesis")
    if not rep.hypotheses:
        doc.warning(sec, "No correlation hypothesis of the plan could be pooled from these summaries.")
        return
    ci = _pct(rep.level) + " CI"
    subsets = {_subset_text(h.hypothesis) for h in rep.hypotheses}
    rows = []
    for h in rep.hypotheses:
        c = h.pooled
        row = {
            "ID": h.hypothesis.id,
            "Hypothesis": h.hypothesis.title,
            "Partialled out": ", ".join(label(v) for v in c.covar) or "\u2014",
            "Rows": _subset_text(h.hypothesis),
            "Effect": h.effect,
            "Estimate": fmt_r(c.r),
            ci: fmt_ci(*c.ci, bounded=True),
            "p": fmt_p(c.p),
            "n": fmt_int(c.n),
        }
        if len(subsets) == 1:
            del row["Rows"]
        rows.append(row)
    rows_note = f" Rows: {next(iter(subsets))}." if len(subsets) == 1 else ""
    doc.table(
        sec,
        pd.DataFrame(rows),
        "Pooled correlations and partial correlations from the pooled moments",
        note="Computed from the pooled means and covariance matrix; equal to the same analysis of all sites' "
        "rows together. Intervals use Fisher's z with SE 1/sqrt(n - 3 - number of covariates); p from the "
        "t test with n - 2 - number of covariates df. p values are not corrected for multiple tests."
        + rows_note,
    )


def _site_effects_section(rep: PooledReport, doc: HtmlReport) -> None:
    sec = doc.section("Per-site effects")
    ci = _pct(rep.level) + " CI"
    rows = []
    for h in rep.hypotheses:
        for r in h.sites.to_dict(orient="records"):
            rows.append(
                {
                    "ID": h.hypothesis.id,
                    "Effect": h.effect,
                    "Site": str(r["site"]),
                    "Estimate": fmt_r(r["r"]),
                    ci: fmt_ci(r["ci_low"], r["ci_high"], bounded=True),
                    "p": fmt_p(r["p"]),
                    "n": fmt_int(r["n"]),
                }
            )
    if not rows:
        doc.warning(sec, "No per-site effects to show.")
        return
    doc.table(
        sec,
        pd.DataFrame(rows),
        "Each site's own correlation (partial where the hypothesis partials out covariates)",
    )


def _meta_section(rep: PooledReport, doc: HtmlReport) -> None:
    sec = doc.section("Random-effects meta-analysis of the site effects")
    metas = [h for h in rep.hypotheses if h.meta is not None]
    if not metas:
        doc.warning(sec, "No hypothesis had usable effects from at least two sites; no meta-analysis.")
        return
    ci = _pct(rep.level) + " CI"
    rows = []
    for h in metas:
        m = h.meta
        if m is None:
            continue
        rows.append(
            {
                "ID": h.hypothesis.id,
                "Effect": h.effect,
                "k": fmt_int(m.k),
                "Estimate": fmt_r(m.estimate),
                ci: fmt_ci(*m.ci, bounded=True),
                "Prediction interval": fmt_ci(*m.pi, bounded=True),
                "p": fmt_p(m.p),
                "\u03c4\u00b2": fmt_num(m.tau2, 4),
                "I\u00b2 (%)": fmt_num(m.i2, 1),
                "Q": fmt_num(m.q),
                "df": fmt_int(m.q_df),
                "p (Q)": fmt_p(m.q_p),
            }
        )
    doc.table(
        sec,
        pd.DataFrame(rows),
        f"Meta-analysis of the per-site effects ({rep.method})",
        note="Random-effects model on Fisher's z (variance 1/(n - 3 - number of covariates)), "
        "back-transformed to r. \u03c4\u00b2: between-site variance on the z scale; I\u00b2: share of "
        "variation due to differences between sites; Q: test of heterogeneity. "
        "With few sites \u03c4\u00b2 is imprecise.",
    )
    for h in metas:
        if h.meta is None:
            continue
        covar = f" controlling for {', '.join(label(v) for v in h.pooled.covar)}" if h.pooled.covar else ""
        fig = forest_chart(h.meta, xlabel="Partial correlation" if h.pooled.covar else "Correlation (r)")
        doc.figure(
            sec,
            fig,
            f"{h.hypothesis.id}: {label(h.pooled.x)} with {label(h.pooled.y)}{covar}, by site.",
            alt=f"Forest plot of hypothesis {h.hypothesis.id}: one effect per site and the pooled estimate",
        )


def _counts_section(rep: PooledReport, doc: HtmlReport) -> None:
    sec = doc.section("Category counts")
    pooled = rep.pooled
    if not pooled.counts:
        doc.paragraph(sec, "The sites shared no category counts.")
        return
    suppressed = {(str(s["site"]), d["variable"], d["level"]) for s in rep.summaries for d in s["suppressed"]}
    rows = []
    for var, cells in pooled.counts.items():
        for level, total in cells.items():
            row: dict[str, str] = {"Variable": label(var), "Level": level}
            any_hidden = False
            for s in rep.summaries:
                site = str(s["site"])
                site_cells = s["counts"].get(var)
                if site_cells is None:
                    row[site] = "not shared"
                elif (site, var, level) in suppressed or (level in site_cells and site_cells[level] is None):
                    row[site] = "suppressed"
                    any_hidden = True
                else:
                    row[site] = fmt_int(site_cells.get(level, 0))
            if total is None:
                row["Pooled"] = "suppressed" if any_hidden else "not shared"
            else:
                row["Pooled"] = fmt_int(total)
            rows.append(row)
    doc.table(
        sec,
        pd.DataFrame(rows),
        "Category counts by site and pooled",
        note="Counts below a site's min_cell were suppressed at the site (with the next smallest cell when "
        "only one would be hidden); a pooled count is shown only when no site suppressed it.",
    )


def _not_pooled_section(rep: PooledReport, doc: HtmlReport) -> None:
    if not rep.not_pooled:
        return
    sec = doc.section("Hypotheses not pooled")
    frame = pd.DataFrame([{"ID": hid, "Reason": why} for hid, why in rep.not_pooled])
    doc.table(
        sec,
        frame,
        f"Hypotheses of the plan ({rep.plan_name}) not covered by the pooled summaries",
        note="Run these at each site and combine the per-site estimates with meta() "
        "(see docs/consortium.md).",
    )


def _method_section(rep: PooledReport, doc: HtmlReport) -> None:
    sec = doc.section("Method")
    doc.paragraph(
        sec,
        "Each site scored its own data and shared a site summary (schema lacrima.site-summary, version 1): "
        "the number of rows, means, the covariance matrix and category counts with small cells suppressed. "
        "The coordinator pooled the summaries exactly: with site sizes n_i, means m_i and covariance "
        "matrices C_i, the pooled covariance is [sum (n_i - 1) C_i + sum n_i (m_i - m)(m_i - m)'] / (N - 1). "
        "Everything here that depends on the data only through these moments equals the same analysis of "
        "all sites' rows together.",
    )
    doc.paragraph(
        sec,
        "Rows: each site summarised the rows its analysis plan selects (for example the clients who cried "
        "in therapy) that were complete on every summarised variable. A hypothesis is therefore tested on "
        "the rows complete on all summarised variables, which can be slightly fewer than a per-hypothesis "
        "listwise analysis of the raw data.",
    )
    for note in rep.notes:
        doc.warning(sec, note)


def render_pooled(rep: PooledReport, path: str | Path) -> Path:
    """Render a :class:`PooledReport` to one self-contained HTML file."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = HtmlReport(
        title=rep.title,
        subtitle=f"{len(rep.summaries)} sites, N = {fmt_int(rep.pooled.n)}; plan: {rep.plan_name}; "
        f"generated {stamp}",
    )
    _sites_section(rep, doc)
    _descriptives_section(rep, doc)
    _correlations_section(rep, doc)
    _site_effects_section(rep, doc)
    _meta_section(rep, doc)
    _counts_section(rep, doc)
    _not_pooled_section(rep, doc)
    _method_section(rep, doc)
    return doc.write(path)
