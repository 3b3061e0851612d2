"""Reliability against psych::alpha, psych::alpha.ci and lavaan::cfa (tests/reference/reliability.R)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError, LacrimaWarning, SingularDataWarning
from lacrima.instruments import load_instrument
from lacrima.scoring import ReliabilityResult, reliability
from lacrima.scoring._reliability import fit_one_factor

REFERENCE = Path(__file__).parents[1] / "reference"
CASES = ["agreeableness", "neuroticism", "agreeableness_small"]


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REFERENCE / "reliability.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def bfi() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "bfi_items.csv")


def run_case(ref: dict[str, Any], bfi: pd.DataFrame, case: str) -> tuple[dict[str, Any], ReliabilityResult]:
    r = ref[case]
    data = bfi.iloc[: r["rows"]]
    return r, reliability(data, r["columns"], reverse=r["reverse"], scale=(1, 6))


@pytest.mark.parametrize("case", CASES)
def test_it_matches_psych_alpha(ref: dict[str, Any], bfi: pd.DataFrame, case: str) -> None:
    r, res = run_case(ref, bfi, case)
    assert res.n == r["n"]
    assert res.n_excluded == r["n_excluded"]
    assert res.alpha == pytest.approx(r["raw_alpha"], abs=1e-10)
    assert res.std_alpha == pytest.approx(r["std_alpha"], abs=1e-10)
    items = res.table("items")
    np.testing.assert_allclose(items["r_drop"], r["r_drop"], atol=1e-10)
    np.testing.assert_allclose(items["alpha_if_dropped"], r["alpha_if_dropped"], atol=1e-10)
    np.testing.assert_allclose(items["std_alpha_if_dropped"], r["std_alpha_if_dropped"], atol=1e-10)
    np.testing.assert_allclose(items["mean"], r["item_mean"], atol=1e-10)
    np.testing.assert_allclose(items["sd"], r["item_sd"], atol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_it_matches_the_feldt_interval_of_psych(ref: dict[str, Any], bfi: pd.DataFrame, case: str) -> None:
    r, res = run_case(ref, bfi, case)
    assert res.alpha_ci[0] == pytest.approx(r["feldt_low"], abs=1e-10)
    assert res.alpha_ci[1] == pytest.approx(r["feldt_high"], abs=1e-10)
    assert r["alpha_ci_low"] == r["feldt_low"]  # psych::alpha.ci agrees with psych::alpha()$feldt


@pytest.mark.parametrize("case", CASES)
def test_it_matches_omega_total_from_lavaan(ref: dict[str, Any], bfi: pd.DataFrame, case: str) -> None:
    # lavaan stops its optimiser a little earlier than we do (our fmin is lower by ~1e-12), which moves
    # loadings by ~1e-6: compare omega to 1e-5 and the parameters to 1e-5.
    r, res = run_case(ref, bfi, case)
    assert res.omega_total == pytest.approx(r["omega_lavaan"], abs=1e-5)
    items = res.table("items")
    np.testing.assert_allclose(items["loading"], r["lavaan_loadings"], atol=1e-5)
    np.testing.assert_allclose(items["residual_variance"], r["lavaan_residuals"], atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_it_reaches_the_lavaan_minimum(ref: dict[str, Any], bfi: pd.DataFrame, case: str) -> None:
    r = ref[case]
    x = bfi.iloc[: r["rows"]][r["columns"]].dropna().to_numpy(dtype=float)
    cov = np.cov(x, rowvar=False, ddof=0)
    fit = fit_one_factor(cov)
    assert fit.converged and not fit.heywood
    assert fit.fmin == pytest.approx(r["lavaan_fmin"], abs=1e-9)
    assert 2 * len(x) * fit.fmin == pytest.approx(r["lavaan_chisq"], rel=1e-7)


@pytest.mark.parametrize("case", CASES)
def test_it_explains_how_psych_omega_tot_differs(ref: dict[str, Any], bfi: pd.DataFrame, case: str) -> None:
    # The docstring says psych::omega(nfactors = 1, fm = "ml")$omega.tot is 1 - sum(u2) / sum(R): the same
    # ML factor (standardised) over the observed total variance of the correlation matrix. Check that claim.
    r, res = run_case(ref, bfi, case)
    x = bfi.iloc[: r["rows"]][r["columns"]].dropna().to_numpy(dtype=float)
    for j, col in enumerate(r["columns"]):
        if col in r["reverse"]:
            x[:, j] = 7 - x[:, j]
    corr = np.corrcoef(x, rowvar=False)
    sd_ml = x.std(axis=0, ddof=0)
    u2 = res.item_total["residual_variance"].to_numpy() / sd_ml**2
    assert 1 - u2.sum() / corr.sum() == pytest.approx(r["psych_omega_ml_tot"], abs=1e-5)
    assert abs(res.omega_total - r["psych_omega_ml_tot"]) > 1e-3


def test_it_summarises_in_a_tidy_table(ref: dict[str, Any], bfi: pd.DataFrame) -> None:
    r, res = run_case(ref, bfi, "agreeableness")
    table = res.table()
    assert list(table.index) == ["alpha", "std_alpha", "omega_total"]
    assert list(table.columns) == ["estimate", "ci_low", "ci_high", "n", "n_excluded"]
    assert table.loc["alpha", "ci_low"] == res.alpha_ci[0]
    assert res.to_dict()["n"] == r["n"]
    assert "omega_total" in res._repr_html_()
    with pytest.raises(DataError, match="summary"):
        res.table("everything")  # type: ignore[arg-type]


def test_it_reverse_keys_like_the_reversed_data(bfi: pd.DataFrame) -> None:
    cols = ["A1", "A2", "A3", "A4", "A5"]
    flipped = bfi[cols].assign(A1=7 - bfi["A1"])
    a = reliability(bfi, cols, reverse=["A1"], scale=(1, 6))
    b = reliability(flipped, cols)
    assert a.alpha == b.alpha and a.omega_total == b.omega_total


def test_it_takes_items_from_an_instrument_subscale() -> None:
    wai = load_instrument("wai_sr")
    rng = np.random.default_rng(11)
    f = rng.normal(size=200)
    df = pd.DataFrame(
        {c: np.clip(np.round(3 + f + rng.normal(size=200)), 1, 5) for c in wai.columns}, index=range(200)
    )
    res = reliability(df, instrument="wai_sr", subscale="bond")
    assert res.items == ("wai_03", "wai_05", "wai_07", "wai_09")
    direct = reliability(df, ["wai_03", "wai_05", "wai_07", "wai_09"], scale=(1, 5))
    assert res.alpha == direct.alpha
    with pytest.raises(DataError, match="say which one"):
        reliability(df, instrument="wai_sr")
    with pytest.raises(DataError, match="no subscale"):
        reliability(df, instrument="wai_sr", subscale="trust")


def test_it_rejects_values_outside_the_scale(bfi: pd.DataFrame) -> None:
    with pytest.raises(DataError) as info:
        reliability(bfi, ["A1", "A2", "A3"], scale=(1, 5))
    assert all("the scale runs 1-5" in p.message for p in info.value.problems)
    assert {p.column for p in info.value.problems} == {"A1", "A2", "A3"}


def test_it_rejects_an_inverted_scale_and_reverse_keys_without_a_scale(bfi: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="lowest < highest"):
        reliability(bfi, ["A1", "A2"], scale=(6, 1))
    with pytest.raises(DataError, match="pass scale"):
        reliability(bfi, ["A1", "A2", "A3"], reverse=["A1"])
    with pytest.raises(DataError, match="not among the items"):
        reliability(bfi, ["A1", "A2", "A3"], reverse=["N1"], scale=(1, 6))


def test_it_rejects_non_numeric_and_unknown_columns(bfi: pd.DataFrame) -> None:
    df = bfi[["A1", "A2", "A3"]].astype(object)
    df.iloc[4, 1] = "agree"
    with pytest.raises(DataError, match="'agree' is not a number"):
        reliability(df, ["A1", "A2", "A3"])
    with pytest.raises(DataError, match="Z9"):
        reliability(bfi, ["A1", "Z9"])
    with pytest.raises(DataError, match="single string"):
        reliability(bfi, "A1")
    with pytest.raises(DataError, match="at least two items"):
        reliability(bfi, ["A1"])


def test_it_rejects_a_constant_item() -> None:
    df = pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [2, 2, 4, 4, 5], "z": [3, 3, 3, 3, 3]})
    with pytest.raises(DataError, match="z have the same value in every complete case"):
        reliability(df, ["x", "y", "z"])


def test_it_needs_three_complete_cases() -> None:
    df = pd.DataFrame({"x": [1, 2, np.nan, 4], "y": [2, np.nan, 4, 4], "z": [3, 1, 2, 5]})
    with pytest.raises(DataError, match=r"only 2 row\(s\) answer all 3 items \(of 4\)"):
        reliability(df, ["x", "y", "z"])


def test_it_leaves_omega_out_for_two_items(bfi: pd.DataFrame) -> None:
    with pytest.warns(LacrimaWarning, match="at least three items"):
        res = reliability(bfi, ["N1", "N2"])
    assert np.isnan(res.omega_total)
    assert np.isnan(res.item_total["alpha_if_dropped"]).all()
    assert 0 < res.alpha < 1


def test_it_warns_about_a_heywood_case() -> None:
    # r12 = r13 = .8 and r23 = .5 need a loading of sqrt(.8 * .8 / .5) > 1 on item 1: its residual
    # variance goes to zero. Data with exactly this covariance: whiten normal draws, then colour them.
    target = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]])
    z = np.random.default_rng(2).normal(size=(200, 3))
    z = (z - z.mean(axis=0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    x = z @ np.linalg.cholesky(target).T
    df = pd.DataFrame(x, columns=["a", "b", "c"])
    with pytest.warns(LacrimaWarning, match="Heywood"):
        res = reliability(df, ["a", "b", "c"])
    assert res.item_total.loc["a", "residual_variance"] < 1e-6


def test_it_reports_a_singular_covariance_matrix() -> None:
    df = pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [2.0, 1, 4, 3, 5]})
    df["c"] = df["a"] + df["b"]
    with pytest.warns(SingularDataWarning, match="linear combination"):
        res = reliability(df, ["a", "b", "c"])
    assert np.isnan(res.omega_total) and np.isfinite(res.alpha)
    assert res.item_total["loading"].isna().all()


def test_it_gives_omega_nan_with_a_warning_on_five_rows() -> None:
    """Five respondents and eight items: omega cannot be fitted; alpha still is, no LinAlgError."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.integers(1, 6, size=(5, 8)).astype(float), columns=[f"x{i}" for i in range(8)])
    with pytest.warns(SingularDataWarning, match="only 5 complete cases for 8 items"):
        res = reliability(df, list(df.columns), scale=(1, 5))
    assert np.isnan(res.omega_total) and res.n == 5
    expected_alpha = 8 / 7 * (1 - df.var().sum() / df.sum(axis=1).var())
    assert res.alpha == pytest.approx(expected_alpha, rel=1e-12)
