"""A client's rows in the shapes the feedback library reads: one row per session and the intake profile.

Check-ins come from completed ``participate.Response`` rows (kind ``checkin``), with the therapist's date
corrections applied; symptom measures (PHQ-9, GAD-7) given with a session number join that session's row.
The profile (attachment, attitudes to crying, intake symptom totals) is scored by ``lc.score`` in
:func:`survey_scores`, the one place that reads survey answers for the clinic.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lacrima.web.clinic.models import SessionDate
from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Client

SYMPTOMS = ("phq9", "gad7")
_SYMPTOM_PREFIXES = ("phq_", "gad_")  # the item columns of phq9 and gad7 (their instruments' prefixes)


@dataclass(frozen=True)
class SurveyScores:
    """Scores from a client's completed surveys (None when not measured)."""

    attachment_anxiety: float | None = None
    attachment_avoidance: float | None = None
    attachment_style: str | None = None
    crying_attitudes: dict[str, float] | None = None
    intake: dict[str, float] | None = None
    gender: str | None = None


def _number(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    return float("nan")


def _checkin_columns() -> list[str]:
    from lacrima.instruments import load_instrument

    return [it.column for it in load_instrument("session_checkin").items]


def session_dates(client: Client) -> dict[int, datetime.date | None]:
    """Each session with a completed check-in and its date as the clinic shows it: the therapist's
    latest correction, else the check-in's own date."""
    corrected = _corrections(client)
    days = (
        Response.objects.filter(client=client, kind=Response.Kind.CHECKIN, completed_at__isnull=False)
        .exclude(session__isnull=True)
        .values_list("session", "session_date")
    )
    return {int(session): corrected.get(session, day) for session, day in days}


def _corrections(client: Client) -> dict[int, datetime.date]:
    # Ordered by when they were made: the latest correction of a session wins.
    return dict(SessionDate.objects.filter(client=client).values_list("session", "date"))


def session_frame(client: Client) -> pd.DataFrame:
    """One row per session with a completed check-in: ``session``, ``date`` and the raw item columns."""
    columns = _checkin_columns()
    checkins = list(
        Response.objects.filter(client=client, kind=Response.Kind.CHECKIN, completed_at__isnull=False)
        .exclude(session__isnull=True)
        .order_by("session")
        .values_list("session", "session_date", "answers")
    )
    surveys = list(
        Response.objects.filter(
            client=client, kind=Response.Kind.SURVEY, completed_at__isnull=False, session__isnull=False
        ).values_list("session", "answers")
    )
    corrected = _corrections(client)
    dates = session_dates(client)
    rows: dict[int, dict[str, Any]] = {}
    for session, _day, answers in checkins:
        row: dict[str, Any] = {"session": int(session), "date": dates[int(session)]}
        row.update({c: _number(answers.get(c)) for c in columns})
        rows[int(session)] = row
    symptom_cols: set[str] = set()
    for session, answers in surveys:
        row = rows.setdefault(int(session), {"session": int(session), "date": corrected.get(session)})
        for k, v in answers.items():
            if k.startswith(_SYMPTOM_PREFIXES):
                row[k] = _number(v)
                symptom_cols.add(k)
    ordered: list[dict[str, Any]] = [rows[k] for k in sorted(rows)]
    frame = pd.DataFrame(
        ordered,
        columns=["session", "date", *columns, *sorted(symptom_cols)],
    )
    frame["session"] = frame["session"].astype("int64")
    frame["date"] = pd.to_datetime(frame["date"])
    for c in frame.columns[2:]:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return frame


def survey_scores(client: Client) -> SurveyScores:
    """Attachment, attitudes to crying and intake symptom totals from the client's completed surveys.

    The one function the clinic uses to read survey answers; it becomes a call of the collection app's
    ``client_scores`` once that exists.
    """
    import lacrima as lc

    answers: dict[str, Any] = {}
    for a in (
        Response.objects.filter(client=client, kind=Response.Kind.SURVEY, completed_at__isnull=False)
        .order_by("completed_at")
        .values_list("answers", flat=True)
    ):
        for k, v in a.items():
            answers.setdefault(k, v)  # the earliest answer to an item is the intake one
    if not answers:
        return SurveyScores()
    frame = pd.DataFrame([{k: _number(v) if not isinstance(v, str) else v for k, v in answers.items()}])

    def has(prefix: str) -> bool:
        return any(str(c).startswith(prefix) for c in frame.columns)

    anxiety = avoidance = None
    style = None
    if has("ecr_"):
        ecr = lc.score(frame, "ecr_r")
        anxiety = _finite(ecr.iloc[0].get("ecr_anxiety"))
        avoidance = _finite(ecr.iloc[0].get("ecr_avoidance"))
        if anxiety is not None and avoidance is not None:
            style = str(lc.attachment_style(ecr).iloc[0])
    attitudes = None
    if has("cat_"):
        cat = lc.score(frame, "crying_attitudes").iloc[0]
        attitudes = {str(k).removeprefix("cat_"): v for k, v in cat.items() if _finite(v) is not None}
    intake: dict[str, float] = {}
    for name, prefix in zip(SYMPTOMS, _SYMPTOM_PREFIXES, strict=True):
        if has(prefix):
            total = _finite(lc.score(frame, name).iloc[0].get(f"{prefix}total"))
            if total is not None:
                intake[name] = total
    gender = answers.get("gender") if isinstance(answers.get("gender"), str) else None
    return SurveyScores(anxiety, avoidance, style, attitudes, intake or None, gender)


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None
