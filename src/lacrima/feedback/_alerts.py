"""The check-in alert rules: risk item, alliance rupture (with repair), difficult crying, missed check-ins.

Each function takes the per-session scores (``session_scores``) and one :class:`Rule` with its parameters
in force, and returns alerts whose ``reason`` carries the numbers. The formulas are the ``formula`` fields
of the rule files in ``rules/`` and are repeated in docs/feedback.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lacrima.feedback._model import Alert, RuptureEpisode
from lacrima.feedback._rules import Rule
from lacrima.feedback._scores import Columns

__all__ = ["difficult_crying", "make_alert", "missed_checkins", "risk_item", "rupture"]

_ITEM9_LABELS = {1: "several days", 2: "more than half the days", 3: "nearly every day"}


def make_alert(
    rule: Rule,
    session: int | None,
    sessions: Sequence[int],
    reason: str,
    values: dict[str, float],
    key: str,
    priority: str | None = None,
) -> Alert:
    return Alert(
        kind=rule.kind,
        priority=priority or rule.priority,
        session=session,
        sessions=tuple(int(s) for s in sessions),
        rule_id=rule.id,
        rule_version=rule.version,
        reason=reason,
        values={k: float(v) for k, v in values.items()},
        sources=rule.sources,
        key=key,
    )


def risk_item(sessions: np.ndarray, item9: np.ndarray, rule: Rule) -> list[Alert]:
    """PHQ-9 item 9 at or above ``min_answer``: a high-priority alert for each such session."""
    out = []
    for s, v in zip(sessions, item9, strict=True):
        if np.isnan(v) or v < rule["min_answer"]:
            continue
        label = _ITEM9_LABELS.get(int(v), str(v))
        out.append(
            make_alert(
                rule,
                int(s),
                [int(s)],
                f"PHQ-9 item 9 (thoughts of being better off dead or of self-harm) was answered {int(v)} "
                f"('{label}') at session {int(s)}; any answer above 0 calls for a follow-up the same day.",
                {"item9": float(v), "session": float(s)},
                f"risk-item:{int(s)}",
                priority="high",
            )
        )
    return out


def baseline(alliance: np.ndarray, t: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and values of the last ``window`` scored sessions before position ``t``."""
    prev = np.flatnonzero(~np.isnan(alliance[:t]))[-window:]
    return prev, alliance[prev]


def pooled_sd(values: np.ndarray, reference_sd: float, weight: float) -> float:
    """``sqrt(((n - 1) s_w^2 + n0 s_ref^2) / ((n - 1) + n0))``; the reference alone for one value."""
    n = values.shape[0]
    if n < 2:
        return reference_sd
    s_w2 = float(np.var(values, ddof=1))
    denom = (n - 1) + weight
    return math.sqrt(((n - 1) * s_w2 + weight * reference_sd**2) / denom)


def rupture(scores: Columns, rule: Rule) -> tuple[list[Alert], list[RuptureEpisode]]:
    """Alliance-rupture alerts, one per episode, and the rupture-repair episodes."""
    p = rule.params
    sessions = np.asarray(scores["session"])
    a = np.asarray(scores["alliance"], dtype=float)
    alerts: list[Alert] = []
    episodes: list[RuptureEpisode] = []
    open_ep: dict[str, float | int] | None = None
    last_scored: int | None = None
    for t in range(len(a)):
        if np.isnan(a[t]):
            continue
        s = int(sessions[t])
        if open_ep is not None:
            if a[t] < open_ep["lowest_alliance"]:
                open_ep["lowest_alliance"], open_ep["lowest_session"] = a[t], s
            if a[t] >= open_ep["repair_level"]:
                episodes.append(_episode(open_ep, s))
                open_ep = None
            last_scored = t
            continue
        prev, vals = baseline(a, t, int(p["baseline_sessions"]))
        fired: list[str] = []
        values: dict[str, float] = {"alliance": a[t], "session": s}
        m = float(vals.mean()) if vals.size else math.nan
        sd = pooled_sd(vals, float(p["reference_sd"]), float(p["reference_weight"]))
        if p["use_sd_drop"] and vals.size >= int(p["min_previous"]):
            z = (m - a[t]) / sd
            if z >= p["k_sd"]:
                fired.append(
                    f"fell {z:.1f} SD below the client's baseline ({m:.2f} over sessions "
                    f"{_span(sessions[prev])}, pooled SD {sd:.2f}; rule: {p['k_sd']:g} SD)"
                )
                values.update({"drop_sd": z, "baseline_mean": m, "baseline_sd": sd, "k_sd": p["k_sd"]})
        if p["use_cutoff"] and a[t] < p["cutoff"]:
            before = a[last_scored] if last_scored is not None else math.inf
            if before >= p["cutoff"]:
                fired.append(f"fell below the cut-off {p['cutoff']:g}")
                values["cutoff"] = p["cutoff"]
        if p["use_previous_drop"] and last_scored is not None:
            drop = a[last_scored] - a[t]
            if drop >= p["previous_drop"]:
                fired.append(
                    f"dropped {drop:.2f} points from {a[last_scored]:.2f} at session "
                    f"{int(sessions[last_scored])} (rule: {p['previous_drop']:g})"
                )
                values.update({"previous_alliance": a[last_scored], "previous_drop": drop})
        if fired:
            if math.isnan(m):
                m, sd = a[last_scored] if last_scored is not None else a[t], float(p["reference_sd"])
            behind = [int(x) for x in sessions[prev]] + [s]
            alerts.append(
                make_alert(
                    rule,
                    s,
                    behind,
                    f"Session alliance {a[t]:.2f} at session {s} " + "; ".join(fired) + ".",
                    values,
                    f"alliance-rupture:{s}",
                )
            )
            open_ep = {
                "start_session": s,
                "start_alliance": a[t],
                "lowest_session": s,
                "lowest_alliance": a[t],
                "baseline_mean": m,
                "baseline_sd": sd,
                "repair_level": m - float(p["repair_sd"]) * sd,
            }
        last_scored = t
    if open_ep is not None:
        episodes.append(_episode(open_ep, None))
    return alerts, episodes


