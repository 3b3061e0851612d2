"""The consortium report rendered: pooled results (:func:`lacrima.crosscultural.pool_plan`) as one
self-contained HTML file. All rounding happens here, through :mod:`lacrima.report._format`; nothing is
computed here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from lacrima.analysis.plan import Hypothesis
from lacrima.crosscultural import PooledReport, level_key
from lacrima.report._forest import forest_chart
from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r
from lacrima.report._html import HtmlReport
from lacrima.report._labels import label

__all__ = ["render_pooled"]


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
