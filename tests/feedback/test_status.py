"""The symptom status of a client (cut-off, reliable change) and the profile from intake answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import lacrima as lc
from lacrima import feedback as fb
from lacrima.errors import DataError


def _spread(total: int, k: int) -> list[int]:
    """Item answers of k items (0-3) that add up to ``total``."""
    return [total // k + (1 if i < total % k else 0) for i in range(k)]


def _measured(phq: list[int], gad: list[int], sessions: list[int]) -> pd.DataFrame:
    rows = pd.DataFrame({"session": sessions})
    for i in range(8):  # the PHQ-9 total goes on items 1-8; item 9 stays 0
        rows[f"phq_{i + 1:02d}"] = [_spread(t, 8)[i] for t in phq]
    rows["phq_09"] = 0
    for i in range(7):
        rows[f"gad_{i + 1:02d}"] = [_spread(t, 7)[i] for t in gad]
    return rows


def test_the_symptom_status_uses_the_cutoff_and_the_reliable_change_index() -> None:
    rows = _measured([16, 14, 8], [14, 12, 15], [1, 5, 9])
    res = fb.evaluate(rows)
    np_total = res.scores["phq9_total"].tolist()
    assert np_total == [16, 14, 8] and res.scores["gad7_total"].tolist() == [14, 12, 15]
    assert res.scores["phq9_band"].tolist() == ["moderately severe", "moderate", "mild"]
    status = res.symptoms.set_index("measure")
    phq = status.loc["phq9"]
    assert (phq["intake"], phq["latest"], phq["latest_session"], phq["n_measured"]) == (16, 8, 9, 3)
    assert phq["cutoff"] == 10 and phq["above_cutoff"] is False and phq["latest_band"] == "mild"
    want = fb.reliable_change([16.0], [8.0], instrument="phq9", sd_pre=6.53, cutoff_criterion="norms")
    assert phq["rci"] == pytest.approx(float(want.per_person["rci"].iloc[0]))
    assert phq["category"] == "recovered" == want.per_person["category"].iloc[0]
    gad = status.loc["gad7"]
    assert gad["above_cutoff"] is True and gad["category"] == "unchanged" and gad["change"] == 1
    # a client measured once: intake only, no change yet
    once = fb.evaluate(_measured([12], [5], [1])).symptoms.set_index("measure").loc["phq9"]
    assert once["intake"] == 12 and math.isnan(once["latest"]) and once["category"] is None


def test_evaluate_many_gives_each_client_the_same_status() -> None:
    sim = lc.simulate_sessions(200, 10, (8, 16), seed=3, plant={"symptoms": True, "deterioration": 0.3})
    many = fb.evaluate_many(sim.data)
    for cid in sorted(many)[:8]:
        one = fb.evaluate(sim.data[sim.data["client_id"] == cid])
        pd.testing.assert_frame_equal(one.symptoms, many[cid].symptoms)
    worse = set(sim.truth["planted"].query("kind == 'deterioration'")["client_id"])
    change = {c: many[c].symptoms.set_index("measure").loc["phq9", "change"] for c in many}
    planted = [v for c, v in change.items() if c in worse]
    clean = [v for c, v in change.items() if c not in worse]
    # 8 points planted on top of the usual recovery
    assert len(planted) >= 40 and sum(planted) / len(planted) > sum(clean) / len(clean) + 6


def test_a_profile_is_scored_from_intake_answers() -> None:
    study = lc.simulate_study(seed=1)
    row = study.data.iloc[[0]]
    profile = fb.client_profile(row)
    ecr = lc.score(row, "ecr_r")
    assert profile.attachment_anxiety == ecr["ecr_anxiety"].iloc[0]
    assert profile.attachment_avoidance == ecr["ecr_avoidance"].iloc[0]
    assert profile.attachment_style == str(lc.attachment_style(ecr).iloc[0])
    attitudes = lc.score(row, "crying_attitudes")
    assert profile.crying_attitudes == {c.removeprefix("cat_"): attitudes[c].iloc[0] for c in attitudes}
    assert profile.attitude("cat_weakness") == attitudes["cat_weakness"].iloc[0]
    assert (profile.gender, profile.language) == (row["gender"].iloc[0], row["language"].iloc[0])
    phq = {f"phq_{i:02d}": 1 for i in range(1, 10)}
    assert fb.client_profile(phq).intake == {"phq9": 9.0}
    assert fb.client_profile(pd.Series({"gender": "man"})).attachment_style is None
    with pytest.raises(DataError, match="2 rows"):
        fb.client_profile(study.data.iloc[:2])
    with pytest.raises(DataError):
        fb.client_profile({"ecr_01": 3})  # the other ECR-R items are absent: lc.score lists them
