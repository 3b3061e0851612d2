"""A study's database rows as lacrima's respondent and session tables, ready for lc.analyze / lc.mixed.

Identifiers are pseudonymous: clients by their study code, therapists by a per-study code (``T01``...),
never a user name or e-mail address.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from django.db.models import QuerySet

from lacrima.web.participate.models import Response
from lacrima.web.studies.models import Site, Study

RESPONDENT_FRONT = ["participant_id", "site", "country", "language", "wave"]
SESSION_FRONT = ["client_id", "therapist_id", "site", "session", "date", "cried"]


def _therapist_codes(study: Study) -> dict[int, str]:
    ids = sorted({t for t in study.clients.values_list("therapist_id", flat=True) if t is not None})
    return {tid: f"T{i + 1:02d}" for i, tid in enumerate(ids)}


def _value(v: Any) -> Any:
    if v is None:
        return np.nan
    if isinstance(v, list):
        return ";".join(map(str, v))
    return v


def study_tables(study: Study, sites: QuerySet[Site] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(respondents, sessions) for the study's completed responses; withdrawn clients' rows included
    unless deleted on request (withdrawal stops new data, it does not erase given answers).

    ``sites`` (from :func:`lacrima.web.access.get_study_for_research`) limits the rows to those sites in
    the database query itself; None means every site."""
    therapists = _therapist_codes(study)
    rows = Response.objects.filter(study=study, completed_at__isnull=False)
    if sites is not None:
        rows = rows.filter(site__in=sites)
    responses = rows.select_related("site", "client").order_by("pk")
    resp_rows: list[dict[str, Any]] = []
    sess_rows: list[dict[str, Any]] = []
    for r in responses:
        answers = {k: _value(v) for k, v in r.answers.items()}
        if r.kind == Response.Kind.SURVEY:
            pid = r.client.code if r.client is not None else f"R{r.pk:06d}"
            front = {"participant_id": pid, "site": r.site.code, "country": r.site.country}
            resp_rows.append({**front, "language": r.language, "wave": r.wave, **answers})
        else:
            client = r.client
            sess_rows.append(
                {
                    "client_id": client.code if client is not None else f"R{r.pk:06d}",
                    "therapist_id": therapists.get(client.therapist_id, "")
                    if client and client.therapist_id
                    else "",
                    "site": r.site.code,
                    "session": r.session,
                    "date": r.session_date,
                    **answers,
                }
            )
    respondents = pd.DataFrame(resp_rows)
    sessions = pd.DataFrame(sess_rows)
    if respondents.empty:
        respondents = pd.DataFrame(columns=RESPONDENT_FRONT)
    if sessions.empty:
        sessions = pd.DataFrame(columns=SESSION_FRONT)
    else:
        sessions = sessions.sort_values(["client_id", "session"], kind="stable").reset_index(drop=True)
    front_r = [c for c in RESPONDENT_FRONT if c in respondents.columns]
    respondents = respondents[front_r + [c for c in respondents.columns if c not in front_r]]
    front_s = [c for c in SESSION_FRONT if c in sessions.columns]
    sessions = sessions[front_s + [c for c in sessions.columns if c not in front_s]]
    return respondents, sessions
