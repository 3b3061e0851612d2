"""The clinic's archive of symptom measures for refitting expected recovery: one row per measured session
of every client in a study (``client_id``, ``session`` and the raw PHQ-9/GAD-7 item columns)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Study

_PREFIXES = ("phq_", "gad_")


def symptom_archive(study: Study) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for client_id, session, answers in Response.objects.filter(
        study=study, kind=Response.Kind.SURVEY, completed_at__isnull=False, session__isnull=False
    ).values_list("client_id", "session", "answers"):
        row: dict[str, Any] = {"client_id": client_id, "session": int(session)}
        for k, v in answers.items():
            if k.startswith(_PREFIXES):
                row[k] = float(v) if isinstance(v, int | float) else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame({"client_id": pd.Series(dtype="int64"), "session": pd.Series(dtype="int64")})
    return frame.sort_values(["client_id", "session"], kind="stable").reset_index(drop=True)
