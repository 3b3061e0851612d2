"""Per-site effects and their meta-analyses match metafor (tests/reference/multisite.R)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lacrima.crosscultural.multisite import MultiSiteResult, multisite

REF = Path(__file__).resolve().parents[1] / "reference"
EXPECTED: dict[str, Any] = json.loads((REF / "multisite.json").read_text())

PLAN = {
    "name": "reference plan",
    "hypotheses": [
        {"id": "R1", "test": "correlate", "x": "x", "y": "y", "expect": "positive"},
        {"id": "P1", "test": "correlate", "x": "x", "y": "y", "covar": ["z"], "expect": "positive"},
        {"id": "D1", "test": "compare_groups", "dv": "y", "group": "grp", "groups": [0, 1]},
        {
            "id": "O1",
            "test": "crosstab",
            "a": "gender",
            "b": "cried_in_therapy",
            "levels": {"gender": ["man", "woman"]},
        },
    ],
}


@pytest.fixture(scope="module")
def result() -> MultiSiteResult:
    data = pd.read_csv(REF / "data" / "multisite.csv")
    return multisite(data, PLAN, invariance_models={})


def _check(result: MultiSiteResult, hid: str, ref: dict[str, Any]) -> None:
    m = result.meta[hid]
    assert m.k == ref["k"]
    assert list(m.yi) == pytest.approx(ref["yi"], rel=1e-10)
    assert list(m.vi) == pytest.approx(ref["vi"], rel=1e-10)
    assert m.estimate_z == pytest.approx(ref["estimate_raw"], rel=1e-6)
    assert m.se_z == pytest.approx(ref["se"], rel=1e-6)
    assert m.p == pytest.approx(ref["pval"], rel=1e-5)
    assert m.tau2 == pytest.approx(ref["tau2"], abs=1e-8)
    assert m.i2 == pytest.approx(ref["I2"], abs=1e-6)
    assert m.q == pytest.approx(ref["QE"], rel=1e-10)
    assert m.q_p == pytest.approx(ref["QEp"], rel=1e-8)
    row = result.table().query("hypothesis == @hid and source == 'meta'").iloc[0]
    for col, key in (("estimate", "estimate"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub")):
        assert row[col] == pytest.approx(ref[key], rel=1e-6)
    assert row["pi_low"] == pytest.approx(ref["pi_lb"], rel=1e-6)
    assert row["pi_high"] == pytest.approx(ref["pi_ub"], rel=1e-6)


def test_it_skips_the_small_site(result: MultiSiteResult) -> None:
    assert result.sites == tuple(EXPECTED["sites"])
    assert not result.site_n.set_index("site").loc["d", "analysed"]


def test_it_matches_the_per_site_effects(result: MultiSiteResult) -> None:
    per = pd.DataFrame(EXPECTED["per_site"]).set_index("site")
    for site in EXPECTED["sites"]:
        res = result.per_site[site]
        assert res["R1"].estimate == pytest.approx(per.loc[site, "r"], rel=1e-10)
        assert res["P1"].estimate == pytest.approx(per.loc[site, "partial_r"], rel=1e-10)


def test_it_matches_metafor_for_correlations(result: MultiSiteResult) -> None:
    _check(result, "R1", EXPECTED["r"])


def test_it_matches_metafor_for_partial_correlations_with_n_minus_q(result: MultiSiteResult) -> None:
    _check(result, "P1", EXPECTED["partial_r"])


def test_it_matches_metafor_smd_for_hedges_g(result: MultiSiteResult) -> None:
    _check(result, "D1", EXPECTED["hedges_g"])


def test_it_matches_metafor_or_for_odds_ratios(result: MultiSiteResult) -> None:
    _check(result, "O1", EXPECTED["odds_ratio"])
    ref = EXPECTED["odds_ratio"]
    assert result.gender_meta is not None
    assert list(result.gender_meta.yi) == pytest.approx(ref["yi"], rel=1e-10)
    assert result.gender_meta.estimate == pytest.approx(ref["estimate_raw"], rel=1e-6)
    meta_row = result.gender_crying.query("source == 'meta'").iloc[0]
    assert meta_row["odds_ratio"] == pytest.approx(ref["estimate"], rel=1e-6)
    assert meta_row["pi_low"] == pytest.approx(ref["pi_lb"], rel=1e-6)
