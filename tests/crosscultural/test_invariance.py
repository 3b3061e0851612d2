"""Measurement invariance against lavaan 0.6-14 (values from tests/reference/lavaan_hs.R)."""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lacrima.crosscultural.invariance import InvarianceResult, invariance
from lacrima.errors import DataError

REF_DIR = Path(__file__).resolve().parents[1] / "reference"
MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
STEPS = ("configural", "metric", "scalar", "strict")
COLUMNS = [
    "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_low", "rmsea_ci_high", "srmr", "aic", "bic",
    "delta_chisq", "delta_df", "delta_p", "delta_cfi", "delta_rmsea", "decision",
]  # fmt: skip
R_KEYS = {
    "chisq": ("chisq", 1e-3),
    "df": ("df", 0.0),
    "cfi": ("cfi", 1e-4),
    "tli": ("tli", 1e-4),
    "rmsea": ("rmsea", 1e-4),
    "rmsea_ci_low": ("rmsea.ci.lower", 1e-4),
    "rmsea_ci_high": ("rmsea.ci.upper", 1e-4),
    "srmr": ("srmr", 1e-4),
    "aic": ("aic", 1e-3),
    "bic": ("bic", 1e-3),
}


@cache
def reference() -> dict[str, Any]:
    return json.loads((REF_DIR / "lavaan_hs.json").read_text())


@cache
def holzinger() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / "holzinger.csv")


@cache
def result() -> InvarianceResult:
    return invariance(holzinger(), MODEL, group="school")


def test_it_matches_lavaan_at_every_step() -> None:
    table = result().table()
    assert list(table.index) == list(STEPS)
    assert table.index.name == "step"
    assert list(table.columns) == COLUMNS
    for step in STEPS:
        ref = reference()[step]["fit"]
        for col, (rkey, tol) in R_KEYS.items():
            assert table.loc[step, col] == pytest.approx(ref[rkey], abs=tol), (step, col)


def test_it_computes_deltas_and_chen_decisions_from_lavaan_fits() -> None:
    table = result().table()
    assert table.loc["configural", "decision"] == "reference"
    assert np.isnan(table.loc["configural", "delta_chisq"])
    for prev, step in itertools.pairwise(STEPS):
        a, b = reference()[prev]["fit"], reference()[step]["fit"]
        d_chisq, d_df = b["chisq"] - a["chisq"], b["df"] - a["df"]
        assert table.loc[step, "delta_chisq"] == pytest.approx(d_chisq, abs=2e-3)
        assert table.loc[step, "delta_df"] == d_df
        assert table.loc[step, "delta_p"] == pytest.approx(stats.chi2.sf(d_chisq, d_df), abs=1e-5)
        d_cfi, d_rmsea = b["cfi"] - a["cfi"], b["rmsea"] - a["rmsea"]
        assert table.loc[step, "delta_cfi"] == pytest.approx(d_cfi, abs=2e-4)
        assert table.loc[step, "delta_rmsea"] == pytest.approx(d_rmsea, abs=2e-4)
        expected = "holds" if d_cfi >= -0.010 and d_rmsea <= 0.015 else "fails"
        assert table.loc[step, "decision"] == expected


def test_it_matches_lavaan_estimates_of_each_step() -> None:
    for step in STEPS:
        ref = reference()[step]
        pe = pd.DataFrame(ref["estimates"])
        pe["group"] = [ref["group_labels"][g - 1] for g in pe["group"]]
        merged = pe.merge(result().fits[step].table(), on=["group", "lhs", "op", "rhs"], how="inner")
        assert len(merged) == len(pe)
        np.testing.assert_allclose(merged["estimate"], merged["est"], atol=1e-3)
        free = merged[merged["free"]]
        np.testing.assert_allclose(free["se_y"], free["se_x"], rtol=1e-3)


def test_it_frees_latent_means_only_when_intercepts_are_equal() -> None:
    for step, free in (("configural", False), ("metric", False), ("scalar", True), ("strict", True)):
        est = result().fits[step].table()
        means = est[(est["op"] == "~1") & est["lhs"].isin(["visual", "textual", "speed"])]
        assert not means[means["group"] == "Pasteur"]["free"].any()
        assert means[means["group"] == "Grant-White"]["free"].all() == free


