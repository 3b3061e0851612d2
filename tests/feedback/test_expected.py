"""Expected recovery: the lc.mixed fit against lme4, the default trajectory and its flag, bad archives."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lacrima as lc
from lacrima import feedback as fb
from lacrima.errors import DataError

REF = Path(__file__).parents[1] / "reference"


@pytest.fixture(scope="module")
def reference() -> dict:  # type: ignore[type-arg]
    return json.loads((REF / "expected_recovery.json").read_text())


@pytest.fixture(scope="module")
def fitted() -> fb.ExpectedRecovery:
    return fb.fit_expected_recovery(pd.read_csv(REF / "data" / "expected_recovery.csv"), "phq9")


def test_the_fit_matches_lme4(fitted: fb.ExpectedRecovery, reference: dict) -> None:  # type: ignore[type-arg]
    # tests/reference/expected_recovery.R: lmer(phq9_total ~ lt * xc + (1 + lt | client_id), REML)
    assert not fitted.is_default and "lc.mixed" in fitted.note
    assert (fitted.n_clients, fitted.n_measurements) == (reference["n_clients"], reference["n_measurements"])
    assert fitted.intake_centre == pytest.approx(reference["intake_centre"], rel=1e-12)
    assert fitted.intake_sd == pytest.approx(reference["intake_sd"], rel=1e-12)
    for term, value in reference["fixef"].items():
        assert fitted.coef[term] == pytest.approx(value, rel=1e-4), term
    assert fitted.var_intercept == pytest.approx(reference["var_intercept"], rel=1e-3)
    assert fitted.var_slope == pytest.approx(reference["var_slope"], rel=1e-3)
    assert fitted.cov_intercept_slope == pytest.approx(reference["cov"], rel=1e-3)
    assert fitted.residual_var == pytest.approx(reference["residual_var"], rel=1e-4)
    band = fitted.band(reference["band"]["sessions"], reference["band"]["intake"], 0.9)
    np.testing.assert_allclose(band["expected"], reference["band"]["expected"], rtol=1e-5)
    np.testing.assert_allclose(band["upper"], reference["band"]["upper90"], rtol=1e-5)
    assert list(fitted.table()["term"][:4]) == ["(Intercept)", "lt", "xc", "lt:xc"]


def test_the_fit_recovers_a_simulated_archive() -> None:
    sim = lc.simulate_sessions(600, 30, (12, 30), seed=12, plant={"symptoms": True})
    exp = fb.fit_expected_recovery(sim.data, "phq9")
    assert not exp.is_default and exp.n_clients == 600
    # simulated: E[y | latent intake I] = I - 0.5 (I - 2.91) log(s) / log(16); at the mean intake the
    # regression dilution of the (noisy) observed intake does not matter
    c = exp.intake_centre
    for s in (5, 13, 25):
        truth = c - 0.5 * (c - 2.91) * math.log(s) / math.log(16)
        assert float(exp.mean(s, c)) == pytest.approx(truth, abs=0.6), s
    assert exp.var_slope > 0 and exp.residual_var > 0
    gad = fb.fit_expected_recovery(sim.data, "gad7")
    assert gad.measure == "gad7" and not gad.is_default


def test_a_small_archive_falls_back_to_the_flagged_default(fitted: fb.ExpectedRecovery) -> None:
    d = pd.read_csv(REF / "data" / "expected_recovery.csv")
    few = d[d["client_id"].isin(sorted(d["client_id"].unique())[:20])]
    exp = fb.fit_expected_recovery(few, "phq9")
    assert exp.is_default
    assert "20 client(s)" in exp.note and "needs 50" in exp.note and "approximation" in exp.note
    assert not fb.fit_expected_recovery(few, "phq9", min_clients=10).is_default


def test_the_default_trajectory_is_documented_and_flagged_in_alerts() -> None:
    exp = fb.default_expected_recovery("phq9")
    assert exp.is_default and "approximation" in exp.note
    # half the way from intake to the general-population mean (2.91) by session 16
    assert float(exp.mean(16, 20.0)) == pytest.approx(20 - 0.5 * (20 - 2.91))
    assert float(exp.mean(1, 20.0)) == pytest.approx(20.0)
    # spread: the Jacobson-Truax SE of a difference, 6.53 * sqrt(2 * (1 - 0.89))
    assert float(exp.sd(9)) == pytest.approx(6.53 * math.sqrt(0.22))
    rows = pd.DataFrame({"session": [1, 5, 9], **{f"phq_{i:02d}": [2, 2, 3] for i in range(1, 10)}})
    rows["phq_09"] = 0
    res = fb.evaluate(rows)
    (alert, *_) = [a for a in res.alerts if a.kind == "not-on-track"]
    assert "default trajectory, an approximation" in alert.reason and alert.values["is_default"] == 1.0
    assert any("PHQ-9: default trajectory" in n for n in res.notes)
    assert res.expected["is_default"].all() and list(res.expected["session"]) == [5, 9]


def test_not_on_track_uses_the_reliable_change_index() -> None:
    # intake 9, then 16: +7 > the reliable difference 6 (1.96 * 6.53 * sqrt(2) * sqrt(0.11))
    rows = pd.DataFrame({"session": [1, 5], **{f"phq_{i:02d}": [1, 2] for i in range(1, 10)}})
    rows.loc[0, "phq_09"] = 1
    rows.loc[1, "phq_09"] = 0
    rules = fb.load_rules({"not-on-track": {"use_band": False}})
    res = fb.evaluate(rows, rules=rules)
    (alert,) = [a for a in res.alerts if a.kind == "not-on-track"]
    expected_rd = fb.reliable_change(
        [9.0], [16.0], instrument="phq9", sd_pre=6.53, cutoff_criterion="norms"
    ).reliable_difference
    assert alert.values["reliable_difference"] == pytest.approx(expected_rd)
    assert alert.values["rci"] == pytest.approx(7 / (6.53 * math.sqrt(2) * math.sqrt(0.11)))
    assert "reliable deterioration since intake (+7 points" in alert.reason
    assert alert.key == "not-on-track:phq9:5" and alert.sessions == (1, 5)
    # a fitted archive's intake SD replaces the rule's sd_pre
    fitted = fb.fit_expected_recovery(pd.read_csv(REF / "data" / "expected_recovery.csv"), "phq9")
    res2 = fb.evaluate(rows, rules=rules, expected={"phq9": fitted})
    (alert2,) = [a for a in res2.alerts if a.kind == "not-on-track"]
    assert alert2.values["reliable_difference"] == pytest.approx(
        fb.reliable_change(
            [9.0], [16.0], instrument="phq9", sd_pre=fitted.intake_sd, cutoff_criterion="norms"
        ).reliable_difference
    )
    assert not any("default trajectory" in n and "PHQ-9" in n for n in res2.notes)


def test_bad_archives_get_clear_messages() -> None:
    with pytest.raises(DataError, match="lacks the column"):
        fb.fit_expected_recovery(pd.DataFrame({"session": [1]}), "phq9")
    with pytest.raises(DataError, match="neither a phq9_total column nor"):
        fb.fit_expected_recovery(pd.DataFrame({"client_id": ["a"], "session": [1]}), "phq9")
    with pytest.raises(DataError, match="lacks the Patient Health Questionnaire-9 item column"):
        fb.fit_expected_recovery(pd.DataFrame({"client_id": ["a"], "session": [1], "phq_01": [1]}), "phq9")
    with pytest.raises(DataError, match="no expected recovery for 'bdi'"):
        fb.default_expected_recovery("bdi")
    with pytest.raises(DataError, match="unknown measure"):
        fb.evaluate(pd.DataFrame({"session": [1]}), expected={"bdi": fb.default_expected_recovery()})
