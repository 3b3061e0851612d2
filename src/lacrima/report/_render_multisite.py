"""The "Cross-cultural and multi-site" section of the HTML report, from a
:class:`~lacrima.crosscultural.multisite.MultiSiteResult`. All numbers are rounded here, through
:mod:`lacrima.report._format`."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r, is_missing
from lacrima.report._html import HtmlReport, Section
from lacrima.report._labels import label

if TYPE_CHECKING:
    from lacrima.crosscultural.meta import MetaResult
    from lacrima.crosscultural.multisite import MultiSiteResult
    from lacrima.report._study import Report

__all__ = ["multisite_section", "render_multisite"]

DASH = "\u2014"
_BOUNDED = ("r", "partial r", "rho")
_GROUP_NAMES = {"woman": "Women", "man": "Men"}
_LEVEL_TEXT = {
    "strict": "strict",
    "scalar": "scalar",
    "metric": "metric",
    "configural": "configural",
    "none": "none (configural fit poor)",
    "not tested": "not tested",
    "not determined": "not determined",
}


def _est(effect: str, value: Any) -> str:
    return fmt_r(value) if effect in _BOUNDED else fmt_num(value)


def _est_ci(effect: str, row: pd.Series) -> str:
    if row.get("error"):
        return "not run"
    if is_missing(row["estimate"]):
        return DASH
    bounded = effect in _BOUNDED
    return f"{_est(effect, row['estimate'])} {fmt_ci(row['ci_low'], row['ci_high'], bounded=bounded)}"


def _group_name(value: str) -> str:
    return _GROUP_NAMES.get(value, value)


def _i2_words(i2: float) -> str:
    # Higgins et al. (2003): 25%, 50% and 75% as low, moderate and high
    if i2 < 25:
        return "little"
    if i2 < 50:
        return "low to moderate"
    if i2 < 75:
        return "moderate to substantial"
    return "considerable"


def heterogeneity_text(name: str, m: MetaResult, *, log_scale: bool = False, bounded: bool = True) -> str:
    """One sentence on the heterogeneity of a meta-analysis (I^2, tau^2, Q test, prediction interval)."""
    pi = (math.exp(m.pi[0]), math.exp(m.pi[1])) if log_scale else m.pi
    differ = (
        "the Q test suggests that the site effects differ (p < .10)"
        if m.q_p < 0.10
        else "the Q test does not show that the site effects differ"
    )
    return (
        f"{name}: {_i2_words(m.i2)} heterogeneity across {m.k} sites (I\u00b2 = {fmt_num(m.i2, 0)}%, "
        f"\u03c4\u00b2 = {fmt_num(m.tau2, 3)}; Q({m.q_df}) = {fmt_num(m.q)}, p = {fmt_p(m.q_p)}): {differ}. "
        f"The 95% prediction interval for a new site is {fmt_ci(pi[0], pi[1], bounded=bounded)}."
    )


def _list(doc: HtmlReport, sec: Section, items: list[str]) -> None:
    if items:
        doc.raw(sec, "<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>")


def _sites(result: MultiSiteResult, doc: HtmlReport, sec: Section) -> None:
    sn = result.site_n
    analysed = sn[sn["analysed"]]
    parts = [f"{s} (n = {fmt_int(n)})" for s, n in zip(analysed["site"], analysed["n"], strict=True)]
    skipped = sn[~sn["analysed"]]
    text = (
        f"The planned battery was run at each of {len(analysed)} sites ({', '.join(parts)}) and on the "
        f"pooled sample. Correlations, partial correlations, Hedges' g and odds ratios were combined across "
        "sites by random-effects meta-analysis (REML; correlations through Fisher's z, odds ratios on the "
        "log scale), with Q, I\u00b2, \u03c4\u00b2 and 95% prediction intervals for heterogeneity."
    )
    if len(skipped):
        text += (
            f" Sites with fewer than {fmt_int(result.min_site_n)} participants were not analysed on their own: "
            + ", ".join(f"{s} (n = {fmt_int(n)})" for s, n in zip(skipped["site"], skipped["n"], strict=True))
            + "."
        )
    doc.paragraph(sec, text)


def _effects(result: MultiSiteResult, doc: HtmlReport, sec: Section) -> None:
    eff = result.effects
    if eff.empty:
        return
    site_rows = []
    meta_rows = []
    for hid, g in eff.groupby("hypothesis", sort=False):
        effect = str(g[g["source"] == "pooled"]["effect"].iloc[0] or g["effect"].iloc[0])
        row: dict[str, str] = {"Hyp.": str(hid), "Effect": effect or DASH}
        for site in result.sites:
            srow = g[(g["source"] == "site") & (g["label"] == site)]
            row[site] = _est_ci(effect, srow.iloc[0]) if len(srow) else DASH
        row["Pooled sample"] = _est_ci(effect, g[g["source"] == "pooled"].iloc[0])
        site_rows.append(row)
        mrow = g[g["source"] == "meta"]
        if len(mrow):
            m = mrow.iloc[0]
            bounded = effect in _BOUNDED
            meta_rows.append(
                {
                    "Hyp.": str(hid),
                    "Effect": effect,
                    "k": fmt_int(m["k"]),
                    "n": fmt_int(m["n"]),
                    "Estimate [95% CI]": _est_ci(effect, m),
                    "p": fmt_p(m["p"]),
                    "95% PI": fmt_ci(m["pi_low"], m["pi_high"], bounded=bounded),
                    "\u03c4\u00b2": fmt_num(m["tau2"], 3),
                    "I\u00b2 (%)": fmt_num(m["i2"], 0),
                    "Q (df)": f"{fmt_num(m['q'])} ({fmt_int(m['q_df'])})",
                    "p (Q)": fmt_p(m["q_p"]),
                }
            )
    doc.table(
        sec,
        pd.DataFrame(site_rows),
        "Planned effects by site and in the pooled sample",
        note="Effects with 95% confidence intervals; \u201cnot run\u201d marks a hypothesis that could not be "
        "tested at a site (see the notes).",
    )
    if meta_rows:
        doc.table(
            sec,
            pd.DataFrame(meta_rows),
            "Random-effects meta-analysis of the site effects",
            note="REML estimates. Correlations are pooled through Fisher's z and odds ratios on the log scale "
            "(\u03c4\u00b2 is on those scales). PI = 95% prediction interval for a new site; Q tests "
            "heterogeneity. Interaction coefficients (moderation) are not meta-analysed.",
        )


def _forest(result: MultiSiteResult, doc: HtmlReport, sec: Section) -> str | None:
    if not result.meta:
        return None
    from lacrima.report._forest import forest_chart

    effects = {hid: str(result.pooled[hid].effect) for hid in result.meta}
    pick = "H1" if "H1" in result.meta else None
    if pick is None:
        pick = next((h for h, e in effects.items() if e in ("r", "partial r")), next(iter(result.meta)))
    m = result.meta[pick]
    h = result.pooled[pick].hypothesis
    is_or = effects[pick] == "odds ratio"
    xlabel = "Log odds ratio" if is_or else None
    doc.figure(
        sec,
        forest_chart(m, xlabel=xlabel),
        f"Forest plot of {pick} ({h.title}) across sites: site effects with 95% confidence intervals (squares "
        "sized by weight), the random-effects estimate (diamond) and its prediction interval (red line).",
        alt=f"Forest plot of {pick} by site",
    )
    return pick


def _heterogeneity(result: MultiSiteResult, doc: HtmlReport, sec: Section, shown: str | None) -> None:
    if not result.meta:
        return
    items = []
    flagged = 0
    for hid, m in result.meta.items():
        effect = str(result.pooled[hid].effect)
        notable = m.q_p < 0.10 or m.i2 >= 50
        flagged += notable
        if notable or hid == shown:
            items.append(
                heterogeneity_text(
                    f"{hid} ({effect})", m, log_scale=effect == "odds ratio", bounded=effect in _BOUNDED
                )
            )
    doc.paragraph(
        sec,
        f"Heterogeneity: {flagged} of {len(result.meta)} meta-analysed effects vary across sites "
        "(Q test p < .10 or I\u00b2 \u2265 50%); for the others the sites agree within sampling error. "
        "Where effects vary, the pooled estimate describes an average over sites, not every site.",
    )
    _list(doc, sec, items)


def _share(cried: Any, n: Any, share: Any) -> str:
    text = f"{fmt_int(cried)}/{fmt_int(n)}"
    return text if is_missing(share) else f"{text} ({fmt_num(100.0 * float(share), 1)}%)"


def _gender(result: MultiSiteResult, doc: HtmlReport, sec: Section) -> None:
    gc = result.gender_crying
    if gc.empty:
        return
    rows = []
    for _, r in gc.iterrows():
        name = {"pooled": "Pooled", "meta": "Meta-analysis (REML)"}.get(str(r["source"]), str(r["label"]))
        rows.append(
            {
                "Site": name,
                "Women who cried": _share(r["women_cried"], r["women_n"], r["women_share"]),
                "Men who cried": _share(r["men_cried"], r["men_n"], r["men_share"]),
                "OR [95% CI]": f"{fmt_num(r['odds_ratio'])} {fmt_ci(r['ci_low'], r['ci_high'])}",
                "p": fmt_p(r["p"]),
                "Fisher p": fmt_p(r["fisher_p"]),
            }
        )
    doc.table(
        sec,
        pd.DataFrame(rows),
        "Crying in therapy by gender and site",
        note="OR = odds of having cried for women relative to men (Woolf interval; 0.5 added to every cell of "
        "a table with an empty cell). Site and pooled p from chi-square tests with Yates' correction; the "
        "meta-analysis pools log odds ratios with random effects.",
    )
    if result.gender_meta is not None:
        _list(
            doc,
            sec,
            [heterogeneity_text("Gender odds ratio", result.gender_meta, log_scale=True, bounded=False)],
        )


def _invariance(result: MultiSiteResult, doc: HtmlReport, sec: Section) -> None:
    summary = result.invariance_summary
    if summary.empty:
        return
    doc.paragraph(
        sec,
        "Before scale means are compared, measurement invariance was tested by multi-group confirmatory "
        "factor analysis (configural, metric, scalar, strict). A step holds when CFI drops by at most .010 "
        "and RMSEA rises by at most .015 (Chen, 2007); the configural model must fit acceptably (CFI \u2265 "
        ".90, RMSEA \u2264 .10). Means are compared only where scalar invariance holds.",
    )
    rows = []
    for _, s in summary.iterrows():
        groups = (
            ", ".join(
                f"{_group_name(str(g))} ({fmt_int(n)})" for g, n in zip(s["groups"], s["n"], strict=True)
            )
            or DASH
        )
        rows.append(
            {
                "Model": str(s["label"]),
                "Across": str(s["grouping"]),
                "Groups (n)": groups,
                "Highest level": _LEVEL_TEXT.get(str(s["level"]), str(s["level"])),
                "Means comparable": "yes" if bool(s["scalar"]) else "no",
            }
        )
    doc.table(sec, pd.DataFrame(rows), "Measurement invariance: summary")
    steps = result.invariance
    for _, s in summary.iterrows():
        t = (
            steps[(steps["model"] == s["model"]) & (steps["grouping"] == s["grouping"])]
            if len(steps)
            else steps
        )
        if t.empty:
            doc.warning(
                sec, f"Invariance of {s['label']} across {s['grouping']} was not tested: {s['reason']}"
            )
            continue
        frame = pd.DataFrame(
            {
                "Step": t["step"].astype(str),
                "\u03c7\u00b2": t["chisq"].map(fmt_num),
                "df": t["df"].map(fmt_int),
                "CFI": t["cfi"].map(lambda v: fmt_r(v, 3)),
                "RMSEA [90% CI]": [
                    f"{fmt_r(v, 3)} {fmt_ci(lo, hi, 3, bounded=True)}"
                    for v, lo, hi in zip(t["rmsea"], t["rmsea_ci_low"], t["rmsea_ci_high"], strict=True)
                ],
                "SRMR": t["srmr"].map(lambda v: fmt_r(v, 3)),
                "\u0394CFI": t["delta_cfi"].map(lambda v: fmt_num(v, 3)),
                "\u0394RMSEA": t["delta_rmsea"].map(lambda v: fmt_num(v, 3)),
                "Decision": t["decision"].astype(str),
            }
        )
        sizes = ", ".join(
            f"{_group_name(str(g))} {fmt_int(n)}" for g, n in zip(s["groups"], s["n"], strict=True)
        )
        note = f"n: {sizes}; {fmt_int(s['excluded'])} rows with a missing indicator excluded."
        if s["reason"]:
            note += f" {s['reason']}."
        doc.table(sec, frame, f"Invariance of {s['label']} across {s['grouping']}", note=note)


def _means(result: MultiSiteResult, doc: HtmlReport, sec: Section) -> None:
    means = result.means
    if means.empty:
        return
    caveats = []
    for grouping, g in means.groupby("grouping", sort=False):
        groups = list(dict.fromkeys(g["group"].astype(str)))
        rows = []
        for scale, s in g.groupby("scale", sort=False):
            first = s.iloc[0]
            row: dict[str, str] = {"Scale": label(str(scale))}
            for grp in groups:
                r = s[s["group"] == grp]
                row[f"{_group_name(grp)} M (SD), n"] = (
                    f"{fmt_num(r['mean'].iloc[0])} ({fmt_num(r['sd'].iloc[0])}), {fmt_int(r['n'].iloc[0])}"
                    if len(r)
                    else DASH
                )
            row["Welch F (df), p"] = (
                f"{fmt_num(first['welch_f'])} ({fmt_int(first['welch_df1'])}, {fmt_num(first['welch_df2'], 1)}), "
                f"{fmt_p(first['welch_p'])}"
                if not is_missing(first["welch_f"])
                else DASH
            )
            row["Invariance"] = _LEVEL_TEXT.get(str(first["invariance"]), str(first["invariance"]))
            row["Means comparable"] = "yes" if bool(first["licensed"]) else "no"
            rows.append(row)
            if not bool(first["licensed"]):
                caveats.append(f"{label(str(scale))} across {grouping}: {first['note']}.")
        doc.table(
            sec,
            pd.DataFrame(rows),
            f"Scale means by {grouping}",
            note="Welch's ANOVA across groups. A difference in means is interpretable only where scalar "
            "invariance holds (last column); crying scales are among participants who cried.",
        )
    for text in dict.fromkeys(caveats):
        doc.warning(sec, f"Do not compare these means: {text}")


def render_multisite(result: MultiSiteResult, doc: HtmlReport) -> None:
    """Add a "Cross-cultural and multi-site" section to ``doc``: site, pooled and meta-analysed effects,
    a forest plot, heterogeneity, gender x crying, invariance tables and scale means with their caveat."""
    sec = doc.section("Cross-cultural and multi-site")
    _sites(result, doc, sec)
    _effects(result, doc, sec)
    shown = _forest(result, doc, sec)
    _heterogeneity(result, doc, sec, shown)
    _gender(result, doc, sec)
    _invariance(result, doc, sec)
    _means(result, doc, sec)
    if result.notes:
        doc.raw(
            sec,
            "<details><summary>Multi-site notes and warnings</summary><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
            + "</ul></details>",
        )


def multisite_section(report: Report, doc: HtmlReport) -> None:
    """Report section hook (called by report._render): renders ``report.extras["multisite"]`` when present."""
    result = report.extras.get("multisite") if report.extras else None
    if result is not None:
        render_multisite(result, doc)
