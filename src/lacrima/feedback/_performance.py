"""How well the alert rules find planted events: sensitivity and false alarms per 100 sessions.

Scoring (one event per client, see ``lacrima.simulate.PlantedEvents``): a planted event is *found* when
its client gets an alert of the matching kind in the event's window --

- rupture: an alliance-rupture alert from the onset session to the session after the lowest one;
- difficult crying: a difficult-crying alert at the planted session;
- deterioration: a not-on-track alert at a measurement from the onset on;
- risk: a risk-item alert at the planted session;
- missed: a missed-checkins alert whose sessions overlap the planted run.

False alarms are the alerts of each kind in clients with nothing planted, per 100 of their sessions
(scheduled sessions, i.e. ``n_sessions``), so they are the rules' alarms on ordinary courses of therapy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lacrima._results import Result
from lacrima.errors import DataError
from lacrima.feedback._evaluate import evaluate_many
from lacrima.feedback._model import Alert, ClientProfile
from lacrima.feedback._rules import RuleSet

__all__ = ["RulePerformance", "rule_performance", "simulated_profiles"]

_KIND_OF_EVENT = {
    "rupture": "alliance-rupture",
    "difficult_crying": "difficult-crying",
    "deterioration": "not-on-track",
    "risk": "risk-item",
    "missed": "missed-checkins",
}


@dataclass(frozen=True, eq=False)
class RulePerformance(Result):
    """Per alert kind: planted events, found, sensitivity; false alarms on clean clients per 100 sessions."""

    per_rule: pd.DataFrame
    n_clients: int
    n_clean_clients: int
    n_clean_sessions: int

    def table(self) -> pd.DataFrame:
        """``kind, planted, found, sensitivity, false_alarms, false_alarms_per_100``."""
        return self.per_rule


def simulated_profiles(sim: Any) -> tuple[dict[str, ClientProfile], dict[str, int]]:
    """Profiles (attachment, gender) and scheduled sessions of the clients of ``lc.simulate_sessions``."""
    profiles, scheduled = {}, {}
    for row in sim.clients.itertuples(index=False):
        profiles[str(row.client_id)] = ClientProfile(
            attachment_anxiety=float(row.ecr_anxiety),
            attachment_avoidance=float(row.ecr_avoidance),
            attachment_style=str(row.attachment_style),
            gender=str(row.gender),
        )
        scheduled[str(row.client_id)] = int(row.n_sessions)
    return profiles, scheduled


def _found(event: pd.Series, alerts: tuple[Alert, ...]) -> bool:
    kind = _KIND_OF_EVENT[str(event["kind"])]
    mine = [a for a in alerts if a.kind == kind]
    s = int(event["session"])
    if event["kind"] == "rupture":
        hi = int(event["lowest_session"]) + 1
        return any(a.session is not None and s <= a.session <= hi for a in mine)
    if event["kind"] in ("difficult_crying", "risk"):
        return any(a.session == s for a in mine)
    if event["kind"] == "deterioration":
        return any(a.session is not None and a.session >= s for a in mine)
    run = set(range(s, int(event["last_session"]) + 1))
    return any(run & set(a.sessions) for a in mine)


def rule_performance(
    sim: Any, rules: RuleSet | None = None, expected: Mapping[str, object] | None = None
) -> RulePerformance:
    """Evaluate every client of a planted simulation and score each rule against the truth.

    Parameters
    ----------
    sim : SimulatedSessions
        From ``lc.simulate_sessions(..., plant=...)``.
    rules : RuleSet, optional
        Rules in force (default the shipped ones).
    expected : mapping, optional
        Expected-recovery curves per measure (default: each measure's default trajectory).
    """
    planted = sim.truth.get("planted")
    if planted is None:
        raise DataError("the simulation has no planted events; run lc.simulate_sessions(..., plant={...})")
    by_client = {cid: g for cid, g in planted.groupby("client_id")}
    found = {k: 0 for k in _KIND_OF_EVENT.values()}
    counts = {k: 0 for k in _KIND_OF_EVENT.values()}
    false_alarms = {k: 0 for k in _KIND_OF_EVENT.values()}
    n_clients = n_clean = clean_sessions = 0
    profiles, scheduled = simulated_profiles(sim)
    results = evaluate_many(sim.data, profiles, rules=rules, expected=expected, scheduled_through=scheduled)
    for cid, res in results.items():
        n_clients += 1
        events = by_client.get(cid)
        if events is None:
            n_clean += 1
            clean_sessions += scheduled[cid]
            for a in res.alerts:
                false_alarms[a.kind] += 1
            continue
        for _, event in events.iterrows():
            kind = _KIND_OF_EVENT[str(event["kind"])]
            counts[kind] += 1
            found[kind] += int(_found(event, res.alerts))
    per_rule = pd.DataFrame(
        {
            "kind": list(counts),
            "planted": [counts[k] for k in counts],
            "found": [found[k] for k in counts],
            "sensitivity": [found[k] / counts[k] if counts[k] else np.nan for k in counts],
            "false_alarms": [false_alarms[k] for k in counts],
            "false_alarms_per_100": [
                100.0 * false_alarms[k] / clean_sessions if clean_sessions else np.nan for k in counts
            ],
        }
    )
    return RulePerformance(
        per_rule=per_rule, n_clients=n_clients, n_clean_clients=n_clean, n_clean_sessions=clean_sessions
    )
