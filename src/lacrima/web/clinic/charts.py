"""Page data for the clinic templates: caseload rows from stored summaries, and the client page's charts
and tables from an :class:`~lacrima.web.clinic.evaluate.Evaluation`. Figures are drawn by the report's
public chart module; nothing here computes a score."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from django.urls import reverse
from django.utils.translation import get_language, gettext, gettext_lazy

from lacrima.report.clinic_charts import alliance_timeline_chart, sparkline_svg, symptom_trajectory_chart
from lacrima.web.clinic.models import ClientSummary
from lacrima.web.studies.models import Client

SYMPTOM_SCALES = {"phq9": (0.0, 27.0), "gad7": (0.0, 21.0)}
SYMPTOM_NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7"}
STYLE_NAMES = {
    "secure": gettext_lazy("secure"),
    "anxious_preoccupied": gettext_lazy("anxious-preoccupied"),
    "avoidant_dismissing": gettext_lazy("avoidant-dismissing"),
    "fearful": gettext_lazy("fearful-avoidant"),
}
ATTITUDE_NAMES = {
    "healing": gettext_lazy("crying heals"),
    "weakness": gettext_lazy("crying is weakness"),
    "acceptability": gettext_lazy("acceptable to cry"),
    "gendered": gettext_lazy("gendered expectations"),
}
CHANGE_NAMES = {  # the Jacobson-Truax categories of lacrima.scoring.CHANGE_CATEGORIES
    "recovered": gettext_lazy("recovered"),
    "improved": gettext_lazy("reliably improved"),
    "unchanged": gettext_lazy("no reliable change"),
    "deteriorated": gettext_lazy("reliably deteriorated"),
}
EVIDENCE_NAMES = {
    "tested": gettext_lazy("tested"),
    "correlational": gettext_lazy("correlational"),
    "derived": gettext_lazy("derived, not tested"),
}


ALERT_LABELS = {
    "risk-item": gettext_lazy("Risk item"),
    "alliance-rupture": gettext_lazy("Alliance rupture"),
    "not-on-track": gettext_lazy("Not on track"),
    "difficult-crying": gettext_lazy("Difficult crying"),
    "missed-checkins": gettext_lazy("Missed check-ins"),
}

_KIND_ORDER = {k: i for i, k in enumerate(ALERT_LABELS)}

PRIORITY_LABELS = {
    "high": gettext_lazy("high priority"),
    "medium": gettext_lazy("medium priority"),
    "low": gettext_lazy("low priority"),
}


def caseload_row(client: Client, summary: ClientSummary | None) -> dict[str, Any]:
    url = reverse("clinic:client", kwargs={"slug": client.study.slug, "code": client.code})
    if summary is None:
        return {"client": client, "url": url, "summary": None, "urgency": float("inf"), "badges": []}
    labels = {k: str(v) for k, v in ALERT_LABELS.items()}
    values = [v for _, v in summary.alliance]
    measured = [v for v in values if v is not None]
    symptom = summary.symptom or {}
    return {
        "client": client,
        "url": url,
        "summary": summary,
        "urgency": summary.urgency,
        "badges": sorted(  # most serious first: the order of ALERT_LABELS, risk items leading
            ((k, labels.get(k, k)) for k in summary.open_kinds), key=lambda b: _KIND_ORDER.get(b[0], 99)
        ),
        "crying": gettext("%(cried)s of %(n)s")
        % {"cried": summary.recent_cried, "n": summary.recent_sessions},
        "latest": measured[-1] if measured else None,
        "previous": measured[-2] if len(measured) > 1 else None,
        "spark": sparkline_svg(
            values[-12:], label=f"Session alliance of {client.code}, last {min(12, len(values))} sessions"
        )
        if measured
        else "",
        "symptom": symptom,
        "symptom_name": SYMPTOM_NAMES.get(symptom.get("instrument", ""), ""),
        "problem": summary.problem,
    }


def _episodes(result: Any) -> list[tuple[int, int | None]]:
    return [(int(e.start_session), e.repair_session) for e in result.episodes]


def _band(expected: Any, sessions: np.ndarray, intake: float | None) -> Any:
    """The expected-recovery band (sessions, expected, lower, upper) of the library's trajectory."""
    if expected is None or intake is None or sessions.size == 0:
        return None
    grid = np.arange(1, int(sessions.max()) + 1, dtype=float)
    band = expected.band(grid, intake)
    return (
        grid,
        band["expected"].to_numpy(dtype=float),
        band["lower"].to_numpy(dtype=float),
        band["upper"].to_numpy(dtype=float),
    )


def _timeline(scores: pd.DataFrame, result: Any, code: str) -> str:
    if scores.empty or scores["alliance"].notna().sum() == 0:
        return ""
    chart = alliance_timeline_chart(
        scores,
        episodes=_episodes(result),
        ylabel=gettext("Session alliance"),
        xlabel=gettext("Session"),
        cried_label=gettext("cried (size: intensity)"),
    )
    description = (
        f"Session alliance of client {code} on the check-in's 1-7 scale, sessions with crying marked "
        "(larger marks: more intense crying), rupture episodes shaded"
    )
    return chart.to_svg(ident="timeline", description=description)