def _episode(ep: dict[str, float | int], repair: int | None) -> RuptureEpisode:
    return RuptureEpisode(
        start_session=int(ep["start_session"]),
        lowest_session=int(ep["lowest_session"]),
        repair_session=repair,
        start_alliance=float(ep["start_alliance"]),
        lowest_alliance=float(ep["lowest_alliance"]),
        baseline_mean=float(ep["baseline_mean"]),
        baseline_sd=float(ep["baseline_sd"]),
        repair_level=float(ep["repair_level"]),
    )


def _span(sessions: np.ndarray) -> str:
    if sessions.size == 0:
        return "none"
    if sessions.size == 1:
        return str(int(sessions[0]))
    return f"{int(sessions[0])}-{int(sessions[-1])}"


def avoidance_threshold(rule: Rule, avoidance: float | None) -> float:
    """The difficult-crying threshold on negative feelings for a client's ECR avoidance."""
    p = rule.params
    avo = 4.0 if avoidance is None or math.isnan(avoidance) else float(avoidance)
    lowered = float(p["negative_threshold"]) - float(p["avoidance_weight"]) * max(0.0, avo - 4.0)
    return max(float(p["negative_floor"]), lowered)


def difficult_crying(scores: Columns, rule: Rule, avoidance: float | None) -> list[Alert]:
    """Crying, strong negative feelings afterwards and a lower alliance than the client's usual."""
    p = rule.params
    threshold = avoidance_threshold(rule, avoidance)
    sessions = np.asarray(scores["session"])
    a = np.asarray(scores["alliance"], dtype=float)
    neg = np.asarray(scores["negative_feelings"], dtype=float)
    cried = np.asarray(scores["cried"], dtype=float)
    intensity = np.asarray(scores["intensity"], dtype=float)
    out = []
    for t in range(len(a)):
        if cried[t] != 1 or np.isnan(neg[t]) or np.isnan(a[t]) or neg[t] < threshold:
            continue
        prev, vals = baseline(a, t, int(p["baseline_sessions"]))
        if vals.size == 0:
            continue
        usual = float(vals.mean())
        if a[t] > usual - float(p["alliance_margin"]):
            continue
        s = int(sessions[t])
        avo_text = (
            f", threshold {threshold:.2f} for attachment avoidance {avoidance:.2f}"
            if avoidance is not None and not math.isnan(avoidance)
            else f", threshold {threshold:.2f} (attachment avoidance unknown)"
        )
        inten = "" if np.isnan(intensity[t]) else f" (intensity {intensity[t]:.0f} of 7)"
        values = {
            "session": s,
            "negative_feelings": neg[t],
            "threshold": threshold,
            "alliance": a[t],
            "usual_alliance": usual,
        }
        if not np.isnan(intensity[t]):
            values["intensity"] = intensity[t]
        if avoidance is not None and not math.isnan(avoidance):
            values["attachment_avoidance"] = float(avoidance)
        out.append(
            make_alert(
                rule,
                s,
                [int(x) for x in sessions[prev]] + [s],
                f"The client cried at session {s}{inten} and then felt strongly negative (shame, "
                f"discomfort: {neg[t]:.1f} of 7{avo_text}), with a session alliance of {a[t]:.2f} against "
                f"a usual {usual:.2f} (sessions {_span(sessions[prev])}).",
                values,
                f"difficult-crying:{s}",
            )
        )
    return out


def missed_checkins(
    sessions: np.ndarray, has_checkin: np.ndarray, rule: Rule, scheduled_through: int | None
) -> list[Alert]:
    """Runs of at least ``n_missed`` scheduled sessions without a check-in."""
    done = {int(s) for s, h in zip(sessions, has_checkin, strict=True) if h}
    last = (
        scheduled_through if scheduled_through is not None else (int(sessions.max()) if sessions.size else 0)
    )
    n_missed = int(rule["n_missed"])
    out = []
    run: list[int] = []
    for s in [*range(1, last + 1), None]:
        if s is not None and s not in done:
            run.append(s)
            continue
        if len(run) >= n_missed:
            trigger = run[n_missed - 1]
            out.append(
                make_alert(
                    rule,
                    trigger,
                    run,
                    f"No check-in for {len(run)} scheduled session(s) in a row (sessions {run[0]}-{run[-1]}"
                    f"{'' if s is not None else ', up to the latest scheduled'}; rule: {n_missed}).",
                    {"n_missed": len(run), "first_session": run[0], "last_session": run[-1]},
                    f"missed-checkins:from:{run[0]}",
                )
            )
        run = []
    return out
