"""The "Crying across therapy" report section: the longitudinal plan's models as APA tables with a short
text each, variance components, and the session-level figures. All rounding happens here."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r, is_missing
from lacrima.report._html import HtmlReport, Section
from lacrima.report._longitudinal_figures import (
    alliance_trajectories_chart,
    client_alliance_chart,
    crying_prevalence_chart,
    crying_probability_chart,
)

if TYPE_CHECKING:
    from lacrima.longitudinal.plan import LongitudinalModel, LongitudinalResults
    from lacrima.report._study import Report

__all__ = ["longitudinal_section", "render_longitudinal", "term_label"]

_TERMS = {
    "(Intercept)": "Intercept",
    "session_c": "Session (per 10 sessions)",
    "cried": "Cried in this session",
    "cried_lag1": "Cried in the previous session",
    "cried_lag1_cwc": "Cried in the previous session (within client)",
    "cried_lag1_pmc": "Client's crying rate (between clients)",
    "ecr_anxiety_c": "Attachment anxiety (ECR, centred)",
    "ecr_avoidance_c": "Attachment avoidance (ECR, centred)",
    "ecr_anxiety": "Attachment anxiety (ECR)",
    "ecr_avoidance": "Attachment avoidance (ECR)",
}
_FACTORS = {"gender": ("Gender", "man"), "attachment_style": ("Attachment style", "secure")}
_SIGN_WORDS = {"+": "positive", "-": "negative"}


def term_label(term: str) -> str:
    """A readable label for an lme4 fixed-effect name (``session_c:ecr_avoidance_c`` -> ``Session (per 10
    sessions) x Attachment avoidance (ECR, centred)``)."""
    parts = []
    for piece in term.split(":"):
        if piece in _TERMS:
            parts.append(_TERMS[piece])
            continue
        for factor, (name, reference) in _FACTORS.items():
            if piece.startswith(factor) and piece != factor:
                level = piece[len(factor) :].replace("_", " ")
                parts.append(f"{name}: {level} (vs {reference.replace('_', ' ')})")
                break
        else:
            parts.append(piece.replace("_", " "))
    return " \u00d7 ".join(parts)


def _fixed_table(model: LongitudinalModel) -> pd.DataFrame:
    binomial = model.family == "binomial"
    rows = []
    for term, fx in model.fixed.iterrows():
        row = {"Term": term_label(str(term)), "b": fmt_num(fx["estimate"]), "SE": fmt_num(fx["se"])}
        if not binomial:
            row["df"] = fmt_num(fx["df"], 1)
        row["z" if binomial else "t"] = fmt_num(fx["t"])
        row["p"] = fmt_p(fx["p"])
        row["95% CI"] = fmt_ci(fx["ci_low"], fx["ci_high"])
        if binomial:
            row["OR"] = fmt_num(_exp(fx["estimate"]))
        rows.append(row)
    return pd.DataFrame(rows)


def _exp(value: Any) -> float:
    import math

    return math.exp(float(value)) if not is_missing(value) else math.nan


def _varcomp_table(model: LongitudinalModel) -> pd.DataFrame:
    rows = []
    for _, vc in model.varcomp.iterrows():
        group = str(vc["group"]).replace("_id", "").replace(".1", "")
        var1, var2 = vc["var1"], vc["var2"]
        if group == "Residual":
            effect, kind = "Residual", "SD"
        elif is_missing(var2) or var2 is None:
            effect, kind = term_label(str(var1)), "SD"
        else:
            effect, kind = f"{term_label(str(var1))} with {term_label(str(var2))}", "r"
        rows.append(
            {
                "Group": group.capitalize() if group != "Residual" else "\u2014",
                "Effect": effect,
                "Variance or covariance": fmt_num(vc["vcov"], 4),
                "SD or r": fmt_r(vc["sdcor"]) if kind == "r" else fmt_num(vc["sdcor"], 3),
            }
        )
    return pd.DataFrame(rows)


def _model_text(model: LongitudinalModel) -> str:
    """One sentence per term of interest: estimate, CI, p and the direction against the expectation."""
    sentences = []
    for _, f in model.findings().iterrows():
        label = term_label(str(f["term"]))
        if is_missing(f["estimate"]):
            sentences.append(f"{label}: not estimated (the term is not in the fitted model).")
            continue
        odds = f", OR = {fmt_num(_exp(f['estimate']))}" if model.family == "binomial" else ""
        est = f"b = {fmt_num(f['estimate'])} {fmt_ci(f['ci_low'], f['ci_high'])}{odds}, p {_p_text(f['p'])}"
        sign = "positive" if float(f["estimate"]) > 0 else "negative"
        if f["expected"] == "any":
            verdict = f"{sign}; no direction was predicted"
        elif f["as_expected"]:
            verdict = f"{sign}, as expected"
        else:
            verdict = f"{sign}, opposite to the expected {_SIGN_WORDS[str(f['expected'])]} sign"
        sentences.append(f"{label}: {est} ({verdict}).")
    return " ".join(sentences)


def _p_text(p: Any) -> str:
    text = fmt_p(p)
    return text if text.startswith(("<", ">")) else f"= {text}"


def _model_block(
    result: LongitudinalResults, model: LongitudinalModel, doc: HtmlReport, sec: Section
) -> None:
    doc.raw(sec, f"<h3>{html.escape(model.id)}. {html.escape(model.title)}</h3>")
    if not model.ran:
        doc.warning(sec, f"{model.id} was not run: {model.reason}.")
        return
    kind = "Logistic" if model.family == "binomial" else "Linear"
    size = f"{fmt_int(model.n_sessions)} sessions of {fmt_int(model.n_clients)} clients"
    if model.n_therapists is not None:
        size += f" and {fmt_int(model.n_therapists)} therapists"
    intro = f"{model.description} {kind} mixed model, fitted on {size}: {model.formula}."
    doc.paragraph(sec, re.sub(r"\s+", " ", intro).strip())
    doc.paragraph(sec, _model_text(model))
    if model.family == "binomial":
        note = (
            "b in log-odds; OR = exp(b). Wald z tests and intervals from the Laplace fit (as lme4::glmer). "
            "Session is counted in tens from the first session."
        )
    else:
        note = (
            "Satterthwaite df and t tests (as lmerTest). Session is counted in tens from the first session."
        )
    doc.table(sec, _fixed_table(model), f"{model.id}: fixed effects ({model.title.lower()})", note=note)
    doc.table(
        sec,
        _varcomp_table(model),
        f"{model.id}: variance components",
        note="Random-effect standard deviations, their correlations (r) and the residual (linear models).",
    )
    for text in model.notes:
        doc.paragraph(sec, f"Simplified: {text}.")
    for text in model.warnings:
        doc.warning(sec, text)


def _summary(result: LongitudinalResults, doc: HtmlReport, sec: Section) -> None:
    ther = f", {fmt_int(result.n_therapists)} therapists" if result.n_therapists is not None else ""
    rate = (
        f"; clients cried in {fmt_num(result.crying_rate * 100, 1)}% of the sessions"
        if not is_missing(result.crying_rate)
        else ""
    )
    alliance = (
        f" The session alliance is {'the check-in alliance score' if result.alliance_column == 'chk_alliance' else result.alliance_column}."
        if result.alliance_column
        else " The table has no alliance column, so the alliance models were not run."
    )
    doc.paragraph(
        sec,
        f"{fmt_int(result.n_sessions)} sessions of {fmt_int(result.n_clients)} clients{ther}{rate}.{alliance} "
        "Each model below is a mixed model with sessions nested in clients (and clients in therapists where "
        "the data allow); crying at t\u22121 is the previous session's crying, missing after a skipped session.",
    )
    check = result.check
    if check is not None and check.n_errors:
        doc.warning(sec, f"The session table has {check.n_errors} errors; the models were not run.")
    if check is not None and check.n_notes:
        kinds = check.findings[check.findings["severity"] == "note"]["kind"].value_counts(sort=False)
        counts = ", ".join(f"{str(k).replace('_', ' ')}s: {fmt_int(n)}" for k, n in kinds.items())
        doc.paragraph(sec, f"Checks of the session table found (for information) {counts}.")
    done = [m for m in result.models if m.ran]
    rows = []
    for m in result.models:
        for _, f in m.findings().iterrows():
            ran = m.ran and not is_missing(f["estimate"])
            rows.append(
                {
                    "Model": f"{m.id}. {m.title}",
                    "Term": term_label(str(f["term"])),
                    "Expected": {"+": "positive", "-": "negative"}.get(str(f["expected"]), "\u2014"),
                    "b [95% CI]": f"{fmt_num(f['estimate'])} {fmt_ci(f['ci_low'], f['ci_high'])}"
                    if ran
                    else "not run",
                    "p": fmt_p(f["p"]) if ran else "\u2014",
                    "n sessions": fmt_int(m.n_sessions) if m.ran else "\u2014",
                }
            )
    if rows:
        doc.table(
            sec,
            pd.DataFrame(rows),
            "Longitudinal models: terms of interest",
            note=f"{len(done)} of {len(result.models)} planned models were fitted; reasons for the others "
            "are given below. b in log-odds for crying models.",
        )


def _figures(result: LongitudinalResults, doc: HtmlReport, sec: Section) -> None:
    data = result.data
    if "cried" in data.columns and "session" in data.columns:
        min_n = max(10, result.n_clients // 20)
        fig = crying_prevalence_chart(data, min_n=min_n)
        doc.figure(
            sec,
            fig,
            f"Share of sessions with crying by session number, with 95% Wilson intervals (session numbers "
            f"reached by at least {min_n} clients).",
            alt="Line chart of the percentage of sessions with crying over session numbers with a band.",
        )
    alliance = result.alliance_column
    if alliance and {"client_id", "session"} <= set(data.columns):
        curve = result.alliance_curve
        fitted = (curve["session"].to_numpy(), curve["alliance"].to_numpy()) if len(curve) else None
        fig = alliance_trajectories_chart(
            data, alliance=alliance, seed=result.seed, fitted=fitted, ylabel="Session alliance"
        )
        model_text = (
            f" and the population curve of model {curve['model'].iloc[0]} (dashed; crying at t\u22121 at its "
            "sample share)"
            if fitted is not None
            else ""
        )
        doc.figure(
            sec,
            fig,
            f"Alliance over sessions: 30 randomly drawn clients (grey), the mean per session{model_text}.",
            alt="Spaghetti plot of client alliance trajectories with a mean line.",
        )
        if result.example_client is not None and "cried" in data.columns:
            fig = client_alliance_chart(
                data, result.example_client, alliance=alliance, ylabel="Session alliance"
            )
            doc.figure(
                sec,
                fig,
                f"One client's alliance across sessions ({result.example_client}), with the sessions in which "
                "the client cried shaded and marked.",
                alt="Line chart of one client's alliance with crying sessions marked.",
            )
    style = result.crying_by_style
    if len(style):
        fig = crying_probability_chart(style, order=[g for g in _STYLE_ORDER if g in set(style["group"])])
        doc.figure(
            sec,
            fig,
            "Predicted probability of crying by attachment style over sessions (population level, logistic "
            "mixed model with a style-specific intercept and slope and a client random intercept; 95% Wald "
            "bands).",
            alt="Line chart of the predicted probability of crying for each attachment style.",
        )


_STYLE_ORDER = ("secure", "anxious_preoccupied", "avoidant_dismissing", "fearful")


def render_longitudinal(result: LongitudinalResults, doc: HtmlReport) -> None:
    """Add a "Crying across therapy" section to ``doc``: a summary table of the terms of interest, each
    model's fixed effects and variance components with a short text, and four figures (crying prevalence,
    alliance trajectories with the model curve, one client's alliance with crying marked, predicted
    crying probability by attachment style)."""
    sec = doc.section("Crying across therapy")
    _summary(result, doc, sec)
    _figures(result, doc, sec)
    for model in result.models:
        _model_block(result, model, doc, sec)
    if result.notes:
        doc.raw(
            sec,
            "<details><summary>Longitudinal notes</summary><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
            + "</ul></details>",
        )


def longitudinal_section(report: Report, doc: HtmlReport) -> None:
    """Report section hook (called by report._render): renders ``report.extras["longitudinal"]`` when present."""
    result = report.extras.get("longitudinal") if report.extras else None
    if result is not None:
        render_longitudinal(result, doc)
