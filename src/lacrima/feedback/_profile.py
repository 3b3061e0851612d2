"""A client's profile from their intake answers, scored by ``lc.score`` and ``attachment_style``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from lacrima.errors import DataError
from lacrima.feedback._model import ClientProfile
from lacrima.instruments import load_instrument
from lacrima.scoring import attachment_style, score

__all__ = ["client_profile"]

_ECR = (("ecr_r", "ecr"), ("ecr_s", "ecrs"))


def _present(row: pd.DataFrame, instrument: str) -> bool:
    return any(c in row.columns for c in load_instrument(instrument).columns)


def _value(x: Any) -> float | None:
    v = float(x)
    return None if v != v else v


def client_profile(intake: pd.DataFrame | pd.Series | Mapping[str, Any]) -> ClientProfile:
    """Build a :class:`ClientProfile` from one client's raw intake answers.

    Parameters
    ----------
    intake : one-row DataFrame, Series or mapping
        Item columns of the intake measures the client answered -- ECR-R (``ecr_01``...) or ECR-S
        (``ecrs_01``...), crying attitudes (``cat_01``...), PHQ-9 (``phq_01``...), GAD-7 (``gad_01``...)
        -- and optionally ``gender`` and ``language``. An instrument whose columns are all absent is
        left unknown; one with some columns absent is an error (``lc.score`` lists them).

    Returns
    -------
    ClientProfile
        Attachment dimensions and style (``lacrima.scoring.attachment_style``, cut at the scale midpoint),
        crying-attitude subscales, intake totals, gender and language.

    Examples
    --------
    >>> from lacrima import feedback as fb
    >>> answers = {f"cat_{i:02d}": 4 for i in range(1, 13)} | {"gender": "man"}
    >>> p = fb.client_profile(answers)
    >>> p.gender, round(p.crying_attitudes["weakness"], 2), p.attachment_style is None  # item 10 reversed
    ('man', 3.33, True)
    """
    if isinstance(intake, pd.DataFrame):
        row = intake
    elif isinstance(intake, pd.Series):
        row = intake.to_frame().T
    elif isinstance(intake, Mapping):
        row = pd.DataFrame([dict(intake)])
    else:
        raise DataError(
            f"intake must be a one-row DataFrame, a Series or a mapping, not {type(intake).__name__}"
        )
    if len(row) != 1:
        raise DataError(f"intake has {len(row)} rows; give one client's answers (one row)")
    row = row.reset_index(drop=True)
    fields: dict[str, Any] = {}
    for instrument, prefix in _ECR:
        if _present(row, instrument):
            scores = score(row, instrument)
            anxiety, avoidance = f"{prefix}_anxiety", f"{prefix}_avoidance"
            style = attachment_style(scores, anxiety=anxiety, avoidance=avoidance).iloc[0]
            fields.update(
                attachment_anxiety=_value(scores[anxiety].iloc[0]),
                attachment_avoidance=_value(scores[avoidance].iloc[0]),
                attachment_style=None if pd.isna(style) else str(style),
            )
            break
    if _present(row, "crying_attitudes"):
        scores = score(row, "crying_attitudes")
        fields["crying_attitudes"] = {
            c.removeprefix("cat_"): v for c in scores.columns if (v := _value(scores[c].iloc[0])) is not None
        }
    intake_totals = {}
    for measure, inst_id, prefix in (("phq9", "phq9", "phq"), ("gad7", "gad7", "gad")):
        if _present(row, inst_id):
            total = _value(score(row, inst_id)[f"{prefix}_total"].iloc[0])
            if total is not None:
                intake_totals[measure] = total
    fields["intake"] = intake_totals
    for name in ("gender", "language"):
        if name in row.columns and row[name].notna().iloc[0]:
            fields[name] = str(row[name].iloc[0])
    return ClientProfile(**fields)
