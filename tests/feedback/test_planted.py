"""The alert rules on planted trajectories: lc.simulate_sessions(plant=...) and what the rules find."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lacrima as lc
from lacrima import feedback as fb
from lacrima.errors import DataError
from lacrima.simulate import PlantedEvents

PLANT = {"rupture": 0.15, "difficult_crying": 0.15, "deterioration": 0.15, "risk": 0.1, "missed": 0.1}


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    return lc.simulate_sessions(240, 12, (10, 30), seed=8, plant=PLANT)


@pytest.fixture(scope="module")
def results(sim):  # type: ignore[no-untyped-def]
    profiles, scheduled = fb.simulated_profiles(sim)
    return fb.evaluate_many(sim.data, profiles, scheduled_through=scheduled)


def test_planting_is_off_by_default_and_leaves_the_output_unchanged() -> None:
    plain = lc.simulate_sessions(60, 5, (6, 12), seed=4)
    again = lc.simulate_sessions(60, 5, (6, 12), seed=4, plant=None)
    pd.testing.assert_frame_equal(plain.data, again.data, check_exact=True)
    assert "planted" not in plain.truth and not any(c.startswith("phq_") for c in plain.data.columns)
    # planting nothing still draws the same base data: the planting generator is a spawned child
    nothing = lc.simulate_sessions(60, 5, (6, 12), seed=4, plant={})
    pd.testing.assert_frame_equal(plain.data, nothing.data, check_exact=True)
    assert nothing.truth["planted"].empty


def test_the_truth_records_every_planted_event(sim) -> None:  # type: ignore[no-untyped-def]
    planted = sim.truth["planted"]
    assert set(planted["kind"]) == {"rupture", "difficult_crying", "deterioration", "risk", "missed"}
    assert not planted["client_id"].duplicated().any()  # one event per client
    shares = planted["kind"].value_counts() / len(sim.clients)
    assert shares["rupture"] == pytest.approx(0.15, abs=0.06)
    ruptures = planted[planted["kind"] == "rupture"]
    assert ruptures["repaired"].any() and (~ruptures["repaired"].astype(bool)).any()
    assert (ruptures["lowest_session"] == ruptures["session"] + 1).all()
    # symptoms on scheduled sessions only; item 9 above 0 exactly where a risk answer is planted
    data = sim.data
    measured = data["phq_01"].notna()
    assert ((data.loc[measured, "session"] - 1) % 4 == 0).all()
    risky = data.loc[data["phq_09"] > 0, ["client_id", "session"]]
    want = planted.loc[planted["kind"] == "risk", ["client_id", "session"]]
    assert sorted(map(tuple, risky.to_numpy())) == sorted(map(tuple, want.to_numpy()))
    # missed check-ins are absent rows, still scheduled
    for ev in planted[planted["kind"] == "missed"].itertuples():
        mine = data.loc[data["client_id"] == ev.client_id, "session"]
        assert not set(range(ev.session, int(ev.last_session) + 1)) & set(mine)


def test_each_rule_fires_where_planted(sim, results) -> None:  # type: ignore[no-untyped-def]
    planted = sim.truth["planted"]
    for ev in planted.itertuples():
        alerts = results[ev.client_id].alerts
        if ev.kind == "risk":
            assert any(a.kind == "risk-item" and a.session == ev.session for a in alerts), ev
        elif ev.kind == "missed":
            run = set(range(ev.session, int(ev.last_session) + 1))
            assert any(a.kind == "missed-checkins" and run <= set(a.sessions) for a in alerts), ev
    perf = fb.rule_performance(sim).table().set_index("kind")
    assert perf.loc["risk-item", "sensitivity"] == 1.0 and perf.loc["missed-checkins", "sensitivity"] == 1.0
    for kind in ("alliance-rupture", "difficult-crying", "not-on-track"):
        assert perf.loc[kind, "planted"] >= 20
        assert perf.loc[kind, "sensitivity"] >= 0.85, kind


def test_repairs_are_recognised(sim, results) -> None:  # type: ignore[no-untyped-def]
    ruptures = sim.truth["planted"].query("kind == 'rupture'")
    hits = {True: [], False: []}  # type: dict[bool, list[bool]]
    for ev in ruptures.itertuples():
        episodes = [
            e for e in results[ev.client_id].episodes if ev.session <= e.start_session <= ev.lowest_session
        ]
        if episodes:
            hits[bool(ev.repaired)].append(episodes[0].repaired)
    assert np.mean(hits[True]) >= 0.8  # repaired ruptures come back the next session
    assert np.mean(hits[False]) <= 0.2  # unrepaired ones stay down


def test_clean_clients_raise_no_risk_missed_or_only_few_other_alerts(sim, results) -> None:  # type: ignore[no-untyped-def]
    clean = sorted(set(sim.clients["client_id"]) - set(sim.truth["planted"]["client_id"]))
    assert len(clean) >= 50
    kinds = [a.kind for cid in clean for a in results[cid].alerts]
    sessions = int(sim.clients.set_index("client_id").loc[clean, "n_sessions"].sum())
    assert "risk-item" not in kinds and "missed-checkins" not in kinds
    assert 100 * kinds.count("difficult-crying") / sessions < 1.5
    assert 100 * kinds.count("alliance-rupture") / sessions < 6


def test_evaluate_many_agrees_with_evaluate(sim, results) -> None:  # type: ignore[no-untyped-def]
    profiles, scheduled = fb.simulated_profiles(sim)
    for cid in sorted(results)[:15]:
        one = fb.evaluate(
            sim.data[sim.data["client_id"] == cid], profiles[cid], scheduled_through=scheduled[cid]
        )
        assert one.alerts == results[cid].alerts and one.episodes == results[cid].episodes
        pd.testing.assert_frame_equal(one.scores, results[cid].scores)
        pd.testing.assert_frame_equal(one.symptoms, results[cid].symptoms)
        assert one.urgency == results[cid].urgency


def test_bad_planting_settings_list_every_problem() -> None:
    with pytest.raises(DataError) as exc:
        lc.simulate_sessions(10, 2, seed=1, plant={"rupture": 0.8, "risk": 0.5, "missed_run": 0, "repair": 2})
    text = str(exc.value)
    assert "add up to 1.3" in text and "missed_run is 0" in text and "repair is 2" in text
    with pytest.raises(DataError, match="unknown settings"):
        lc.simulate_sessions(10, 2, seed=1, plant={"ruptures": 0.1})
    assert PlantedEvents().problems() == []
