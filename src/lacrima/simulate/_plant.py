"""Clinical events planted in simulated sessions, so that alert rules can be scored against the truth.

Every draw here comes from a child generator spawned from the simulation's generator, after its own
draws are made: with nothing planted, ``simulate_sessions`` gives the same output as before, bit for bit.

Each client gets at most one planted event (so a benchmark can tell which rule should find it): a
category is drawn per client with the planted shares as probabilities; clients with too few sessions for
an event get none. The events:

- ``rupture``: from an onset session o (at least 4 earlier sessions), the alliance falls by
  ``rupture_depth * (j + 1) / rupture_sessions`` at session ``o + j`` until the lowest session
  ``o + rupture_sessions - 1``. Repaired ruptures (share ``repair``) return to the client's own course the
  next session; unrepaired ones stay ``rupture_depth`` lower to the end.
- ``difficult_crying``: at one session (at least 3 earlier ones) the client cries; intensity 6-7, relief
  and closeness 1-2, shame and discomfort 6-7, and the alliance ``difficult_alliance_drop`` lower that
  session only.
- ``deterioration``: from an onset measurement (not the intake, at least one measurement after it), the
  PHQ-9 and GAD-7 totals are ``deterioration_size`` (PHQ-9 points; GAD-7 gets 21/27 of it) higher.
- ``risk``: PHQ-9 item 9 is answered 1-3 at one scheduled measurement after intake (item 9 is 0
  everywhere else in simulated data, so planted answers are the only ones).
- ``missed``: ``missed_run`` consecutive sessions (after the first) lose their check-in: their rows are
  dropped from the session table (``clients.n_sessions`` still counts them as scheduled).

Symptoms (``symptoms=True``, implied by deterioration and risk): PHQ-9 and GAD-7 items at session 1 and
every ``symptom_every`` sessions after it. Per client an intake ``I`` (PHQ-9 ~ N(13, 5) clipped to 3-27,
GAD-7 ~ N(11, 4.5) clipped to 2-21, correlated 0.6) and a recovery ``delta ~ N(0.5, 0.25)``; the latent
total at session s is ``I - delta (I - f) log(s) / log(16) + e`` (f the instrument's general-population
mean, e ~ N(0, 2^2)) -- the form of ``lacrima.feedback``'s default trajectory -- and each item is
Binomial(3, total / (3 k)) over the k items that carry it (items 1-8 of the PHQ-9, all 7 of the GAD-7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lacrima.errors import Problem
from lacrima.instruments import Instrument

__all__ = [
    "EVENT_KINDS",
    "PlantedEvents",
    "assign_events",
    "missed_sessions",
    "plant_after_items",
    "plant_alliance",
    "symptoms",
]

EVENT_KINDS = ("rupture", "difficult_crying", "deterioration", "risk", "missed")
_FUNCTIONAL_MEAN = {"phq": 2.91, "gad": 2.95}  # the phq9/gad7 norms (general-population means)


@dataclass(frozen=True)
class PlantedEvents:
    """Shares of clients with each planted event, and the events' sizes (see the module notes)."""

    rupture: float = 0.0
    repair: float = 0.5
    rupture_depth: float = 2.5
    rupture_sessions: int = 2
    difficult_crying: float = 0.0
    difficult_alliance_drop: float = 1.5
    deterioration: float = 0.0
    deterioration_size: float = 8.0
    risk: float = 0.0
    missed: float = 0.0
    missed_run: int = 3
    symptoms: bool = False
    symptom_every: int = 4

    def problems(self) -> list[Problem]:
        out = []
        shares = {k: getattr(self, k) for k in EVENT_KINDS}
        for name, value in [*shares.items(), ("repair", self.repair)]:
            if not 0.0 <= value <= 1.0:
                out.append(Problem(f"plant {name} is {value}; give a share of clients in [0, 1]"))
        if sum(shares.values()) > 1.0 + 1e-12:
            out.append(
                Problem(
                    f"the planted shares add up to {sum(shares.values()):g}; at most 1 (one event per client)"
                )
            )
        for name in ("rupture_depth", "difficult_alliance_drop", "deterioration_size"):
            if getattr(self, name) < 0:
                out.append(Problem(f"plant {name} is {getattr(self, name)}; give a size >= 0"))
        for name in ("rupture_sessions", "missed_run", "symptom_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                out.append(Problem(f"plant {name} is {getattr(self, name)!r}; give a whole number >= 1"))
        return out

    @property
    def any_symptoms(self) -> bool:
        return self.symptoms or self.deterioration > 0 or self.risk > 0


def assign_events(plan: PlantedEvents, n_sess: np.ndarray, prng: np.random.Generator) -> np.ndarray:
    """The planted event of each client ('' for none)."""
    shares = np.array([getattr(plan, k) for k in EVENT_KINDS])
    probs = np.append(shares, max(0.0, 1.0 - shares.sum()))
    pick = prng.choice(len(probs), size=n_sess.shape[0], p=probs / probs.sum())
    kinds = np.asarray([*EVENT_KINDS, ""], dtype=object)[pick]
    needs = {
        "rupture": 4 + plan.rupture_sessions + 1,
        "difficult_crying": 4,
        "deterioration": 1 + 2 * plan.symptom_every,
        "risk": 1 + plan.symptom_every,
        "missed": plan.missed_run + 2,
    }
    for kind, least in needs.items():
        kinds[(kinds == kind) & (n_sess < least)] = ""
    return kinds


def plant_alliance(
    plan: PlantedEvents,
    prng: np.random.Generator,
    kinds: np.ndarray,
    n_sess: np.ndarray,
    offsets: np.ndarray,
    alliance: np.ndarray,
    cried: np.ndarray,
) -> list[dict[str, Any]]:
    """Plant ruptures and difficult crying in ``alliance``/``cried`` (in place); the truth rows."""
    rows: list[dict[str, Any]] = []
    depth, length = plan.rupture_depth, plan.rupture_sessions
    for c in np.flatnonzero(kinds == "rupture"):
        n = int(n_sess[c])
        onset = int(prng.integers(5, n - length + 1))  # sessions 1..onset-1 (>= 4) before it, one after
        lowest = onset + length - 1
        repaired = bool(prng.random() < plan.repair)
        base = int(offsets[c]) - 1  # position of session s is base + s
        for j in range(length):
            alliance[base + onset + j] -= depth * (j + 1) / length
        if not repaired:
            alliance[base + lowest + 1 : base + n + 1] -= depth
        rows.append(
            {
                "kind": "rupture",
                "client": int(c),
                "session": onset,
                "lowest_session": lowest,
                "repaired": repaired,
                "repair_session": lowest + 1 if repaired else np.nan,
                "size": depth,
            }
        )
    for c in np.flatnonzero(kinds == "difficult_crying"):
        n = int(n_sess[c])
        s = int(prng.integers(4, n + 1))
        pos = int(offsets[c]) - 1 + s
        cried[pos] = 1
        alliance[pos] -= plan.difficult_alliance_drop
        rows.append(
            {"kind": "difficult_crying", "client": int(c), "session": s, "size": plan.difficult_alliance_drop}
        )
    return rows


def plant_after_items(
    plan: PlantedEvents,
    prng: np.random.Generator,
    inst: Instrument | None,
    data: pd.DataFrame,
    truth_rows: list[dict[str, Any]],
    offsets: np.ndarray,
) -> None:
    """The difficult-crying answers (set after the missing-at-random blanks, so that they stay visible)."""
    if inst is None:
        return
    wanted = {
        "intensity": (6, 7),
        "positive_feelings": (1, 2),
        "negative_feelings": (6, 7),
    }
    owner: dict[str, str] = {}
    for name, subscale in inst.subscales.items():
        for number in subscale.items:
            owner.setdefault(inst.item(number).column, name)
    positions = np.asarray(
        [
            int(offsets[r["client"]]) - 1 + int(r["session"])
            for r in truth_rows
            if r["kind"] == "difficult_crying"
        ],
        dtype=np.int64,
    )
    if positions.size == 0:
        return
    for column, sub in owner.items():
        if sub in wanted and column in data.columns:
            lo, hi = wanted[sub]
            values = data[column].to_numpy(dtype=float, copy=True)
            values[positions] = prng.integers(lo, hi + 1, size=positions.size)
            data[column] = values


def symptoms(
    plan: PlantedEvents,
    prng: np.random.Generator,
    kinds: np.ndarray,
    n_sess: np.ndarray,
    client: np.ndarray,
    session: np.ndarray,
    phq: Instrument,
    gad: Instrument,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]], pd.DataFrame]:
    """PHQ-9 and GAD-7 item columns on scheduled sessions (NaN elsewhere), truth rows, and the intakes."""
    n_c, total = n_sess.shape[0], session.shape[0]
    z = prng.standard_normal((n_c, 2))
    intake_phq: np.ndarray = np.clip(13.0 + 5.0 * z[:, 0], 3.0, 27.0)
    intake_gad: np.ndarray = np.clip(11.0 + 4.5 * (0.6 * z[:, 0] + 0.8 * z[:, 1]), 2.0, 21.0)
    delta = np.asarray(0.5 + 0.25 * prng.standard_normal(n_c), dtype=float)
    measured = (session - 1) % plan.symptom_every == 0
    lt = np.log(session.astype(float))
    k = delta[client] / math.log(16.0)
    latent: dict[str, np.ndarray] = {
        "phq": intake_phq[client] - k * (intake_phq[client] - _FUNCTIONAL_MEAN["phq"]) * lt,
        "gad": intake_gad[client] - k * (intake_gad[client] - _FUNCTIONAL_MEAN["gad"]) * lt,
    }
    latent["phq"][session == 1] = intake_phq[client][session == 1]
    latent["gad"][session == 1] = intake_gad[client][session == 1]
    e = prng.standard_normal((total, 2)) * 2.0
    latent["phq"] = latent["phq"] + np.where(session == 1, 0.0, e[:, 0])
    latent["gad"] = latent["gad"] + np.where(session == 1, 0.0, e[:, 1])
    rows: list[dict[str, Any]] = []
    offsets = np.concatenate([[0], np.cumsum(n_sess)[:-1]])
    schedule = {int(c): np.arange(1, int(n_sess[c]) + 1, plan.symptom_every) for c in range(n_c)}
    for c in np.flatnonzero(kinds == "deterioration"):
        times = schedule[int(c)]
        onset = int(times[prng.integers(1, len(times))])
        span = slice(int(offsets[c]) + onset - 1, int(offsets[c]) + int(n_sess[c]))
        latent["phq"][span] += plan.deterioration_size
        latent["gad"][span] += plan.deterioration_size * 21.0 / 27.0
        rows.append(
            {"kind": "deterioration", "client": int(c), "session": onset, "size": plan.deterioration_size}
        )
    risk_at: dict[int, float] = {}
    for c in np.flatnonzero(kinds == "risk"):
        times = schedule[int(c)]
        s = int(times[prng.integers(1, len(times))])
        value = float(prng.integers(1, 4))
        risk_at[int(offsets[c]) + s - 1] = value
        rows.append({"kind": "risk", "client": int(c), "session": s, "size": value})
    out: dict[str, np.ndarray] = {}
    for inst, key, carriers in ((phq, "phq", 8), (gad, "gad", 7)):
        p = np.clip(latent[key] / (3.0 * carriers), 0.0, 1.0)
        for it in inst.items:
            values = prng.binomial(3, p).astype(float) if it.number <= carriers else np.zeros(total)
            values[~measured] = np.nan
            out[it.column] = values
    item9 = phq.item(9).column
    for pos, value in risk_at.items():
        out[item9][pos] = value
    intakes = pd.DataFrame({"intake_phq9": intake_phq, "intake_gad7": intake_gad, "recovery": delta})
    return out, rows, intakes


def missed_sessions(
    plan: PlantedEvents, prng: np.random.Generator, kinds: np.ndarray, n_sess: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Row positions of the check-ins to drop, and the truth rows."""
    drop: list[int] = []
    rows: list[dict[str, Any]] = []
    run = plan.missed_run
    for c in np.flatnonzero(kinds == "missed"):
        n = int(n_sess[c])
        first = int(prng.integers(2, n - run + 2))
        drop += [int(offsets[c]) + s - 1 for s in range(first, first + run)]
        rows.append({"kind": "missed", "client": int(c), "session": first, "last_session": first + run - 1})
    return np.asarray(drop, dtype=np.int64), rows