def _symptom_charts(ev: Any) -> list[dict[str, Any]]:
    scores = ev.result.scores
    out = []
    for status in ev.symptoms:
        col = f"{status.instrument}_total"
        measured = scores[["session", col]].dropna() if col in scores else pd.DataFrame()
        if measured.empty:
            out.append(
                {"status": status, "name": SYMPTOM_NAMES[status.instrument], "svg": "", "expected": None}
            )
            continue
        expected = ev.expected.get(status.instrument)
        intake = status.intake if status.intake is not None else float(measured[col].iloc[0])
        sessions = measured["session"].to_numpy(dtype=float).tolist()
        totals = measured[col].to_numpy(dtype=float).tolist()
        if status.intake is not None and 1.0 not in sessions:
            sessions, totals = [1.0, *sessions], [status.intake, *totals]  # the intake, at the first session
        band = _band(expected, np.asarray(sessions), intake)
        chart = symptom_trajectory_chart(
            sessions,
            totals,
            scale=SYMPTOM_SCALES[status.instrument],
            cutoff=status.cutoff,
            band=band,
            ylabel=gettext("%(measure)s total") % {"measure": SYMPTOM_NAMES[status.instrument]},
            xlabel=gettext("Session"),
            band_label=gettext("expected recovery"),
        )
        svg = chart.to_svg(
            ident=f"symptom-{status.instrument}",
            description=f"{SYMPTOM_NAMES[status.instrument]} total by session, expected-recovery band",
        )
        out.append(
            {"status": status, "name": SYMPTOM_NAMES[status.instrument], "svg": svg, "expected": expected}
        )
    return out


def _value(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _crying_rows(ev: Any) -> list[dict[str, Any]]:
    """Per crying session: intensity, feelings after crying, felt understood and the therapist's response
    (the check-in's subscale scores, 1-7; None where the check-in did not ask or was not answered)."""
    scores = ev.result.scores
    rows = []
    for _, r in scores[pd.to_numeric(scores["cried"], errors="coerce") == 1].iterrows():
        rows.append(
            {
                "session": int(r["session"]),
                "intensity": _value(r.get("intensity")),
                "positive": _value(r.get("positive_feelings")),
                "negative": _value(r.get("negative_feelings")),
                "understood": _value(r.get("felt_understood")),
                "response": _value(r.get("therapist_response")),
            }
        )
    return rows


def _prompts(ev: Any) -> list[dict[str, Any]]:
    """Guidance prompts in the page's language (English where a prompt has no translation)."""
    lang = get_language() or "en"
    return [
        {
            "id": p.id,
            "version": p.version,
            "title": p.title_in(lang),
            "text": p.text_in(lang),
            "evidence": p.evidence,
            "evidence_label": str(EVIDENCE_NAMES.get(p.evidence, p.evidence)),
            "evidence_note": p.evidence_note,
            "citations": p.citations,
            "matched": p.matched,
            "disclaimer": p.disclaimer_in(lang),
        }
        for p in ev.prompts
    ]


def _gender_label(code: str | None, lang: str) -> str | None:
    """The demographics instrument's own label of a gender answer, in the page's language."""
    if not code:
        return None
    from lacrima.instruments import load_instrument

    for item in load_instrument("demographics").items:
        if item.column == "gender":
            for option in item.options or ():
                if option.code == code:
                    return str(option.label.get(lang) or option.label.get("en") or code)
    return code


def _profile(ev: Any) -> dict[str, Any]:
    from django.utils.translation import get_language_info

    s = ev.survey
    lang = get_language() or "en"
    try:
        language = get_language_info(ev.client.language)["name_translated"]
    except KeyError:
        language = ev.client.language
    return {
        "anxiety": s.attachment_anxiety,
        "avoidance": s.attachment_avoidance,
        "style": str(STYLE_NAMES.get(s.attachment_style or "", s.attachment_style or "")),
        "attitudes": [(str(ATTITUDE_NAMES.get(k, k)), v) for k, v in (s.crying_attitudes or {}).items()],
        "gender": _gender_label(s.gender, lang),
        "language": language,
        "intake": s.intake,
    }


def _sessions(ev: Any) -> list[dict[str, Any]]:
    rows = []
    for _, r in ev.result.scores.iterrows():
        rows.append(
            {
                "session": int(r["session"]),
                "date": None if pd.isna(r.get("date")) else pd.Timestamp(r["date"]).date(),
                "cried": r.get("cried") == 1,
                "alliance": None if pd.isna(r.get("alliance")) else float(r["alliance"]),
            }
        )
    return rows


def client_page_context(ev: Any) -> dict[str, Any]:
    scores = ev.result.scores
    return {
        "timeline": _timeline(scores, ev.result, ev.client.code),
        "symptom_charts": _symptom_charts(ev),
        "crying_rows": _crying_rows(ev),
        "profile": _profile(ev),
        "sessions": _sessions(ev),
        "episodes": ev.result.episodes,
        "prompts": _prompts(ev),
        "guidance_problem": ev.guidance_problem,
        "notes": ev.result.notes,
        "no_alliance": len(scores) > 0 and scores["alliance"].notna().sum() == 0,
    }


def client_view_context(ev: Any, lang: str) -> dict[str, Any]:
    scores = ev.result.scores
    return {
        "timeline": _timeline(scores, ev.result, ev.client.code),
        "symptom_charts": [c for c in _symptom_charts(ev) if c["svg"]],
        "n_sessions": len(scores),
    }
