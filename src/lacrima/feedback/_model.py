"""The result types of clinical feedback: alerts, rupture episodes, the client's profile, the evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lacrima._results import Result, to_jsonable

__all__ = ["Alert", "ClientProfile", "Evaluation", "RuptureEpisode"]


@dataclass(frozen=True)
class Alert:
    """One alert: what fired, why (``reason`` with the numbers, ``values``), on which sessions, by which rule.

    ``key`` is stable across re-evaluations of the same data (the web app stores each key once):
    ``f"{kind}:{session}"``, with the measure in between for not-on-track (``"not-on-track:phq9:8"``) and
    the first missed session for missed check-ins (``"missed-checkins:from:5"``).
    """

    kind: str
    priority: str
    session: int | None
    sessions: tuple[int, ...]
    rule_id: str
    rule_version: str
    reason: str
    values: Mapping[str, float]
    sources: tuple[str, ...]
    key: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (for storing the alert)."""
        out: dict[str, Any] = to_jsonable(self)
        return out


@dataclass(frozen=True)
class RuptureEpisode:
    """A rupture: its first session, the session of lowest alliance, and the repair session (None if not
    yet repaired). ``baseline_mean``/``baseline_sd`` are the baseline at the start; ``repair_level`` the
    alliance that counts as repaired."""

    start_session: int
    lowest_session: int
    repair_session: int | None
    start_alliance: float
    lowest_alliance: float
    baseline_mean: float
    baseline_sd: float
    repair_level: float

    @property
    def repaired(self) -> bool:
        return self.repair_session is not None


@dataclass(frozen=True)
class ClientProfile:
    """What is known about the client beyond the check-ins; every field is optional (None = unknown).

    ``attachment_anxiety``/``attachment_avoidance`` are ECR dimension scores (1-7) and
    ``attachment_style`` one of ``lacrima.scoring.ATTACHMENT_STYLES``; ``crying_attitudes`` maps the
    crying_attitudes subscales (``healing``, ``weakness``, ``acceptability``, ``gendered``; 1-5) to scores
    (the ``cat_`` prefix is accepted too); ``intake`` maps measures (``"phq9"``, ``"gad7"``) to intake totals.
    """

    attachment_anxiety: float | None = None
    attachment_avoidance: float | None = None
    attachment_style: str | None = None
    crying_attitudes: Mapping[str, float] = field(default_factory=dict)
    gender: str | None = None
    language: str | None = None
    intake: Mapping[str, float] = field(default_factory=dict)

    def attitude(self, name: str) -> float | None:
        """A crying-attitudes subscale score, by name with or without the ``cat_`` prefix."""
        for key in (name, f"cat_{name}", name.removeprefix("cat_")):
            if key in self.crying_attitudes and self.crying_attitudes[key] is not None:
                value = float(self.crying_attitudes[key])
                return None if value != value else value
        return None


@dataclass(frozen=True, eq=False)
class Evaluation(Result):
    """The alert rules applied to one client's sessions.

    Attributes
    ----------
    scores : DataFrame
        One row per session: ``session, date, cried, intensity, positive_feelings, negative_feelings,
        felt_understood, therapist_response, alliance`` (check-in subscales from ``lc.score``),
        ``phq9_total, gad7_total`` and the raw ``phq9_item9``.
    alerts : tuple of Alert
        Ordered by priority (high first), then session.
    episodes : tuple of RuptureEpisode
        Rupture-repair episodes of the alliance.
    urgency : float
        For ordering a caseload: ``sum over alerts of w(priority) * 0.5 ** (age / 4)`` with w = 10 (high),
        3 (medium), 1 (low) and age the number of sessions between the alert's session and the latest one.
    notes : tuple of str
        What could not be evaluated and why (no check-ins, no alliance scores, too few sessions, the
        default expected-recovery trajectory in use, ...).
    expected : DataFrame
        Per measured session and measure: ``measure, session, total, expected, upper, is_default`` (the
        expected-recovery band the not-on-track rule used; empty when it did not run).
    symptoms : DataFrame
        One row per measure the client has (``phq9``, ``gad7``): ``intake, intake_session, latest,
        latest_session, latest_band`` (the instrument's severity band), ``cutoff, above_cutoff``, and the
        Jacobson-Truax ``change, rci, reliable_difference, category`` (recovered / improved / unchanged /
        deteriorated, from ``lacrima.scoring.reliable_change``) of the latest measurement against intake,
        ``n_measured``. For the caseload's "symptom total against its cut-off with reliable-change status".
    """

    scores: pd.DataFrame
    alerts: tuple[Alert, ...]
    episodes: tuple[RuptureEpisode, ...]
    urgency: float
    notes: tuple[str, ...]
    expected: pd.DataFrame
    symptoms: pd.DataFrame = field(default_factory=pd.DataFrame)

    def table(self) -> pd.DataFrame:
        """One row per alert: ``kind, priority, session, rule_id, reason, key``."""
        return pd.DataFrame(
            [
                {
                    "kind": a.kind,
                    "priority": a.priority,
                    "session": a.session,
                    "rule_id": a.rule_id,
                    "reason": a.reason,
                    "key": a.key,
                }
                for a in self.alerts
            ],
            columns=["kind", "priority", "session", "rule_id", "reason", "key"],
        )

    def kinds(self) -> set[str]:
        """The alert kinds raised."""
        return {a.kind for a in self.alerts}
