"""meta() against metafor 3.8-1 (tests/reference/meta.R -> meta.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.crosscultural.meta import MetaRegressionResult, MetaResult, meta, smd_from_groups
from lacrima.errors import ConvergenceWarning, DataError, SmallSampleWarning

REF_DIR = Path(__file__).resolve().parents[1] / "reference"
REF: dict[str, Any] = json.loads((REF_DIR / "meta.json").read_text())
MOLLOY = pd.read_csv(REF_DIR / "data" / "meta_molloy2014.csv")
NORMAND = pd.read_csv(REF_DIR / "data" / "meta_normand1999.csv")
BCG = pd.read_csv(REF_DIR / "data" / "meta_bcg.csv")

TOL = 1e-8  # metafor's reference values were computed at tight tolerances; we agree to ~1e-11
FIT_NAMES = ["DL", "REML", "PM", "ML", "FE", "REML_knha", "DL_knha", "REML_level90"]


def _options(name: str) -> dict[str, Any]:
    return {
        "method": name.split("_")[0],
        "test": "knha" if "knha" in name else "z",
        "level": 0.90 if "level90" in name else 0.95,
    }


def _bcg_log_rr() -> tuple[np.ndarray, np.ndarray]:
    """Log risk ratios of the BCG trials and their variances, computed here from the 2x2 counts."""
    t_pos, t_neg, c_pos, c_neg = (BCG[c].to_numpy(dtype=float) for c in ("tpos", "tneg", "cpos", "cneg"))
    yi = np.log((t_pos / (t_pos + t_neg)) / (c_pos / (c_pos + c_neg)))
    vi = 1 / t_pos - 1 / (t_pos + t_neg) + 1 / c_pos - 1 / (c_pos + c_neg)
    return yi, vi


def _check_fit(res: MetaResult, ref: dict[str, Any], tol: float = TOL) -> None:
    close = {"rel": tol, "abs": tol}
    assert res.k == ref["k"]
    assert res.estimate_z == pytest.approx(ref["b"], **close)
    assert res.se_z == pytest.approx(ref["se"], **close)
    assert res.stat == pytest.approx(ref["zval"], **close)
    assert res.p == pytest.approx(ref["pval"], **close)
    assert res.ci_z == pytest.approx((ref["ci_lb"], ref["ci_ub"]), **close)
    assert res.tau2 == pytest.approx(ref["tau2"], **close)
    assert res.i2 == pytest.approx(ref["I2"], **close)
    assert res.h2 == pytest.approx(ref["H2"], **close)
    assert res.q == pytest.approx(ref["QE"], **close)
    assert res.q_p == pytest.approx(ref["QEp"], **close)
    assert res.pi_z == pytest.approx((ref["pi_lb"], ref["pi_ub"]), **close)
    assert np.allclose(res.weights, ref["weights"], rtol=tol, atol=tol)
    if ref["se_tau2"] is not None:
        assert res.tau2_se == pytest.approx(ref["se_tau2"], **close)
    if "tau2_ci" in ref:
        assert res.tau2_ci == pytest.approx(tuple(ref["tau2_ci"]), **close)
        assert res.i2_ci == pytest.approx(tuple(ref["I2_ci"]), **close)
        assert res.h2_ci == pytest.approx(tuple(ref["H2_ci"]), **close)
    else:
        assert res.tau2_ci is None


@pytest.mark.parametrize("name", FIT_NAMES)
def test_it_matches_metafor_on_correlations(name: str) -> None:
    ref = REF["molloy2014"]["fits"][name]
    res = meta(MOLLOY["ri"], n=MOLLOY["ni"], measure="r", **_options(name))
    assert np.allclose(res.yi, REF["molloy2014"]["yi"], rtol=1e-12)
    assert np.allclose(res.vi, REF["molloy2014"]["vi"], rtol=1e-12)
    _check_fit(res, ref)
    back = ref["transf"]
    assert res.estimate == pytest.approx(back["pred"], rel=TOL)
    assert res.ci == pytest.approx((back["ci_lb"], back["ci_ub"]), rel=TOL)
    assert res.pi == pytest.approx((back["pi_lb"], back["pi_ub"]), rel=TOL)
    assert res.test == _options(name)["test"]
    if res.test == "knha":
        assert res.df == res.k - 1


@pytest.mark.parametrize("name", FIT_NAMES)
def test_it_matches_metafor_on_standardised_mean_differences(name: str) -> None:
    smd = smd_from_groups(
        NORMAND["m1i"], NORMAND["sd1i"], NORMAND["n1i"], NORMAND["m2i"], NORMAND["sd2i"], NORMAND["n2i"]
    )
    res = meta(smd["g"], se=smd["se"], measure="smd", labels=NORMAND["source"], **_options(name))
    _check_fit(res, REF["normand1999"]["fits"][name])
    assert res.estimate == res.estimate_z
    assert res.labels[0] == "Edinburgh"


@pytest.mark.parametrize("name", FIT_NAMES)
def test_it_matches_metafor_on_generic_effects(name: str) -> None:
    yi, vi = _bcg_log_rr()
    res = meta(yi, se=np.sqrt(vi), measure="generic", **_options(name))
    _check_fit(res, REF["bcg"]["fits"][name])


def test_it_computes_hedges_g_like_escalc() -> None:
    smd = smd_from_groups(
        NORMAND["m1i"], NORMAND["sd1i"], NORMAND["n1i"], NORMAND["m2i"], NORMAND["sd2i"], NORMAND["n2i"]
    )
    assert np.allclose(smd["g"], REF["normand1999"]["yi"], rtol=1e-12)
    assert np.allclose(smd["vi"], REF["normand1999"]["vi"], rtol=1e-12)
    assert np.allclose(smd["se"] ** 2, smd["vi"], rtol=1e-14)


def test_it_agrees_with_metafors_default_paule_mandel_tolerance() -> None:
    res = meta(MOLLOY["ri"], n=MOLLOY["ni"], method="PM")
    assert res.tau2 == pytest.approx(REF["molloy2014"]["fits"]["PM_default_tol"]["tau2"], abs=1e-4)


def test_it_estimates_tau2_at_the_boundary() -> None:
    ref = REF["molloy2014"]["subset_tau0"]
    rows = [i - 1 for i in ref["rows"]]
    for method in ("REML", "DL"):
        res = meta(MOLLOY["ri"].iloc[rows], n=MOLLOY["ni"].iloc[rows], method=method)
        assert res.tau2 == 0.0
        _check_fit(res, ref[method])
        assert res.tau2_ci is not None and res.tau2_ci[0] == 0.0


def test_it_warns_with_two_studies_and_still_matches_metafor() -> None:
    ref = REF["molloy2014"]["subset_k2"]["REML"]
    with pytest.warns(SmallSampleWarning, match="only 2 studies"):
        res = meta(MOLLOY["ri"].iloc[:2], n=MOLLOY["ni"].iloc[:2])
    _check_fit(res, ref)


def _check_metareg(res: MetaRegressionResult, ref: dict[str, Any]) -> None:
    close = {"rel": TOL, "abs": TOL}
    coef = res.coefficients
    assert np.allclose(coef["estimate"], ref["b"], rtol=TOL, atol=TOL)
    assert np.allclose(coef["se"], ref["se"], rtol=TOL, atol=TOL)
    assert np.allclose(coef["stat"], ref["zval"], rtol=TOL, atol=TOL)
    assert np.allclose(coef["p"], ref["pval"], rtol=TOL, atol=TOL)
    assert np.allclose(coef["ci_low"], ref["ci_lb"], rtol=TOL, atol=TOL)
    assert np.allclose(coef["ci_high"], ref["ci_ub"], rtol=TOL, atol=TOL)
    assert res.qm == pytest.approx(ref["QM"], **close)
    assert res.qm_p == pytest.approx(ref["QMp"], **close)
    assert list(res.qm_df) == [d for d in ref["QMdf"] if d not in (None, "NA")]
    assert res.tau2 == pytest.approx(ref["tau2"], **close)
    assert res.i2 == pytest.approx(ref["I2"], **close)
    assert res.h2 == pytest.approx(ref["H2"], **close)
    assert res.q == pytest.approx(ref["QE"], **close)
    assert res.q_p == pytest.approx(ref["QEp"], **close)
    assert res.r2 == pytest.approx(ref["R2"], **close)
    assert np.allclose(res.weights, ref["weights"], rtol=TOL, atol=TOL)
    if "tau2_ci" in ref:
        assert res.tau2_ci == pytest.approx(tuple(ref["tau2_ci"]), **close)


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("ablat_REML", ["ablat"]),
        ("ablat_REML_knha", ["ablat"]),
        ("ablat_year_REML", ["ablat", "year"]),
        ("ablat_DL", ["ablat"]),
        ("ablat_ML", ["ablat"]),
        ("ablat_PM", ["ablat"]),
        ("ablat_FE", ["ablat"]),
    ],
)
def test_it_matches_metafor_meta_regression(name: str, columns: list[str]) -> None:
    ref = REF["bcg"]["metareg"][name]
    yi, vi = _bcg_log_rr()
    opts = _options(name.replace("ablat_", "").replace("year_", ""))
    res = meta(yi, se=np.sqrt(vi), measure="generic", moderators=BCG[columns], **opts)
    assert isinstance(res, MetaRegressionResult)
    _check_metareg(res, ref)
    assert list(res.table()["term"]) == ["intercept", *columns]


def test_it_runs_meta_regression_on_fisher_z() -> None:
    ref = REF["molloy2014"]["metareg_meanage"]
    res = meta(MOLLOY["ri"], n=MOLLOY["ni"], moderators=MOLLOY[["meanage"]])
    _check_metareg(res, ref)


def test_it_dummy_codes_text_moderators() -> None:
    yi, vi = _bcg_log_rr()
    band = pd.Series(np.where(BCG["ablat"] > 30, "north", "south"), name="band")
    res = meta(yi, se=np.sqrt(vi), measure="generic", moderators=band.to_frame())
    numeric = meta(
        yi, se=np.sqrt(vi), measure="generic", moderators=(band == "south").astype(float).to_numpy()
    )
    assert list(res.coefficients["term"]) == ["intercept", "band[south]"]
    assert np.allclose(res.coefficients["estimate"], numeric.coefficients["estimate"], rtol=1e-12)


def test_it_gives_a_table_with_studies_and_the_pooled_row() -> None:
    res = meta(MOLLOY["ri"], n=MOLLOY["ni"], labels=MOLLOY["authors"])
    table = res.table()
    assert len(table) == res.k + 1
    assert list(table.columns[:6]) == ["label", "estimate", "se", "ci_low", "ci_high", "weight"]
    assert table["estimate"].iloc[:-1].tolist() == MOLLOY["ri"].tolist()
    assert table["weight"].iloc[:-1].sum() == pytest.approx(100.0)
    pooled = table.iloc[-1]
    assert pooled["estimate"] == res.estimate
    assert (pooled["ci_low"], pooled["ci_high"]) == res.ci
    assert (pooled["pi_low"], pooled["pi_high"]) == res.pi
    assert pooled["n"] == MOLLOY["ni"].sum()
    low, high = table["ci_low"].iloc[:-1], table["ci_high"].iloc[:-1]
    assert ((low < table["estimate"].iloc[:-1]) & (table["estimate"].iloc[:-1] < high)).all()
    d = res.to_dict()
    assert d["type"] == "MetaResult"
    json.dumps(d)


def test_it_warns_when_fisher_scoring_does_not_converge() -> None:
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = meta(MOLLOY["ri"], n=MOLLOY["ni"], control={"max_iter": 1})
    # the bounded likelihood search still finds the REML optimum (metafor stops Fisher scoring once tau^2
    # changes by less than 1e-5, so the two agree to that threshold)
    assert res.tau2 == pytest.approx(REF["molloy2014"]["fits"]["REML"]["tau2"], abs=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"effects": [0.1, 0.2, 0.3], "n": [50, 60]}, "effects has 3 values but n has 2"),
        ({"effects": [0.1, 1.2, 0.3], "n": [50, 60, 70]}, "outside \\(-1, 1\\)"),
        ({"effects": [0.1, -1.0, 0.3], "n": [50, 60, 70]}, "outside \\(-1, 1\\)"),
        ({"effects": [0.1, 0.2, 0.3], "n": [50, 3, 70]}, "n > 3"),
        ({"effects": [0.1, 0.2, math.nan], "n": [50, 60, 70]}, "missing or not finite"),
        ({"effects": [0.1, 0.2, 0.3], "se": [0.1, -0.2, 0.1], "measure": "generic"}, "must be positive"),
        ({"effects": [0.1, 0.2, 0.3], "measure": "smd"}, "needs se"),
        ({"effects": [0.1, 0.2, 0.3]}, "needs n"),
        ({"effects": [0.1, 0.2, 0.3], "n": [50, 60, 70], "se": [0.1, 0.1, 0.1]}, "takes n, not se"),
        ({"effects": [0.1], "n": [50]}, "at least two studies"),
        ({"effects": [0.1, 0.2, 0.3], "n": [50, 60, 70], "method": "HS"}, "method must be"),
        ({"effects": [0.1, 0.2, 0.3], "n": [50, 60, 70], "measure": "or"}, "measure must be"),
        ({"effects": [0.1, 0.2, 0.3], "n": [50, 60, 70], "method": "FE", "test": "knha"}, "random-effects"),
        ({"effects": [0.1, 0.2, 0.3], "n": [50, 60, 70], "labels": ["a"]}, "labels has 1"),
        ({"effects": [0.1, 0.2, 0.3, 0.4], "n": [50, 60, 70, 80], "moderators": [1, 1, 1, 1]}, "collinear"),
        ({"effects": [0.1, 0.2], "n": [50, 60], "moderators": [1, 2]}, "more than 2 studies"),
        ({"effects": [0.1, 0.2, 0.3, 0.4], "n": [50, 60, 70, 80], "moderators": [1, 2, None, 3]}, "missing"),
    ],
)
def test_it_rejects_bad_input_with_a_clear_message(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        meta(**kwargs)


def test_it_rejects_bad_group_summaries() -> None:
    with pytest.raises(DataError, match="same length"):
        smd_from_groups([1, 2], [1, 1], [10, 10], [1, 2], [1, 1], [10])
    with pytest.raises(DataError, match="standard deviations must be positive"):
        smd_from_groups([1], [0], [10], [1], [1], [10])


def test_it_gives_study_intervals_like_escalc_summary() -> None:
    res = meta(MOLLOY["ri"], n=MOLLOY["ni"])
    studies = res.study_table()
    assert np.allclose(studies["ci_low"], REF["molloy2014"]["study_ci_lb"], rtol=1e-10, atol=1e-12)
    assert np.allclose(studies["ci_high"], REF["molloy2014"]["study_ci_ub"], rtol=1e-10, atol=1e-12)


def test_it_labels_studies_from_a_named_index() -> None:
    effects = pd.Series([0.21, 0.35, 0.12], index=["rome", "tel_aviv", "new_york"])
    res = meta(effects, n=[140, 95, 124])
    assert res.labels == ("rome", "tel_aviv", "new_york")
    positional = meta(MOLLOY["ri"].iloc[[0, 2, 4]], n=MOLLOY["ni"].iloc[[0, 2, 4]])
    assert positional.labels == ("1", "2", "3")


def test_it_serialises_meta_regression_results() -> None:
    yi, vi = _bcg_log_rr()
    res = meta(yi, se=np.sqrt(vi), measure="generic", moderators=BCG[["ablat"]])
    d = res.to_dict()
    assert d["type"] == "MetaRegressionResult"
    assert [row["term"] for row in d["coefficients"]] == ["intercept", "ablat"]
    json.dumps(d)
    assert "<table" in res._repr_html_()
