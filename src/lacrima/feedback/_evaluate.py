"""``evaluate``: the alert rules applied to one client's sessions."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lacrima.errors import DataError
from lacrima.feedback import _alerts
from lacrima.feedback._model import Alert, ClientProfile, Evaluation, RuptureEpisode
from lacrima.feedback._rules import PRIORITIES, RuleSet, load_rules
from lacrima.feedback._scores import MEASURES, Columns, session_scores
from lacrima.feedback._symptoms import intake_and_latest, symptom_status

__all__ = ["URGENCY_HALF_LIFE", "URGENCY_WEIGHTS", "evaluate", "evaluate_many", "urgency"]

URGENCY_WEIGHTS = {"high": 10.0, "medium": 3.0, "low": 1.0}
URGENCY_HALF_LIFE = 4.0

_EXPECTED_COLUMNS = ["measure", "session", "total", "expected", "upper", "is_default"]


def urgency(alerts: tuple[Alert, ...] | list[Alert], latest_session: int) -> float:
    """``sum of w(priority) * 0.5 ** (age / 4)``, age = sessions from the alert's session to the latest."""
    total = 0.0
    for a in alerts:
        age = max(0, latest_session - (a.session if a.session is not None else latest_session))
        total += URGENCY_WEIGHTS[a.priority] * 0.5 ** (age / URGENCY_HALF_LIFE)
    return total


def evaluate(
    sessions: pd.DataFrame,
    profile: ClientProfile | None = None,
    rules: RuleSet | None = None,
    expected: Mapping[str, object] | None = None,
    scheduled_through: int | None = None,
) -> Evaluation:
    """Apply the alert rules to one client's sessions.

    Parameters
    ----------
    sessions : DataFrame
        One client, one row per session: ``session`` (whole number >= 1), optional ``date``, the raw
        check-in items as ``session_checkin`` names them (``cried``, ``chk_02`` ...) and, on the sessions
        where they were measured, the raw PHQ-9 (``phq_01``-``phq_09``) and GAD-7 (``gad_01``-``gad_07``)
        items. Zero rows is allowed (a client with no check-ins yet).
    profile : ClientProfile, optional
        Attachment, attitudes to crying, gender, language and intake totals; unknown fields are None.
    rules : RuleSet, optional
        The rules in force (default: ``load_rules()``, the shipped defaults).
    expected : mapping, optional
        ``{"phq9": ExpectedRecovery, "gad7": ...}`` for the not-on-track rule; a measure without one uses
        its documented default trajectory, flagged in ``notes`` and in the alert.
    scheduled_through : int, optional
        The latest session the schedule expected a check-in for (for missed check-ins); default the latest
        session in ``sessions``.

    Returns
    -------
    Evaluation
        ``.scores``, ``.alerts`` (priority, then session), ``.episodes``, ``.urgency``, ``.notes``.

    Raises
    ------
    DataError
        No ``session`` column, session numbers that are not whole numbers >= 1 or that repeat, rows of several
        clients, answers outside an instrument's scale (every problem listed at once).

    Examples
    --------
    >>> import pandas as pd
    >>> from lacrima import feedback as fb
    >>> rows = [{"session": s, "cried": 0, "chk_07": a, "chk_08": a, "chk_09": a}
    ...         for s, a in [(1, 6), (2, 6), (3, 6), (4, 2)]]
    >>> res = fb.evaluate(pd.DataFrame(rows))
    >>> [a.kind for a in res.alerts], res.episodes[0].start_session
    (['alliance-rupture'], 4)
    """
    rules, profile = _check_args(rules, profile, scheduled_through)
    sc = session_scores(sessions)
    res = _evaluate_scored(
        sc.frame, sc.has_checkin, list(sc.notes), profile, rules, expected, scheduled_through
    )
    return _with_symptoms({None: res}, {None: sc.frame}, {None: profile}, rules, expected)[None]


def evaluate_many(
    sessions: pd.DataFrame,
    profiles: Mapping[Any, ClientProfile] | None = None,
    rules: RuleSet | None = None,
    expected: Mapping[str, object] | None = None,
    scheduled_through: Mapping[Any, int] | None = None,
    by: str = "client_id",
) -> dict[Any, Evaluation]:
    """:func:`evaluate` for every client of a session table at once (``lc.score`` runs once per instrument).

    Parameters
    ----------
    sessions : DataFrame
        Many clients' sessions with a ``by`` column (default ``client_id``); otherwise as :func:`evaluate`.
    profiles, scheduled_through : mapping, optional
        Per client id; clients left out get an empty profile / the latest session in their data.
    rules, expected
        As :func:`evaluate`.

    Returns
    -------
    dict
        Client id -> :class:`Evaluation`, in order of client id, with the same scores, alerts, episodes
        and urgency as :func:`evaluate` on that client's rows alone (notes about absent columns or
        unscorable subscales are those of the whole table).
    """
    rules, _ = _check_args(rules, None, None)
    profiles = profiles or {}
    scheduled = scheduled_through or {}
    sc = session_scores(sessions, by=by)
    frame = sc.frame
    out: dict[Any, Evaluation] = {}
    ids = frame[by].to_numpy()
    if ids.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    stops = np.r_[starts[1:], ids.size]
    columns = [c for c in frame.columns if c != by]
    arrays = {c: frame[c].to_numpy() for c in columns}
    parts: dict[Any, Columns] = {}
    used: dict[Any, ClientProfile] = {}
    for lo, hi in zip(starts, stops, strict=True):
        cid = ids[lo]
        part = {c: arrays[c][lo:hi] for c in columns}
        profile = profiles.get(cid, ClientProfile())
        through = scheduled.get(cid)
        _check_args(rules, profile, through)
        out[cid] = _evaluate_scored(
            part, sc.has_checkin[lo:hi], list(sc.notes), profile, rules, expected, through
        )
        parts[cid], used[cid] = part, profile
    return _with_symptoms(out, parts, used, rules, expected)


