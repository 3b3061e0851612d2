"""The not-on-track rule: worse than the expected-recovery band, or reliably deteriorated since intake."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from lacrima.errors import DataError
from lacrima.feedback._alerts import make_alert
from lacrima.feedback._expected import ExpectedRecovery, default_expected_recovery, z_of
from lacrima.feedback._model import Alert, ClientProfile
from lacrima.feedback._rules import Rule
from lacrima.feedback._scores import MEASURES, Columns
from lacrima.scoring import reliable_change

__all__ = ["not_on_track"]

_NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7"}
_Z = 1.96
_BAND_COLUMNS = ("measure", "session", "total", "expected", "upper", "is_default")


@functools.lru_cache(maxsize=256)
def _reliable_difference(instrument: str, subscale: str, sd_pre: float) -> float:
    """The smallest reliable change (1.96 SE_diff) from lacrima.scoring's Jacobson-Truax computation with
    the instrument's reliability; cached, as it depends only on its arguments. Higher totals are worse for
    both measures (their norms say so), so a deterioration is a rise of more than this."""
    res = reliable_change(
        [0.0], [0.0], instrument=instrument, subscale=subscale, sd_pre=sd_pre, cutoff_criterion="norms"
    )
    if res.higher_is_better:  # pragma: no cover - the PHQ-9 and GAD-7 norms say higher is worse
        raise DataError(
            f"{instrument} scores higher for better; the not-on-track rule expects symptom scales"
        )
    return float(res.reliable_difference)


def not_on_track(
    scores: Columns, rule: Rule, profile: ClientProfile, expected: Mapping[str, object]
) -> tuple[list[Alert], pd.DataFrame, list[str]]:
    """Alerts, the band used at each measured session, and notes (e.g. the default trajectory in use)."""
    p = rule.params
    alerts: list[Alert] = []
    notes: list[str] = []
    bands: dict[str, list[object]] = {c: [] for c in _BAND_COLUMNS}
    unknown = [k for k in expected if k not in MEASURES]
    if unknown:
        raise DataError(f"expected= names unknown measure(s) {unknown}; use {', '.join(MEASURES)}")
    for measure, (inst_id, sub) in MEASURES.items():
        totals = np.asarray(scores[f"{measure}_total"], dtype=float)
        sessions = np.asarray(scores["session"])
        measured = np.flatnonzero(~np.isnan(totals))
        given = profile.intake.get(measure) if profile.intake else None
        if measured.size == 0 or (given is None and measured.size < 2):
            continue
        if given is not None:
            intake = float(given)
            intake_session = 1
            post = measured[sessions[measured] > 1]
        else:
            intake, intake_session = float(totals[measured[0]]), int(sessions[measured[0]])
            post = measured[1:]
        post = post[sessions[post] > 1]
        if post.size == 0:
            continue
        exp = expected.get(measure)
        if exp is None:
            exp = default_expected_recovery(measure)
        if not isinstance(exp, ExpectedRecovery):
            raise DataError(f"expected[{measure!r}] must be an ExpectedRecovery, not {type(exp).__name__}")
        if exp.is_default:
            notes.append(f"{_NAMES[measure]}: {exp.note}")
        s_post = sessions[post].astype(float)
        y = totals[post]
        mean = exp.mean(s_post, intake)
        upper_edge = mean + z_of(float(p["band_quantile"])) * exp.sd(s_post)
        sd_pre = float(
            exp.intake_sd if not exp.is_default and math.isfinite(exp.intake_sd) else p[f"sd_pre_{measure}"]
        )
        reliable_difference = _reliable_difference(inst_id, sub, sd_pre)
        rci = (y - intake) / (reliable_difference / _Z)
        worse = (y - intake) > reliable_difference
        for column, values_of in (
            ("measure", [measure] * post.size),
            ("session", sessions[post].tolist()),
            ("total", y.tolist()),
            ("expected", mean.tolist()),
            ("upper", upper_edge.tolist()),
            ("is_default", [exp.is_default] * post.size),
        ):
            bands[column].extend(values_of)
        for j, pos in enumerate(post):
            s = int(sessions[pos])
            parts = []
            values: dict[str, float] = {"session": s, "total": y[j], "intake": intake}
            upper, mu = float(upper_edge[j]), float(mean[j])
            if p["use_band"] and y[j] > upper:
                where = (
                    "the default trajectory, an approximation" if exp.is_default else "the clinic's archive"
                )
                parts.append(
                    f"above the expected-recovery band for an intake of {intake:g} (expected {mu:.1f}, "
                    f"upper edge {upper:.1f} at the {p['band_quantile']:.0%} level; from {where})"
                )
                values.update({"expected": mu, "upper": upper, "is_default": float(exp.is_default)})
            if p["use_reliable_deterioration"] and worse[j]:
                parts.append(
                    f"a reliable deterioration since intake ({y[j] - intake:+g} points, "
                    f"RCI {_above_196(float(rci[j]))} > 1.96; reliable difference {reliable_difference:.1f})"
                )
                values.update({"rci": rci[j], "reliable_difference": reliable_difference})
            if not parts:
                continue
            alerts.append(
                make_alert(
                    rule,
                    s,
                    [intake_session, s] if intake_session != s else [s],
                    f"{_NAMES[measure]} total {y[j]:g} at session {s} is " + " and ".join(parts) + ".",
                    values,
                    f"not-on-track:{measure}:{s}",
                )
            )
    frame = pd.DataFrame(bands, columns=list(_BAND_COLUMNS))
    return alerts, frame, notes


def _above_196(rci: float) -> str:
    """An RCI beyond 1.96 with as many decimals as show it beyond ("1.9612", not "1.96 > 1.96")."""
    digits = 2
    while digits < 6 and round(abs(rci), digits) <= 1.96:
        digits += 1
    return f"{rci:.{digits}f}"
