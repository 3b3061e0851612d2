"""CFA against lavaan 0.6-14 on HolzingerSwineford1939 (values from tests/reference/lavaan_hs.R)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.crosscultural.cfa import CFAResult, cfa, fit_prepared, prepare_data

REF_DIR = Path(__file__).resolve().parents[1] / "reference"
MODEL = """
# Holzinger & Swineford's three abilities
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6   # verbal tests
speed   =~ x7 + x8 + x9
"""
FIT_KEYS = {
    "chisq": ("chisq", 1e-3),
    "df": ("df", 0.0),
    "pvalue": ("pvalue", 1e-6),
    "cfi": ("cfi", 1e-4),
    "tli": ("tli", 1e-4),
    "rmsea": ("rmsea", 1e-4),
    "rmsea.ci.lower": ("rmsea_ci_low", 1e-4),
    "rmsea.ci.upper": ("rmsea_ci_high", 1e-4),
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
def fitted(name: str) -> CFAResult:
    df = holzinger()
    if name == "single":
        return cfa(df, MODEL)
    if name == "single_rescov":
        return cfa(df, MODEL + "x1 ~~ x4\nx7 ~~ x8")
    if name == "single_listwise":
        na = df.copy()
        na.loc[0:4, "x1"] = np.nan
        na.loc[9, "x9"] = np.nan
        return cfa(na, MODEL)
    if name == "configural":
        return cfa(df, MODEL, group="school")
    equal = {"g4_configural": (), "g4_metric": ("loadings",), "g4_scalar": ("loadings", "intercepts")}[name]
    return fit_prepared(prepare_data(df, MODEL, "school_sex"), equal)


def check_fit(res: CFAResult, ref: dict[str, Any]) -> None:
    mine = res.fit_measures()
    for rkey, (key, tol) in FIT_KEYS.items():
        assert mine[key] == pytest.approx(ref["fit"][rkey], abs=tol), key
    assert res.loglik == pytest.approx(ref["fit"]["logl"], abs=1e-3)
    assert res.npar == ref["fit"]["npar"]
    assert res.n_total == ref["fit"]["ntotal"]
    assert res.baseline_chisq == pytest.approx(ref["fit"]["baseline.chisq"], abs=1e-3)
    assert res.baseline_df == ref["fit"]["baseline.df"]


def check_estimates(res: CFAResult, ref: dict[str, Any], single: bool) -> None:
    pe = pd.DataFrame(ref["estimates"])
    labels = ref["group_labels"] if isinstance(ref["group_labels"], list) else [ref["group_labels"]]
    pe["group"] = ["all" if single else labels[g - 1] for g in pe["group"]]
    merged = pe.merge(res.table(), on=["group", "lhs", "op", "rhs"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    np.testing.assert_allclose(merged["estimate"], merged["est"], atol=1e-3)
    np.testing.assert_allclose(merged["std_all"], merged["std.all"], atol=1e-3)
    free = merged[merged["free"]]
    np.testing.assert_allclose(free["se_y"], free["se_x"], rtol=1e-3)
    np.testing.assert_allclose(free["z_y"], free["z_x"], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(free["ci_low"], free["ci.lower"], atol=1e-3)
    np.testing.assert_allclose(free["ci_high"], free["ci.upper"], atol=1e-3)
    assert free["se_y"].gt(0).all()
    assert merged.loc[~merged["free"], "se_y"].isna().all()


@pytest.mark.parametrize(
    "name",
    ["single", "single_rescov", "single_listwise", "configural", "g4_configural", "g4_metric", "g4_scalar"],
)
def test_it_matches_lavaan_fit_measures_and_estimates(name: str) -> None:
    res = fitted(name)
    ref = reference()[name]
    assert res.converged
    check_fit(res, ref)
    check_estimates(res, ref, single=name.startswith("single"))


def test_it_orders_groups_as_lavaan_and_counts_cases() -> None:
    res = fitted("configural")
    ref = reference()["configural"]
    assert list(res.groups) == ref["group_labels"]
    assert list(res.n) == ref["nobs"]
    assert res.group_column == "school"
    assert res.excluded == 0


def test_it_deletes_incomplete_rows_listwise_and_counts_them() -> None:
    res = fitted("single_listwise")
    assert res.excluded == 6
    assert res.n == (reference()["single_listwise"]["fit"]["ntotal"],)


def test_it_uses_categorical_order_for_groups() -> None:
    df = holzinger().copy()
    df["school"] = pd.Categorical(df["school"], categories=["Grant-White", "Pasteur", "Nowhere"])
    res = cfa(df, MODEL, group="school")
    assert res.groups == ("Grant-White", "Pasteur")
    assert res.chisq == pytest.approx(reference()["configural"]["fit"]["chisq"], abs=1e-3)


def test_it_computes_omega_from_lavaan_estimates() -> None:
    for name in ("single", "configural"):
        ref = pd.DataFrame(reference()[name]["omega"])
        mine = fitted(name).omega()
        assert list(mine.columns) == ["group", "factor", "omega"]
        assert list(mine["factor"]) == list(ref["factor"])
        np.testing.assert_allclose(mine["omega"], ref["omega"], atol=1e-4)


def test_it_serialises_without_internal_state() -> None:
    out = fitted("single").to_dict()
    assert out["type"] == "CFAResult"
    assert "_state" not in out
    assert out["chisq"] == pytest.approx(reference()["single"]["fit"]["chisq"], abs=1e-3)
    json.dumps(out)
    assert "<strong>CFAResult</strong>" in fitted("single")._repr_html_()