def _with_symptoms(
    results: dict[Any, Evaluation],
    parts: Mapping[Any, Columns],
    profiles: Mapping[Any, ClientProfile],
    rules: RuleSet,
    expected: Mapping[str, object] | None,
) -> dict[Any, Evaluation]:
    """Each result with its symptom status; one reliable-change computation per measure for all."""
    rows, owner = [], []
    for cid, part in parts.items():
        for measure in MEASURES:
            row = intake_and_latest(part, profiles[cid], measure)
            if row is not None:
                rows.append(row)
                owner.append(cid)
    rule = rules["not-on-track"]
    status = symptom_status(rows, rule, expected or {})
    by_client: dict[Any, list[int]] = {}
    for i, cid in enumerate(owner):
        by_client.setdefault(cid, []).append(i)
    empty = status.iloc[0:0]
    return {
        cid: dataclasses.replace(
            res,
            symptoms=status.iloc[by_client[cid]].reset_index(drop=True) if cid in by_client else empty.copy(),
        )
        for cid, res in results.items()
    }


def _check_args(
    rules: RuleSet | None, profile: ClientProfile | None, scheduled_through: int | None
) -> tuple[RuleSet, ClientProfile]:
    if rules is None:
        rules = load_rules()
    if not isinstance(rules, RuleSet):
        raise DataError(f"rules must be a RuleSet from fb.load_rules(), not {type(rules).__name__}")
    if profile is not None and not isinstance(profile, ClientProfile):
        raise DataError(f"profile must be a fb.ClientProfile, not {type(profile).__name__}")
    if scheduled_through is not None and (
        isinstance(scheduled_through, bool) or not isinstance(scheduled_through, int | np.integer)
    ):
        raise DataError(
            f"scheduled_through is {scheduled_through!r}; give the latest scheduled session number"
        )
    return rules, profile if profile is not None else ClientProfile()


def _evaluate_scored(
    scores: Columns,
    has_checkin: np.ndarray,
    notes: list[str],
    profile: ClientProfile,
    rules: RuleSet,
    expected: Mapping[str, object] | None,
    scheduled_through: int | None,
) -> Evaluation:
    numbers = np.asarray(scores["session"])
    alerts: list[Alert] = []
    episodes: list[RuptureEpisode] = []
    n_checkins = int(has_checkin.sum())
    n_alliance = int((~np.isnan(np.asarray(scores["alliance"], dtype=float))).sum())
    if n_checkins == 0:
        notes.append(
            "no check-ins yet: the check-in rules (rupture, difficult crying) had nothing to evaluate"
        )
    elif n_alliance == 0:
        notes.append(
            "no session has an alliance score (the alliance items are missing or too few answered for the "
            "check-in's prorating rule): the alliance-rupture and difficult-crying rules could not run"
        )
    elif n_alliance == 1:
        notes.append("one session with an alliance score: a rupture needs earlier sessions to compare with")

    rule = rules.by_kind("risk-item")
    if rule is not None:
        alerts += _alerts.risk_item(numbers, np.asarray(scores["phq9_item9"], dtype=float), rule)
    rule = rules.by_kind("alliance-rupture")
    if rule is not None and n_alliance >= 2:
        found, episodes = _alerts.rupture(scores, rule)
        alerts += found
    rule = rules.by_kind("difficult-crying")
    if rule is not None and n_alliance >= 2:
        alerts += _alerts.difficult_crying(scores, rule, profile.attachment_avoidance)
    rule = rules.by_kind("not-on-track")
    if rule is None:
        expected_rows = pd.DataFrame(columns=_EXPECTED_COLUMNS)
    else:
        from lacrima.feedback._not_on_track import not_on_track

        found, expected_rows, more = not_on_track(scores, rule, profile, expected or {})
        alerts += found
        notes += more
    rule = rules.by_kind("missed-checkins")
    if rule is not None:
        alerts += _alerts.missed_checkins(numbers, has_checkin, rule, scheduled_through)

    rank = {p: i for i, p in enumerate(PRIORITIES)}
    alerts.sort(key=lambda a: (rank[a.priority], a.session if a.session is not None else math.inf, a.kind))
    latest = int(numbers.max()) if numbers.size else (scheduled_through or 0)
    if scheduled_through is not None:
        latest = max(latest, int(scheduled_through))
    return Evaluation(
        scores=scores if isinstance(scores, pd.DataFrame) else pd.DataFrame(scores),
        alerts=tuple(alerts),
        episodes=tuple(episodes),
        urgency=urgency(alerts, latest),
        notes=tuple(notes),
        expected=expected_rows,
    )
