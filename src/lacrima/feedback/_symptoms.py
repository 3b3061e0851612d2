"""Per-measure symptom status of clients: latest total against the cut-off, and reliable change since intake.

The reliable change index and the change category (recovered / improved / unchanged / deteriorated) come
from ``lacrima.scoring.reliable_change`` with the instrument's norms (reliability, cut-off) and the same
``sd_pre`` as the not-on-track rule: the intake SD of a fitted archive, else the rule's documented
default. One call per measure serves a whole caseload.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lacrima.feedback._expected import ExpectedRecovery
from lacrima.feedback._model import ClientProfile
from lacrima.feedback._rules import Rule
from lacrima.feedback._scores import MEASURES, Columns
from lacrima.instruments import load_instrument
from lacrima.scoring import reliable_change

__all__ = ["SYMPTOM_COLUMNS", "intake_and_latest", "symptom_status"]

SYMPTOM_COLUMNS = (
    "measure",
    "intake",
    "intake_session",
    "latest",
    "latest_session",
    "latest_band",
    "cutoff",
    "above_cutoff",
    "change",
    "rci",
    "reliable_difference",
    "category",
    "n_measured",
)


def intake_and_latest(scores: Columns, profile: ClientProfile, measure: str) -> dict[str, object] | None:
    """Intake (``profile.intake`` or the first measurement) and the latest later measurement of one client."""
    totals = np.asarray(scores[f"{measure}_total"], dtype=float)
    sessions = np.asarray(scores["session"])
    bands = np.asarray(scores[f"{measure}_band"], dtype=object)
    measured = np.flatnonzero(~np.isnan(totals))
    given = profile.intake.get(measure) if profile.intake else None
    if measured.size == 0 and given is None:
        return None
    if given is not None:
        intake, intake_session = float(given), None
    else:
        intake, intake_session = float(totals[measured[0]]), int(sessions[measured[0]])
    later = measured if given is not None else measured[1:]
    last = int(later[-1]) if later.size else None
    band = bands[last] if last is not None else None
    return {
        "measure": measure,
        "intake": intake,
        "intake_session": intake_session,
        "latest": float(totals[last]) if last is not None else math.nan,
        "latest_session": int(sessions[last]) if last is not None else None,
        "latest_band": band if isinstance(band, str) else None,
        "n_measured": int(measured.size),
    }


def symptom_status(
    rows: Sequence[dict[str, object]], rule: Rule, expected: Mapping[str, object]
) -> pd.DataFrame:
    """Add cut-off and reliable change to rows from :func:`intake_and_latest` (any clients, any measures)."""
    frame = pd.DataFrame(list(rows), columns=[c for c in SYMPTOM_COLUMNS if c not in _ADDED])
    for c in _ADDED:
        frame[c] = pd.Series([math.nan] * len(frame), dtype="float64" if c != "category" else "object")
    frame["above_cutoff"] = frame["above_cutoff"].astype("object")
    for measure, (inst_id, sub) in MEASURES.items():
        mine = (frame["measure"] == measure).to_numpy()
        if not mine.any():
            continue
        exp = expected.get(measure)
        fitted = isinstance(exp, ExpectedRecovery) and not exp.is_default and math.isfinite(exp.intake_sd)
        sd_pre = (
            float(exp.intake_sd)
            if fitted and isinstance(exp, ExpectedRecovery)
            else float(rule[f"sd_pre_{measure}"])
        )
        res = reliable_change(
            frame.loc[mine, "intake"].to_numpy(dtype=float),
            frame.loc[mine, "latest"].to_numpy(dtype=float),
            instrument=inst_id,
            subscale=sub,
            sd_pre=sd_pre,
            cutoff_criterion="norms",
        )
        cutoff = load_instrument(inst_id).norms[sub].cutoff
        pp = res.per_person
        latest = frame.loc[mine, "latest"].to_numpy(dtype=float)
        frame.loc[mine, "cutoff"] = float(cutoff) if cutoff is not None else math.nan
        frame.loc[mine, "above_cutoff"] = [
            None if math.isnan(v) or cutoff is None else bool(v >= cutoff) for v in latest
        ]
        frame.loc[mine, "change"] = pp["change"].to_numpy(dtype=float)
        frame.loc[mine, "rci"] = pp["rci"].to_numpy(dtype=float)
        frame.loc[mine, "reliable_difference"] = res.reliable_difference
        frame.loc[mine, "category"] = (
            pp["category"].astype(object).where(pp["category"].notna(), None).to_numpy()
        )
    return frame.loc[:, list(SYMPTOM_COLUMNS)]


_ADDED = ("cutoff", "above_cutoff", "change", "rci", "reliable_difference", "category")
