"""The battery report as one self-contained HTML file: scorecard, methods, sample, measures, planned tests,
figures, notes. All rounding happens here (and in the other renderers of this package)."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lacrima.report._figures import group_plot, prevalence_plot, scatter_fit, simple_slopes_plot
from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r
from lacrima.report._html import HtmlReport
from lacrima.report._labels import label

if TYPE_CHECKING:
    from lacrima.analysis.runner import HypothesisResult
    from lacrima.report._study import Report

VERDICT_CLASS = {
    "supported": "ok",
    "significant": "ok",
    "same direction, not significant": "mixed",
    "not significant": "mixed",
    "opposite direction": "bad",
    "opposite direction, significant": "bad",
    "not run": "bad",
}


def _effect(r: HypothesisResult) -> str:
    bounded = r.effect in ("r", "partial r", "rho")
    est = fmt_r(r.estimate) if bounded else fmt_num(r.estimate)
    return f"{r.effect} = {est} {fmt_ci(*r.ci, bounded=bounded)}"


def _published(report: Report, r: HypothesisResult) -> str:
    parts = []
    samples = report.plan_results.plan.published
    for key, direction in r.hypothesis.published.items():
        s = samples.get(key)
        if s is None:
            continue
        n = f", N = {s.n}" if s.n else ""
        parts.append(f"{s.label}{n}: {direction}")
    return "; ".join(parts) or "\u2014"


def _scorecard(report: Report, doc: HtmlReport) -> None:
    sec = doc.section("Replication scorecard")
    results = report.plan_results.results
    n_conf = sum(1 for r in results if r.hypothesis.confirmatory)
    n_sup = sum(1 for r in results if r.hypothesis.confirmatory and r.verdict == "supported")
    doc.paragraph(
        sec,
        f"{n_sup} of {n_conf} confirmatory hypotheses were supported in this sample (expected direction and "
        f"p < {_alpha(report.plan_results.plan.alpha)} after {_correction(report.plan_results.plan.correction)} "
        "correction "
        "within each family). The last column gives the published samples' direction.",
    )
    rows = []
    for r in results:
        h = r.hypothesis
        verdict = f"{r.verdict}" + ("" if h.confirmatory else " (exploratory)")
        rows.append(
            {
                "Hypothesis": f"{h.id}. {h.title}",
                "Expected": h.expect,
                "This sample": _effect(r) if r.error is None else "not run",
                "p (adj.)": fmt_p(r.p_adjusted),
                "n": fmt_int(r.n) if r.error is None else "\u2014",
                "Verdict": verdict,
                "Published": _published(report, r),
            }
        )
    frame = pd.DataFrame(rows)
    doc.table(
        sec,
        frame,
        "Hypotheses, their results in this sample and in the published studies",
        note="Effects with 95% confidence intervals; p values corrected within families. Exploratory "
        "hypotheses are marked.",
    )
    doc.raw(sec, _verdict_legend())


def _alpha(alpha: float) -> str:
    return f"{alpha:.3f}".rstrip("0").replace("0.", ".", 1)


def _correction(method: str) -> str:
    return {
        "holm": "Holm",
        "BH": "Benjamini-Hochberg",
        "bonferroni": "Bonferroni",
        "hochberg": "Hochberg",
        "hommel": "Hommel",
        "BY": "Benjamini-Yekutieli",
        "fdr": "Benjamini-Hochberg",
        "none": "no",
    }.get(method, method)


VALUE_LABELS = {"cried_in_therapy": {0: "did not cry", 1: "cried"}, "cried": {0: "did not cry", 1: "cried"}}


def value_label(column: str, value: Any) -> str:
    labels = VALUE_LABELS.get(column, {})
    try:
        return labels.get(int(value), str(value))
    except (TypeError, ValueError):
        return str(value)


def _verdict_legend() -> str:
    items = "".join(
        f'<li class="{cls}">{html.escape(v)}</li>' for v, cls in VERDICT_CLASS.items() if v != "significant"
    )
    return f'<details><summary>What the verdicts mean</summary><ul class="legend">{items}</ul></details>'


def _methods(report: Report, doc: HtmlReport) -> None:
    sec = doc.section("Method")
    pr = report.plan_results
    n = len(report.data)
    sites = report.data[report.site_column].nunique() if report.site_column else 1
    scored = ", ".join(report.scored) or "no instrument (scores were given)"
    boot = (
        f"Bootstrap confidence intervals ({pr.plan.boot_method.upper()}, {pr.n_boot:,} resamples, seed {pr.seed}) "
        "are given beside the analytic ones."
        if pr.bootstrap
        else "No bootstrap intervals were computed."
    )
    text = (
        f"Data from {n:,} participants"
        + (f" at {sites} sites" if sites > 1 else "")
        + f" were analysed with lacrima following the plan \u201c{pr.plan.name}\u201d (version {pr.plan.version}). "
        f"Instruments scored: {scored}; subscale scores are item means with reverse-keyed items reversed and "
        "prorated when enough items were answered. Crying-episode scales were analysed among participants who "
        "had cried in therapy. Associations are Pearson correlations with Fisher-z 95% confidence intervals; "
        "partial correlations control for the listed covariates (df = n \u2212 k \u2212 2). Group differences "
        "are Welch t tests with Hedges' g (second group minus first) and noncentral-t intervals. Crosstabs use "
        "chi-square tests with the sample odds ratio. Moderation uses OLS with mean-centred predictors, simple "
        "slopes at \u22121, 0 and +1 SD of the moderator and the Johnson\u2013Neyman interval. "
        f"p values are corrected within each family of hypotheses ({_correction(pr.plan.correction)}). {boot} "
        "Missing data were handled by listwise deletion within each analysis; the numbers excluded are reported."
    )
    doc.paragraph(sec, text)


def _sample(report: Report, doc: HtmlReport) -> None:
    sec = doc.section("Sample")
    s = report.sample
    frame = pd.DataFrame({"Group": s["group"], "n": s["n"].map(fmt_int)})
    for col, name in (("women_pct", "% women"), ("men_pct", "% men"), ("cried_pct", "% cried in therapy")):
        if col in s:
            frame[name] = s[col].map(lambda v: fmt_num(v, 1))
    if "age_mean" in s:
        frame["Age, M (SD)"] = [
            f"{fmt_num(m, 1)} ({fmt_num(sd, 1)})" for m, sd in zip(s["age_mean"], s["age_sd"], strict=True)
        ]
    doc.table(sec, frame, "Participants by site")
    prev = report.prevalence
    for by in prev["by"].unique() if not prev.empty else []:
        sub = prev[prev["by"] == by]
        fig = prevalence_plot(sub, title=f"By {label(str(by)).lower()}")
        doc.figure(
            sec,
            fig,
            f"Share of participants who have cried in therapy, by {label(str(by)).lower()}, with 95% "
            "Wilson intervals.",
            alt=f"Bar chart of crying prevalence by {by}",
        )


def _measures(report: Report, doc: HtmlReport) -> None:
    sec = doc.section("Measures")
    m = report.measures
    if m.empty:
        doc.paragraph(sec, "No instrument was scored.")
        return
    rel_all = (
        report.reliabilities[report.reliabilities["group"] == "All"]
        if not report.reliabilities.empty
        else None
    )
    rows = []
    for _, r in m.iterrows():
        rel = rel_all[rel_all["column"] == r["column"]] if rel_all is not None else pd.DataFrame()
        rows.append(
            {
                "Scale": label(str(r["column"])),
                "Items": fmt_int(r["items"]),
                "n": fmt_int(r["n"]),
                "M": fmt_num(r["mean"]),
                "SD": fmt_num(r["sd"]),
                "Range": f"{fmt_num(r['min'])}\u2013{fmt_num(r['max'])}",
                "\u03b1 [95% CI]": (
                    f"{fmt_r(rel['alpha'].iloc[0])} "
                    + fmt_ci(rel["alpha_ci_low"].iloc[0], rel["alpha_ci_high"].iloc[0], bounded=True)
                    if len(rel)
                    else "\u2014"
                ),
                "\u03c9": fmt_r(rel["omega"].iloc[0]) if len(rel) else "\u2014",
            }
        )
    doc.table(
        sec,
        pd.DataFrame(rows),
        "Descriptive statistics and reliabilities",
        note="\u03b1 = Cronbach's alpha with Feldt's interval; \u03c9 = McDonald's omega total from a one-factor "
        "model. Crying-episode scales are answered only by participants who have cried in therapy.",
    )
    rel = report.reliabilities
    if report.site_column and not rel.empty and rel["group"].nunique() > 1:
        wide = rel.pivot_table(index="column", columns="group", values="alpha", aggfunc="first")
        wide = wide[["All", *[c for c in wide.columns if c != "All"]]]
        frame = wide.map(fmt_r)
        frame.index = [label(str(c)) for c in frame.index]
        frame.index.name = "Scale"
        doc.table(sec, frame, "Cronbach's alpha by site", index=True)


def _by_test(report: Report, test: str, partial: bool | None = None) -> list[HypothesisResult]:
    out = []
    for r in report.plan_results.results:
        if r.hypothesis.test != test or r.error is not None:
            continue
        if partial is not None and bool(r.hypothesis.columns.get("covar")) != partial:
            continue
        out.append(r)
    return out


def _boot_text(r: HypothesisResult, bounded: bool) -> str:
    return fmt_ci(*r.boot.ci, bounded=bounded) if r.boot is not None else "\u2014"


def _correlations(report: Report, doc: HtmlReport) -> None:
    plain = _by_test(report, "correlate", partial=False)
    part = _by_test(report, "correlate", partial=True)
    if not plain and not part:
        return
    sec = doc.section("Correlations")
    if plain:
        rows = [
            {
                "Hyp.": r.hypothesis.id,
                "Variables": f"{label(r.hypothesis.columns['x'])} \u2013 {label(r.hypothesis.columns['y'])}",
                "r": fmt_r(r.estimate),
                "95% CI": fmt_ci(*r.ci, bounded=True),
                "Bootstrap CI": _boot_text(r, True),
                "p": fmt_p(r.p),
                "p (adj.)": fmt_p(r.p_adjusted),
                "n": fmt_int(r.n),
            }
            for r in plain
        ]
        doc.table(
            sec,
            pd.DataFrame(rows),
            "Correlations between crying experiences, alliance, change and attachment",
            note="Pearson r with Fisher-z intervals; n after listwise deletion.",
        )
    if part:
        rows = [
            {
                "Hyp.": r.hypothesis.id,
                "Variables": f"{label(r.hypothesis.columns['x'])} \u2013 {label(r.hypothesis.columns['y'])}",
                "Controlling for": ", ".join(label(c) for c in r.hypothesis.columns.get("covar", ())),
                "partial r": fmt_r(r.estimate),
                "95% CI": fmt_ci(*r.ci, bounded=True),
                "Bootstrap CI": _boot_text(r, True),
                "p (adj.)": fmt_p(r.p_adjusted),
                "n": fmt_int(r.n),
            }
            for r in part
        ]
        doc.table(sec, pd.DataFrame(rows), "Partial correlations")
    first = (plain or part)[0]
    x, y = first.hypothesis.columns["x"], first.hypothesis.columns["y"]
    data = first.hypothesis.select(report.data)
    doc.figure(
        sec,
        scatter_fit(data, x, y, xlabel=label(x), ylabel=label(y)),
        f"{label(y)} by {label(x).lower()} ({first.hypothesis.id}), with the least-squares line and its 95% "
        "confidence band.",
        alt=f"Scatter plot of {label(y)} against {label(x)}",
    )


def _groups(report: Report, doc: HtmlReport) -> None:
    comps = _by_test(report, "compare_groups")
    tabs = _by_test(report, "crosstab")
    if not comps and not tabs:
        return
    sec = doc.section("Group comparisons")
    if comps:
        rows = []
        for r in comps:
            det: Any = r.detail
            means = det.means.reset_index() if det is not None else pd.DataFrame()
            g1, g2 = (means.iloc[0], means.iloc[1]) if len(means) == 2 else (None, None)

            def _ms(g: Any) -> str:
                return (
                    "\u2014"
                    if g is None
                    else f"{fmt_num(g['mean'])} ({fmt_num(g['sd'])}), n = {fmt_int(g['n'])}"
                )

            rows.append(
                {
                    "Hyp.": r.hypothesis.id,
                    "Outcome": label(r.hypothesis.columns["dv"]),
                    "Groups (1 vs 2)": f"{value_label(r.hypothesis.columns['group'], det.groups[0])} vs {value_label(r.hypothesis.columns['group'], det.groups[1])}",
                    "Group 1 M (SD)": _ms(g1),
                    "Group 2 M (SD)": _ms(g2),
                    "t (df)": f"{fmt_num(det.t)} ({fmt_num(det.df, 1)})",
                    "p (adj.)": fmt_p(r.p_adjusted),
                    "g [95% CI]": f"{fmt_num(r.estimate)} {fmt_ci(*r.ci)}",
                    "Bootstrap CI": _boot_text(r, False),
                }
            )
        doc.table(
            sec,
            pd.DataFrame(rows),
            "Group comparisons (Welch t tests)",
            note="Hedges' g is group 2 minus group 1 over the pooled SD.",
        )
        first = comps[0]
        det0: Any = first.detail
        dv, grp = first.hypothesis.columns["dv"], first.hypothesis.columns["group"]
        doc.figure(
            sec,
            group_plot(
                first.hypothesis.select(report.data),
                dv,
                grp,
                order=list(det0.groups),
                labels=[value_label(grp, g) for g in det0.groups],
                ylabel=label(dv),
            ),
            f"{label(dv)} by {label(grp).lower()} ({first.hypothesis.id}): raw scores with group means and 95% CIs.",
            alt=f"Dot plot of {label(dv)} by {grp}",
        )
    if tabs:
        rows = []
        for r in tabs:
            det1: Any = r.detail
            rows.append(
                {
                    "Hyp.": r.hypothesis.id,
                    "Variables": f"{label(det1.a)} \u00d7 {label(det1.b)}",
                    "\u03c7\u00b2 (df)": f"{fmt_num(det1.chi2)} ({fmt_int(det1.df)})",
                    "p (adj.)": fmt_p(r.p_adjusted),
                    "OR [95% CI]": f"{fmt_num(r.estimate)} {fmt_ci(*r.ci)}",
                    "Cram\u00e9r's V": fmt_r(det1.cramers_v),
                    "n": fmt_int(r.n),
                }
            )
        doc.table(sec, pd.DataFrame(rows), "Crying prevalence by group")


def _moderation(report: Report, doc: HtmlReport) -> None:
    mods = _by_test(report, "moderation")
    if not mods:
        return
    sec = doc.section("Moderation")
    for r in mods:
        det: Any = r.detail
        cols = r.hypothesis.columns
        coef = det.coefficients.reset_index().rename(columns={"index": "term"})
        coef = coef.rename(columns={coef.columns[0]: "term"})
        frame = pd.DataFrame(
            {
                "Term": coef["term"].map(
                    lambda t: (
                        " \u00d7 ".join(label(p) for p in str(t).split(":")) if t != "(Intercept)" else t
                    )
                ),
                "b": coef["estimate"].map(fmt_num),
                "SE": coef["se"].map(fmt_num),
                "t": coef["t"].map(fmt_num),
                "p": coef["p"].map(fmt_p),
                "95% CI": [fmt_ci(lo, hi) for lo, hi in zip(coef["ci_low"], coef["ci_high"], strict=True)],
            }
        )
        doc.table(
            sec,
            frame,
            f"{r.hypothesis.id}: {label(cols['y'])} on {label(cols['x']).lower()} \u00d7 "
            f"{label(cols['m']).lower()}",
            note=f"R\u00b2 = {fmt_r(det.r2)}, \u0394R\u00b2 for the interaction = "
            f"{fmt_r(det.r2_change, 3)}, n = {fmt_int(det.n)}. Predictors mean-centred.",
        )
        ss = det.simple_slopes
        frame = pd.DataFrame(
            {
                f"{label(cols['m'])} at": ss["at"].astype(str),
                "Slope": ss["estimate"].map(fmt_num),
                "SE": ss["se"].map(fmt_num),
                "p": ss["p"].map(fmt_p),
                "95% CI": [fmt_ci(lo, hi) for lo, hi in zip(ss["ci_low"], ss["ci_high"], strict=True)],
            }
        )
        doc.table(sec, frame, f"Simple slopes of {label(cols['x']).lower()}")
        jn = det.johnson_neyman
        regions = "; ".join(f"{fmt_num(a)} to {fmt_num(b)}" for a, b in jn.regions)
        doc.paragraph(
            sec,
            f"Johnson\u2013Neyman: the slope of {label(cols['x']).lower()} is significant (p < {_alpha(jn.alpha)}) "
            + (
                f"where {label(cols['m']).lower()} is in {regions}"
                if regions
                else "nowhere in the observed range"
            )
            + f" (observed range {fmt_num(jn.observed_range[0])} to {fmt_num(jn.observed_range[1])}).",
        )
        x_name, m_name = cols["x"], cols["m"]
        lines = pd.DataFrame(
            {
                "label": ss["at"].astype(str),
                "intercept": ss["intercept"].astype(float),
                "slope": ss["estimate"].astype(float),
            }
        )
        x_vals = pd.to_numeric(r.hypothesis.select(report.data)[x_name], errors="coerce").dropna()
        centre = float(x_vals.mean()) if det.centered else 0.0
        fig = simple_slopes_plot(
            lines,
            x_range=(float(x_vals.min()) - centre, float(x_vals.max()) - centre),
            xlabel=f"{label(x_name)} (centred)" if det.centered else label(x_name),
            ylabel=label(cols["y"]),
            mlabel=label(m_name),
        )
        doc.figure(
            sec,
            fig,
            f"Simple slopes ({r.hypothesis.id}): predicted {label(cols['y']).lower()} at "
            f"\u22121 SD, the mean and +1 SD of {label(m_name).lower()}.",
            alt="Simple slopes plot",
        )


def _notes(report: Report, doc: HtmlReport) -> None:
    issues = [r for r in report.plan_results.results if r.error or r.warnings]
    if not issues and not report.notes:
        return
    sec = doc.section("Warnings and notes")
    for r in issues:
        if r.error:
            doc.warning(sec, f"{r.hypothesis.id} was not run: {r.error}")
        for w in r.warnings:
            doc.warning(sec, f"{r.hypothesis.id}: {w}")
    for n in report.notes:
        doc.warning(sec, n)


def _software(report: Report, doc: HtmlReport) -> None:
    import numpy
    import scipy

    import lacrima

    sec = doc.section("Software and reproducibility")
    pr = report.plan_results
    doc.paragraph(
        sec,
        f"lacrima {lacrima.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}, pandas "
        f"{pd.__version__}. Plan: {pr.plan.source}. Seed {pr.seed}. Estimators were checked against R (psych, "
        "boot, stats, lavaan, metafor, lme4); the reference scripts are in tests/reference/ of the lacrima source.",
    )


def _extra_sections(report: Report) -> list[Callable[[Report, HtmlReport], None]]:
    """Renderers for the optional parts the report carries (imported only when needed: the longitudinal
    one pulls in pyarrow and scipy.stats)."""
    sections: list[Callable[[Report, HtmlReport], None]] = []
    if "multisite" in report.extras:
        from lacrima.report._render_multisite import multisite_section

        sections.append(multisite_section)
    if "longitudinal" in report.extras:
        from lacrima.report._render_longitudinal import longitudinal_section

        sections.append(longitudinal_section)
    return sections


def build_html(report: Report) -> HtmlReport:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = HtmlReport(
        title=report.title, subtitle=f"N = {len(report.data):,} \u00b7 generated {now} by lacrima"
    )
    for part in (_scorecard, _methods, _sample, _measures, _correlations, _groups, _moderation):
        part(report, doc)
    for extra in _extra_sections(report):
        extra(report, doc)
    _notes(report, doc)
    _software(report, doc)
    return doc


def render_html(report: Report, path: str | Path) -> Path:
    return build_html(report).write(path)
