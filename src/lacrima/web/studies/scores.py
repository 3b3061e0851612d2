"""A client's scores from the surveys their link collected: intake and the measures scheduled by session.

:func:`client_scores` is the public function the clinic pages use. Scoring is ``lc.score`` (prorated
subscales by each instrument's missing-data rule) and ``lc.attachment_style``; nothing is computed here
beyond putting each completed response's scores on one row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import lacrima as lc
from lacrima.instruments import load_instrument
from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Client

FRONT = ["kind", "session", "completed_at"]
# The ECR forms' dimension columns, for the attachment style
_ATTACHMENT = {"ecr_r": ("ecr_anxiety", "ecr_avoidance"), "ecr_s": ("ecrs_anxiety", "ecrs_avoidance")}


def _row_scores(instrument_id: str, answers: dict[str, Any]) -> dict[str, Any]:
    ins = load_instrument(instrument_id)
    if not ins.subscales:
        return {}
    values = {c: (np.nan if answers.get(c) is None else answers[c]) for c in ins.columns}
    frame = pd.DataFrame([values], columns=ins.columns).astype("float64")
    scores = lc.score(frame, instrument_id)
    out: dict[str, Any] = {str(k): v for k, v in scores.iloc[0].items()}
    if instrument_id in _ATTACHMENT:
        anxiety, avoidance = _ATTACHMENT[instrument_id]
        if not (pd.isna(out[anxiety]) or pd.isna(out[avoidance])):
            style = lc.attachment_style(scores, anxiety=anxiety, avoidance=avoidance)
            out[f"{ins.prefix}_style"] = style.iloc[0]
    return out


def client_scores(client: Client) -> pd.DataFrame:
    """One row per completed intake or scheduled-measures response of ``client``, oldest first.

    Columns: ``kind`` ("intake" or "measures"), ``session`` (the check-in session the measures follow;
    missing for the intake), ``completed_at``, then the scores of each instrument the response asked, as
    ``lc.score`` names them: attachment dimensions (``ecr_anxiety``, ``ecr_avoidance``) with the style
    (``ecr_style``: secure, preoccupied, dismissing or fearful), attitudes to crying (``cat_healing``,
    ...), symptom totals with their bands (``phq_total``, ``phq_total_band``, ``gad_total``, ...), the
    alliance (``wai_goal``, ..., ``wai_total``). A score the answers cannot support is missing (NaN).
    The caller checks who may see the client (lacrima.web.access).
    """
    rows = []
    responses = Response.objects.filter(
        client=client,
        kind__in=[Response.Kind.SURVEY, Response.Kind.MEASURES],
        completed_at__isnull=False,
    ).order_by("completed_at", "pk")
    for r in responses:
        row: dict[str, Any] = {
            "kind": "intake" if r.kind == Response.Kind.SURVEY else "measures",
            "session": r.session if r.kind == Response.Kind.MEASURES else None,
            "completed_at": r.completed_at,
        }
        for iid in r.instruments:
            row.update(_row_scores(iid, r.answers))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else FRONT)
    frame["session"] = frame["session"].astype("Int64")
    return frame
