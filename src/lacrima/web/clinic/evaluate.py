"""Evaluating a client with the feedback library and storing what the caseload and alerts need.

:func:`evaluate_client` reads the client's rows (``data.py``), calls ``fb.evaluate`` with the study's rule
overrides and the expected-recovery trajectory, and returns everything the client page shows.
:func:`refresh_client` stores the result: new alerts by their stable key (idempotent: evaluating twice
adds nothing), the caseload summary, and e-mails for new risk items and ruptures. It runs in the task
queue after each check-in or survey (``tasks.py``); no view scores anything itself.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from lacrima import feedback as fb
from lacrima.errors import DataError
from lacrima.web.clinic.data import SurveyScores, session_frame, survey_scores
from lacrima.web.clinic.models import Alert, ClientSummary, ClinicSettings, ExpectedRecoveryFit
from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Client, Study

log = logging.getLogger("lacrima.clinic")

RECENT = 4  # sessions counted as "recent" for crying on the caseload
NOTIFY_KINDS = ("risk-item", "alliance-rupture")


@dataclass(frozen=True)
class SymptomStatus:
    instrument: str
    total: float | None
    cutoff: float | None
    intake: float | None
    change: str  # a Jacobson-Truax category (lacrima.scoring.CHANGE_CATEGORIES), "" when not computable
    rci: float | None


@dataclass
class Evaluation:
    client: Client
    frame: pd.DataFrame
    survey: SurveyScores
    profile: Any
    result: Any
    expected: dict[str, Any]
    prompts: tuple[Any, ...] = ()
    symptoms: list[SymptomStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    guidance_problem: str = ""  # why no prompts are shown: the clinic's guidance files or settings are wrong


def clinic_guidance(conf: ClinicSettings) -> Any:
    """The guidance prompts in force for a study: the shipped files plus the clinic's own
    (``LACRIMA_GUIDANCE_FILES``), minus the prompts the study switched off (``guidance_disabled``).
    Raises :class:`~lacrima.errors.DataError` listing every problem (unknown key, missing citation, ...)."""
    from django.conf import settings

    return fb.load_guidance(extra=settings.LACRIMA_GUIDANCE_FILES, disabled=conf.guidance_disabled or ())


def clinic_settings(study: Study) -> ClinicSettings:
    obj = ClinicSettings.objects.filter(study=study).first()
    return obj if obj is not None else ClinicSettings(study=study)


def _scheduled_through(client: Client, frame: pd.DataFrame, interval_days: int, today: date) -> int | None:
    """The latest session number a weekly (or the study's interval) schedule expected a check-in for."""
    if interval_days <= 0:
        return None
    if len(frame) and frame["date"].notna().any():
        last = frame.loc[frame["date"].notna()].iloc[-1]
        since = (today - pd.Timestamp(last["date"]).date()).days
        return int(last["session"]) + max(0, since // interval_days)
    started = client.enrolled_at.date()
    return max(0, (today - started).days // interval_days)


def _profile(client: Client, survey: SurveyScores) -> Any:
    return fb.ClientProfile(
        attachment_anxiety=survey.attachment_anxiety,
        attachment_avoidance=survey.attachment_avoidance,
        attachment_style=survey.attachment_style,
        crying_attitudes=survey.crying_attitudes or {},
        gender=survey.gender,
        language=client.language,
        intake=survey.intake or {},
    )


def _reliable_change(
    name: str, pre: float, post: float, expected: Any, rules: Any
) -> tuple[str, float | None]:
    """Jacobson-Truax category and RCI from intake to the latest total (lacrima.scoring), with the intake SD
    of the study's fitted trajectory or the not-on-track rule's documented default."""
    import lacrima as lc

    sd_pre = rules["not-on-track"][f"sd_pre_{name}"]
    if expected is not None and not expected.is_default and math.isfinite(expected.intake_sd):
        sd_pre = expected.intake_sd
    rc = lc.reliable_change(
        [pre], [post], instrument=name, subscale="total", sd_pre=float(sd_pre), cutoff_criterion="norms"
    )
    row = rc.per_person.iloc[0]
    category = "" if pd.isna(row["category"]) else str(row["category"])
    rci = float(row["rci"])
    return category, rci if math.isfinite(rci) else None


def _symptoms(
    scores: pd.DataFrame, survey: SurveyScores, expected: dict[str, Any], rules: Any
) -> list[SymptomStatus]:
    from lacrima.instruments import load_instrument

    out = []
    for name in ("phq9", "gad7"):
        col = f"{name}_total"
        measured = scores[col].dropna() if col in scores else pd.Series(dtype=float)
        intake = (survey.intake or {}).get(name)
        if measured.empty and intake is None:
            continue
        norms = load_instrument(name).norms.get("total") if load_instrument(name).norms else None
        cutoff = getattr(norms, "cutoff", None) if norms is not None else None
        total = float(measured.iloc[-1]) if not measured.empty else None
        pre = intake if intake is not None else (float(measured.iloc[0]) if len(measured) > 1 else None)
        change, rci = "", None
        if pre is not None and total is not None:
            change, rci = _reliable_change(name, pre, total, expected.get(name), rules)
        out.append(SymptomStatus(name, total, cutoff, intake, change, rci))
    return out


def evaluate_client(client: Client, *, today: date | None = None) -> Evaluation:
    """Score and evaluate one client: scores per session, alerts, rupture episodes, urgency, guidance."""
    study = client.study
    conf = clinic_settings(study)
    frame = session_frame(client)
    survey = survey_scores(client)
    profile = _profile(client, survey)
    rules = fb.load_rules(overrides=conf.rule_overrides or None)
    expected = {name: expected_recovery(study, name) for name in ("phq9", "gad7")}
    res = fb.evaluate(
        frame,
        profile=profile,
        rules=rules,
        expected=expected,
        scheduled_through=_scheduled_through(
            client, frame, conf.session_interval_days, today or timezone.localdate()
        ),
    )
    symptoms = _symptoms(res.scores, survey, expected, rules)
    try:
        prompts = fb.select_guidance(clinic_guidance(conf), profile, res)
    except DataError as exc:  # a clinic's own file or switch is wrong: the page says so in place of prompts
        log.warning("guidance for study %s not shown: %s", study.slug, exc)
        return Evaluation(
            client, frame, survey, profile, res, expected, (), symptoms, guidance_problem=str(exc)
        )
    return Evaluation(client, frame, survey, profile, res, expected, prompts, symptoms)


def expected_recovery(study: Study, instrument: str) -> Any:
    """The study's fitted expected-recovery trajectory if a refit stored one, else the documented default."""
    fit = ExpectedRecoveryFit.objects.filter(study=study, instrument=instrument).order_by("-pk").first()
    if fit is not None and fit.payload:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(fb.ExpectedRecovery):
            v = fit.payload.get(f.name)
            values[f.name] = float("nan") if v is None and f.type in ("float", float) else v
        return fb.ExpectedRecovery(**values)
    return fb.default_expected_recovery(instrument)


def _json_values(values: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k, v in values.items():
        f = float(v)
        out[str(k)] = f if math.isfinite(f) else None
    return out


def refresh_client(client: Client, *, today: date | None = None, notify: bool = True) -> list[Alert]:
    """Evaluate the client and store new alerts and the caseload summary; returns the new alerts.

    With ``notify`` the treating therapist is e-mailed about new risk items and ruptures."""
    through = (
        Response.objects.filter(client=client, completed_at__isnull=False)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    ) or 0
    try:
        ev = evaluate_client(client, today=today)
    except DataError as exc:  # keep the reason on the caseload row instead of failing the task silently
        ClientSummary.objects.update_or_create(
            client=client,
            defaults={"evaluated_at": timezone.now(), "through_response": through, "problem": str(exc)},
        )
        return []
    res = ev.result
    new: list[Alert] = []
    with transaction.atomic():
        known = set(Alert.objects.filter(client=client).values_list("key", flat=True))
        for a in res.alerts:
            if a.key in known:
                continue
            alert, created = Alert.objects.get_or_create(
                client=client,
                key=a.key,
                defaults={
                    "study_id": client.study_id,
                    "kind": a.kind,
                    "priority": a.priority,
                    "session": a.session,
                    "sessions": list(a.sessions),
                    "reason": a.reason,
                    "values": _json_values(a.values),
                    "rule_id": a.rule_id,
                    "rule_version": a.rule_version,
                    "sources": list(a.sources),
                },
            )
            if created:
                new.append(alert)
        _store_summary(client, ev, through)
    if new and notify:
        from lacrima.web.clinic.notify import notify_new_alerts

        notify_new_alerts(client, [a for a in new if a.kind in NOTIFY_KINDS])
    return new


def caseload_urgency(client: Client, ev: Evaluation) -> float:
    """The caseload's order: the feedback library's urgency (``fb.urgency``) over the client's *open*
    alerts, the newest of each kind only. Acknowledging an alert lowers the client's place, and a run of
    alerts of one kind (e.g. not on track at every measure) counts once, as the client page shows it, so
    that an open risk item is not outweighed by repeats of a medium one."""
    open_keys = set(
        Alert.objects.filter(client=client, acknowledged_at__isnull=True).values_list("key", flat=True)
    )
    newest: dict[str, Any] = {}
    for a in ev.result.alerts:
        if a.key in open_keys:
            held = newest.get(a.kind)
            if held is None or (a.session or 0) > (held.session or 0):
                newest[a.kind] = a
    latest = int(ev.result.scores["session"].max()) if len(ev.result.scores) else 0
    return float(fb.urgency(list(newest.values()), latest))


def _store_summary(client: Client, ev: Evaluation, through: int) -> None:
    scores = ev.result.scores
    alliance = [
        [int(s), None if pd.isna(v) else float(v)]
        for s, v in zip(scores["session"], scores["alliance"], strict=True)
    ]
    measured = [v for _, v in alliance if v is not None]
    recent = scores.tail(RECENT)
    cried = recent[pd.to_numeric(recent["cried"], errors="coerce") == 1]
    dates = scores["date"].dropna() if "date" in scores else pd.Series(dtype="datetime64[ns]")
    symptom: dict[str, Any] = {}
    if ev.symptoms:
        s = ev.symptoms[0]
        symptom = {
            "instrument": s.instrument,
            "total": s.total,
            "cutoff": s.cutoff,
            "intake": s.intake,
            "change": s.change,
        }
    open_kinds = sorted(
        set(Alert.objects.filter(client=client, acknowledged_at__isnull=True).values_list("kind", flat=True))
    )
    intensity = pd.to_numeric(cried["intensity"], errors="coerce").dropna() if len(cried) else pd.Series()
    ClientSummary.objects.update_or_create(
        client=client,
        defaults={
            "evaluated_at": timezone.now(),
            "through_response": through,
            "n_sessions": len(scores),
            "last_checkin": pd.Timestamp(dates.iloc[-1]).date() if len(dates) else None,
            "alliance": alliance,
            "latest_alliance": measured[-1] if measured else None,
            "recent_cried": len(cried),
            "recent_sessions": len(recent),
            "recent_intensity": float(intensity.max()) if len(intensity) else None,
            "symptom": symptom,
            "urgency": caseload_urgency(client, ev),
            "open_kinds": open_kinds,
            "problem": "",
        },
    )
