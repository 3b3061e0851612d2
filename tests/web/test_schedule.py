"""Surveys tied to clients: the intake and the measures a study's schedule assigns by session, the link
opening only those, and the client's scores for the clinic pages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.test import Client as HttpClient

import lacrima as lc
from lacrima.errors import DataError
from lacrima.instruments import load_instrument
from lacrima.web.participate.models import Response
from lacrima.web.studies import schedule as plan
from lacrima.web.studies.scores import client_scores
from web_licensed import licensed

SCHEDULE = {
    "intake": ["ecr_r", "crying_attitudes", "phq9"],
    "repeated": [
        {"instruments": ["phq9", "gad7"], "first": 2, "every": 2},
        {"instruments": ["wai_sr"], "first": 3, "every": 5},
    ],
}


def test_it_says_which_measures_are_due_after_each_session() -> None:
    due = {n: plan.due(SCHEDULE, n) for n in range(1, 9)}
    assert due[1] == [] and due[2] == ["phq9", "gad7"] and due[3] == ["wai_sr"]
    assert due[4] == ["phq9", "gad7"] and due[5] == [] and due[8] == ["phq9", "gad7", "wai_sr"]
    assert plan.due({"repeated": [{"instruments": ["wai_sr"], "first": 3}]}, 8) == []


def test_it_lists_every_problem_of_a_bad_schedule() -> None:
    bad = {
        "intake": ["phq9", "nope"],
        "repeated": [{"instruments": ["session_checkin"], "first": 0, "every": "5"}],
        "when": 1,
    }
    with pytest.raises(DataError) as err:
        plan.validate_schedule(bad)
    text = "\n".join(str(p) for p in err.value.problems)
    for part in ("'nope' is not an instrument", "check-in itself", "first must be", "every must be", "when"):
        assert part in text


def _answers(ins_id: str, rng: np.random.Generator) -> dict[str, str]:
    ins = load_instrument(ins_id)
    return {it.column: f"{rng.integers(ins.scale.min, ins.scale.max + 1):g}" for it in ins.items}


def _fill(c: HttpClient, token: str, view: str, ids: list[str], rng: np.random.Generator) -> dict:
    from lacrima.web.participate.forms import build_pages

    given: dict[str, int] = {}
    for page in build_pages([load_instrument(i) for i in ids]):
        data = {k: v for k, v in _answers(page.instrument.id, rng).items() if k in page.instrument.columns}
        data = {it.column: data[it.column] for it in page.items}
        r = c.post(f"/p/{token}/{view}/", {"page": str(page.number), **data})
        assert r.status_code in (200, 302), r.content.decode()[:600]
        given.update({k: int(v) for k, v in data.items()})
    return given


@pytest.mark.django_db
def test_it_runs_intake_checkins_and_due_measures_from_the_clients_one_link(world) -> None:
    world.study.schedule = SCHEDULE
    world.study.save()
    for instrument in ("wai_sr", "ecr_r"):
        licensed(world.study, instrument, "en")
    rng = np.random.default_rng(7)
    _, token = world.invite(kind="checkin", client=world.client)
    c = HttpClient()
    c.get(f"/p/{token}/?lang=en")
    r = c.post(f"/p/{token}/consent/", {"action": "agree"})
    assert c.get(f"/p/{token}/").url.endswith("/survey/")  # the intake comes first
    assert c.get(f"/p/{token}/checkin/").status_code == 302  # no check-in before the intake
    assert c.get(f"/p/{token}/measures/").status_code == 302  # nothing scheduled yet
    intake = _fill(c, token, "survey", SCHEDULE["intake"], rng)
    assert c.get(f"/p/{token}/").url.endswith("/checkin/")
    checkin = {"cried": "0", "chk_07": "5", "chk_08": "6", "chk_09": "6"}
    measured: dict[int, dict] = {}
    for session in (1, 2, 3):
        r = c.post(f"/p/{token}/checkin/", {"idempotency_key": f"key-{session}", **checkin})
        due = plan.due(SCHEDULE, session)
        if due:
            assert r.status_code == 302 and r.url.endswith("/measures/")
            measured[session] = _fill(c, token, "measures", due, rng)
        else:
            assert r.status_code == 200
    kinds = list(Response.objects.filter(client=world.client).order_by("pk").values_list("kind", "session"))
    assert kinds == [
        ("survey", None), ("checkin", 1), ("checkin", 2), ("measures", 2), ("checkin", 3), ("measures", 3),
    ]  # fmt: skip

    scores = client_scores(world.client)
    assert list(scores["kind"]) == ["intake", "measures", "measures"]
    assert list(scores["session"].astype("object").where(scores["session"].notna(), None)) == [None, 2, 3]
    frame = pd.DataFrame([intake]).astype("float64")
    ecr = lc.score(frame, "ecr_r").iloc[0]
    assert scores.loc[0, "ecr_anxiety"] == pytest.approx(ecr["ecr_anxiety"])
    style = lc.attachment_style(lc.score(frame, "ecr_r")).iloc[0]
    assert scores.loc[0, "ecr_style"] == style
    assert scores.loc[0, "cat_healing"] == pytest.approx(
        lc.score(frame, "crying_attitudes").iloc[0]["cat_healing"]
    )
    assert scores.loc[0, "phq_total"] == sum(v for k, v in intake.items() if k.startswith("phq_"))
    assert scores.loc[1, "gad_total"] == sum(v for k, v in measured[2].items() if k.startswith("gad_"))
    wai = lc.score(pd.DataFrame([measured[3]]).astype("float64"), "wai_sr").iloc[0]
    assert scores.loc[2, "wai_total"] == pytest.approx(wai["wai_total"])
    assert pd.isna(scores.loc[2, "phq_total"])


@pytest.mark.django_db
def test_it_opens_only_what_the_study_assigns_to_the_client(world) -> None:
    _, token = world.invite(kind="checkin", client=world.client)  # no schedule: check-ins only
    c = HttpClient()
    c.get(f"/p/{token}/?lang=en")
    c.post(f"/p/{token}/consent/", {"action": "agree"})
    assert c.get(f"/p/{token}/survey/").status_code == 404  # not the study's anonymous survey
    assert c.get(f"/p/{token}/measures/").status_code == 302
    assert c.get(f"/p/{token}/").url.endswith("/checkin/")


@pytest.mark.django_db
def test_it_returns_an_empty_frame_for_a_client_without_surveys(world) -> None:
    scores = client_scores(world.client)
    assert scores.empty and list(scores.columns) == ["kind", "session", "completed_at"]