@pytest.mark.parametrize("step", ["scalar", "strict"])
def test_it_matches_lavaan_score_tests(step: str) -> None:
    ref = pd.DataFrame(reference()[f"{step}_score"])
    mine = result().fits[step].score_tests()
    assert list(mine["lhs"]) == list(ref["lhs"])
    assert list(mine["op"]) == list(ref["op"])
    assert set(mine["group"]) == {"Grant-White"}
    np.testing.assert_allclose(mine["x2"], ref["X2"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(mine["p"], stats.chi2.sf(ref["X2"], 1), atol=1e-4)


def test_it_finds_partial_scalar_invariance_as_lavaan_group_partial() -> None:
    partial = result().partial("scalar")
    ref = reference()["partial_scalar"]
    table = partial.table()
    assert len(table) == len(ref)
    for i, r in enumerate(ref):
        assert table.loc[i, "chisq"] == pytest.approx(r["chisq"], abs=1e-3)
        assert table.loc[i, "df"] == r["df"]
        assert table.loc[i, "cfi"] == pytest.approx(r["cfi"], abs=1e-4)
        assert table.loc[i, "rmsea"] == pytest.approx(r["rmsea"], abs=1e-4)
        assert (table.loc[i, "decision"] == "holds") == r["holds"]
    assert list(table["freed"].iloc[1:]) == list(ref[-1]["freed"])
    assert partial.freed == tuple(f"{f} [Grant-White]" for f in ref[-1]["freed"])
    assert partial.holds
    assert partial.compared_with == "metric"
    assert partial.fit.chisq == pytest.approx(ref[-1]["chisq"], abs=1e-3)


def test_it_stops_partial_search_at_max_free() -> None:
    partial = result().partial("scalar", max_free=1)
    assert len(partial.freed) == 1
    assert not partial.holds


def test_it_rejects_partial_for_steps_without_a_comparison() -> None:
    with pytest.raises(DataError, match="metric, scalar or strict"):
        result().partial("configural")
    only = invariance(holzinger(), MODEL, "school", steps=("configural", "metric"))
    with pytest.raises(DataError, match="was not fitted"):
        only.partial("scalar")
    assert list(only.table().index) == ["configural", "metric"]


def test_it_counts_listwise_deleted_rows() -> None:
    df = holzinger().copy()
    df.loc[0:4, "x1"] = np.nan
    df.loc[7, "school"] = None
    res = invariance(df, MODEL, "school", steps=("configural",))
    assert res.excluded == 6
    assert sum(res.n) == len(df) - 6
    assert res.fits["configural"].excluded == 6


def test_it_rejects_bad_steps_and_single_groups() -> None:
    with pytest.raises(DataError, match="unknown invariance steps"):
        invariance(holzinger(), MODEL, "school", steps=("configural", "weak"))
    with pytest.raises(DataError, match="in the order"):
        invariance(holzinger(), MODEL, "school", steps=("metric", "configural"))
    one = holzinger().assign(school="all")
    with pytest.raises(DataError, match="at least 2"):
        invariance(one, MODEL, "school")


def test_it_rejects_a_group_smaller_than_the_number_of_variables() -> None:
    df = holzinger().copy()
    df.loc[df.index[:8], "school"] = "tiny"
    with pytest.raises(DataError, match="group 'tiny' has 8 complete cases"):
        invariance(df, MODEL, "school")


def test_it_rejects_an_indicator_constant_within_a_group() -> None:
    df = holzinger().copy()
    df.loc[df["school"] == "Pasteur", "x5"] = 3.0
    with pytest.raises(DataError) as err:
        invariance(df, MODEL, "school")
    assert "constant in group 'Pasteur'" in str(err.value)
    assert err.value.problems[0].column == "x5"


def test_it_serialises_to_json() -> None:
    out = result().to_dict()
    assert out["steps"] == list(STEPS)
    assert set(out["fits"]) == set(STEPS)
    assert "_state" not in out["fits"]["metric"]
    json.dumps(out)
    assert "<strong>InvarianceResult</strong>" in result()._repr_html_()
