"""Federated pooling equals the concatenated raw data (checked with numpy, scipy and statsmodels directly)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from lacrima.crosscultural.federated import (
    pool_summaries,
    read_site_summary,
    site_summary,
    validate_site_summary,
    write_site_summary,
)
from lacrima.crosscultural.meta import meta
from lacrima.errors import DataError

VARS = ["wai_total", "cry_positive_feelings", "chg_improvement", "ecr_anxiety"]
EXACT = {"rtol": 1e-10, "atol": 1e-12}
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _site_data(site: str, n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "participant_id": [f"{site}-{i:04d}" for i in range(n)],
            "site": site,
            "gender": rng.choice(["woman", "man", "non_binary"], size=n, p=[0.6, 0.37, 0.03]),
            "cried_in_therapy": rng.integers(0, 2, size=n).astype(float),
            "wai_total": 3.5 + shift + 0.5 * latent + rng.normal(scale=0.4, size=n),
            "cry_positive_feelings": 3.0 + 0.4 * latent + rng.normal(scale=0.6, size=n),
            "chg_improvement": 4.0 - shift + 0.6 * latent + rng.normal(scale=0.8, size=n),
            "ecr_anxiety": 3.2 + 2 * shift + rng.normal(scale=1.1, size=n),
        }
    )
    # some missing answers, excluded listwise
    for col in VARS:
        df.loc[rng.choice(n, size=3, replace=False), col] = np.nan
    return df


SITES = {
    "rome": _site_data("rome", 140, 0.0, 1),
    "tel_aviv": _site_data("tel_aviv", 95, 0.3, 2),
    "new_york": _site_data("new_york", 124, -0.2, 3),
    "lisbon": _site_data("lisbon", 61, 0.1, 4),
}
PAIRS = {"H1": ("cry_positive_feelings", "chg_improvement"), "H2": ("wai_total", "chg_improvement")}


def _summaries() -> list[dict[str, Any]]:
    return [
        site_summary(
            df, VARS, site=name, categorical=["gender", "cried_in_therapy"], pairs=PAIRS, created=WHEN
        )
        for name, df in SITES.items()
    ]


def _raw() -> pd.DataFrame:
    """The concatenated listwise-complete rows: what a coordinator would have with the raw data."""
    return pd.concat([df.dropna(subset=VARS) for df in SITES.values()], ignore_index=True)


def test_it_pools_n_means_and_covariance_exactly() -> None:
    pooled = pool_summaries(_summaries())
    raw = _raw()
    X = raw[VARS].to_numpy()
    assert pooled.n == len(raw)
    assert pooled.n_excluded == sum(len(df) for df in SITES.values()) - len(raw)
    np.testing.assert_allclose(pooled.means.to_numpy(), X.mean(axis=0), **EXACT)
    np.testing.assert_allclose(pooled.cov.to_numpy(), np.cov(X, rowvar=False, ddof=1), **EXACT)
    centred = raw[VARS] - raw.groupby("site")[VARS].transform("mean")
    within = centred.to_numpy().T @ centred.to_numpy() / (len(raw) - len(SITES))
    np.testing.assert_allclose(pooled.within_cov.to_numpy(), within, **EXACT)
    table = pooled.table()
    np.testing.assert_allclose(table["sd"], raw[VARS].std(ddof=1), **EXACT)


def test_it_pools_correlations_exactly() -> None:
    pooled = pool_summaries(_summaries())
    raw = _raw()
    res = pooled.correlation("cry_positive_feelings", "chg_improvement")
    ref = stats.pearsonr(raw["cry_positive_feelings"], raw["chg_improvement"])
    assert res.r == pytest.approx(ref.statistic, rel=1e-10)
    assert res.p == pytest.approx(ref.pvalue, rel=1e-8)
    assert res.n == len(raw)
    z = np.arctanh(ref.statistic)
    half = stats.norm.ppf(0.975) / math.sqrt(len(raw) - 3)
    assert res.ci == pytest.approx((math.tanh(z - half), math.tanh(z + half)), rel=1e-10)


def test_it_pools_partial_correlations_exactly() -> None:
    pooled = pool_summaries(_summaries())
    raw = _raw()
    covar = ["wai_total", "ecr_anxiety"]
    res = pooled.correlation("cry_positive_feelings", "chg_improvement", covar=covar)
    Z = sm.add_constant(raw[covar])
    ex = sm.OLS(raw["cry_positive_feelings"], Z).fit().resid
    ey = sm.OLS(raw["chg_improvement"], Z).fit().resid
    assert res.r == pytest.approx(np.corrcoef(ex, ey)[0, 1], rel=1e-10)
    # the partial correlation's t test is the t test of x in y ~ x + covar
    full = sm.OLS(raw["chg_improvement"], sm.add_constant(raw[["cry_positive_feelings", *covar]])).fit()
    assert res.t == pytest.approx(full.tvalues["cry_positive_feelings"], rel=1e-9)
    assert res.p == pytest.approx(full.pvalues["cry_positive_feelings"], rel=1e-8)
    assert res.df == full.df_resid


def test_it_pools_ols_regression_exactly() -> None:
    pooled = pool_summaries(_summaries())
    raw = _raw()
    xs = ["cry_positive_feelings", "wai_total", "ecr_anxiety"]
    res = pooled.regression("chg_improvement", xs)
    ols = sm.OLS(raw["chg_improvement"], sm.add_constant(raw[xs])).fit()
    coef = res.coefficients
    np.testing.assert_allclose(coef["estimate"], ols.params.to_numpy(), **EXACT)
    np.testing.assert_allclose(coef["se"], ols.bse.to_numpy(), **EXACT)
    np.testing.assert_allclose(coef["t"], ols.tvalues.to_numpy(), **EXACT)
    np.testing.assert_allclose(coef["p"], ols.pvalues.to_numpy(), rtol=1e-8, atol=1e-300)
    ci = ols.conf_int().to_numpy()
    np.testing.assert_allclose(coef[["ci_low", "ci_high"]].to_numpy(), ci, **EXACT)
    assert res.r2 == pytest.approx(ols.rsquared, rel=1e-10)
    assert res.adj_r2 == pytest.approx(ols.rsquared_adj, rel=1e-10)
    assert res.f == pytest.approx(ols.fvalue, rel=1e-10)
    assert res.f_p == pytest.approx(ols.f_pvalue, rel=1e-8)
    assert res.sigma == pytest.approx(math.sqrt(ols.scale), rel=1e-10)
    assert res.df_resid == ols.df_resid
    assert list(res.table()["term"]) == ["Intercept", *xs]


def test_it_gives_per_site_correlations_and_their_meta_analysis() -> None:
    pooled = pool_summaries(_summaries())
    sc = pooled.site_correlations("cry_positive_feelings", "chg_improvement")
    for row in sc.itertuples():
        d = SITES[str(row.site)].dropna(subset=VARS)
        assert row.r == pytest.approx(
            stats.pearsonr(d["cry_positive_feelings"], d["chg_improvement"])[0], rel=1e-10
        )
        assert row.n == len(d)
    res = pooled.meta("cry_positive_feelings", "chg_improvement", method="DL")
    direct = meta(sc["r"], n=sc["n"], method="DL")
    assert res.estimate == pytest.approx(direct.estimate, rel=1e-14)
    assert res.labels == tuple(SITES)
    named = pooled.effect_meta("H1", method="DL")
    assert named.estimate == pytest.approx(direct.estimate, rel=1e-12)


def test_it_counts_excluded_rows_and_suppresses_small_cells() -> None:
    df = SITES["rome"]
    summary = site_summary(df, VARS, site="rome", categorical=["gender"], min_cell=5, created=WHEN)
    complete = df.dropna(subset=VARS)
    assert summary["n"] == len(complete)
    assert summary["n_excluded"] == len(df) - len(complete)
    raw_counts = complete["gender"].value_counts()
    cells = summary["counts"]["gender"]
    for level, count in raw_counts.items():
        if count >= 5 and cells[str(level)] is not None:
            assert cells[str(level)] == count
    small = [str(level) for level, count in raw_counts.items() if count < 5]
    assert small, "the simulated data should contain a small cell"
    hidden = {s["level"] for s in summary["suppressed"]}
    assert set(small) <= hidden
    # with one small cell, a second cell is hidden too, so n - shown cannot reveal it
    assert len(hidden) >= 2
    assert all(cells[level] is None for level in hidden)


def test_it_writes_and_reads_summaries_bit_for_bit(tmp_path: Path) -> None:
    summaries = _summaries()
    paths = [write_site_summary(s, tmp_path / f"{s['site']}.json") for s in summaries]
    back = [read_site_summary(p) for p in paths]
    assert back == summaries
    a, b = pool_summaries(summaries), pool_summaries(back)
    assert np.array_equal(a.cov.to_numpy(), b.cov.to_numpy())


def test_it_writes_no_raw_rows_and_no_identifiers(tmp_path: Path) -> None:
    df = SITES["tel_aviv"]
    path = write_site_summary(
        site_summary(df, VARS, site="tel_aviv", categorical=["gender"], pairs=PAIRS, created=WHEN),
        tmp_path / "tel_aviv.json",
    )
    text = path.read_text(encoding="utf-8")
    assert "participant_id" not in text
    assert not any(pid in text for pid in df["participant_id"])
    # no raw value (full-precision continuous scores) appears anywhere in the file
    raw_values = df[VARS].to_numpy().ravel()
    assert not any(repr(float(v)) in text for v in raw_values if not math.isnan(v))
    # and no list in the file equals a raw row
    obj = json.loads(text)
    lists = [obj["means"], *obj["cov"]]
    rows = df[VARS].dropna().to_numpy()
    assert not any(np.allclose(row, lst) for row in rows for lst in lists)
    assert set(obj) == {
        "schema",
        "version",
        "site",
        "n",
        "n_excluded",
        "variables",
        "means",
        "cov",
        "counts",
        "suppressed",
        "min_cell",
        "effects",
        "created",
        "lacrima_version",
    }


def _valid() -> dict[str, Any]:
    return _summaries()[0].to_dict()  # the JSON object, as a mutable copy to break


def _break(change: str) -> dict[str, Any]:
    s = _valid()
    if change == "schema":
        s["schema"] = "something.else"
    elif change == "version":
        s["version"] = 2
    elif change == "missing":
        del s["cov"]
    elif change == "unexpected":
        s["rows"] = [[1, 2, 3, 4]]
    elif change == "asymmetric":
        s["cov"][0][1] += 0.5
    elif change == "not_psd":
        s["cov"][0][1] = s["cov"][1][0] = 10 * math.sqrt(s["cov"][0][0] * s["cov"][1][1])
    elif change == "too_few":
        s["n"] = 4
    elif change == "means":
        s["means"] = s["means"][:-1]
    elif change == "counts":
        s["counts"]["cried_in_therapy"]["1"] += 7
    elif change == "small_cell":
        s["counts"]["cried_in_therapy"] = {"0": s["n"] - 2, "1": 2}
    elif change == "effect":
        s["effects"]["H1"]["r"] = 0.99
    return s


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("schema", "not a lacrima site summary"),
        ("version", "upgrade lacrima"),
        ("missing", "field 'cov' is missing"),
        ("unexpected", "unexpected field 'rows'"),
        ("asymmetric", "not symmetric"),
        ("not_psd", "not positive semi-definite"),
        ("too_few", "smaller than the number of variables"),
        ("means", "means must hold 4 numbers"),
        ("counts", "add up to"),
        ("small_cell", "was not suppressed"),
        ("effect", "covariance matrix gives"),
    ],
)
def test_it_rejects_invalid_summaries_with_reasons(change: str, message: str) -> None:
    assert validate_site_summary(_valid()).ok
    check = validate_site_summary(_break(change))
    assert not check.ok and check.problems
    with pytest.raises(DataError, match=message):
        check.raise_if_invalid()


def test_it_reports_problems_of_every_site_when_pooling() -> None:
    summaries = [s.to_dict() for s in _summaries()]
    summaries[1]["means"] = summaries[1]["means"][:2]
    summaries[2]["cov"][0][1] += 1.0
    with pytest.raises(DataError) as info:
        pool_summaries(summaries)
    text = str(info.value)
    assert "'tel_aviv'" in text and "'new_york'" in text


def test_it_refuses_to_pool_duplicate_sites_or_different_variables() -> None:
    summaries = _summaries()
    with pytest.raises(DataError, match="more than once"):
        pool_summaries([summaries[0], summaries[0]])
    other = site_summary(SITES["lisbon"], VARS[:3], site="porto", created=WHEN)
    with pytest.raises(DataError, match="different variables"):
        pool_summaries([summaries[0], other])
    with pytest.raises(DataError, match="no site summaries"):
        pool_summaries([])


def test_it_pools_variables_given_in_a_different_order() -> None:
    summaries = _summaries()
    reordered = site_summary(SITES["lisbon"], VARS[::-1], site="lisbon", created=WHEN)
    a = pool_summaries(summaries)
    b = pool_summaries([*summaries[:3], reordered])
    np.testing.assert_allclose(a.cov.to_numpy(), b.cov.to_numpy(), **EXACT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variables": ["participant_id", "wai_total"]}, "identifier columns"),
        ({"variables": ["wai_total", "gender"]}, "not numeric"),
        ({"variables": ["wai_total", "nope"]}, "no such column"),
        ({"variables": []}, "variables is empty"),
        ({"variables": VARS, "site": ""}, "non-empty label"),
        ({"variables": VARS, "pairs": {"H9": ("wai_total", "age")}}, "two of the summarised"),
        ({"variables": VARS, "min_cell": 500}, "below min_cell"),
    ],
)
def test_it_rejects_bad_site_summary_requests(kwargs: dict[str, Any], message: str) -> None:
    args = {"site": "rome", **kwargs}
    with pytest.raises(DataError, match=message):
        site_summary(SITES["rome"], **args)


def test_it_rejects_a_site_with_too_few_rows() -> None:
    tiny = SITES["rome"].dropna(subset=VARS).iloc[:4]
    with pytest.raises(DataError, match="needs at least 5"):
        site_summary(tiny, VARS, site="rome", min_cell=1)


def test_it_reports_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        read_site_summary(bad)
    with pytest.raises(DataError, match="no site summary"):
        read_site_summary(tmp_path / "absent.json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(_break("means")), encoding="utf-8")
    with pytest.raises(DataError, match=r"wrong\.json"):
        read_site_summary(wrong)


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=6, max_value=40), min_size=1, max_size=6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_it_pools_any_split_of_the_data_exactly(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = []
    for i, n in enumerate(sizes):
        X = rng.normal(loc=rng.normal(scale=3.0, size=3), scale=rng.uniform(0.5, 2.0, size=3), size=(n, 3))
        frames.append(pd.DataFrame(X, columns=["a", "b", "c"]).assign(site=f"s{i}"))
    summaries = [site_summary(f, ["a", "b", "c"], site=str(f["site"].iloc[0]), created=WHEN) for f in frames]
    pooled = pool_summaries(summaries)
    raw = pd.concat(frames)[["a", "b", "c"]].to_numpy()
    np.testing.assert_allclose(pooled.means.to_numpy(), raw.mean(axis=0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pooled.cov.to_numpy(), np.cov(raw, rowvar=False), rtol=1e-10, atol=1e-10)
    json.dumps(pooled.to_dict())


def test_it_pools_category_counts_and_keeps_suppressed_cells_unknown() -> None:
    summaries = _summaries()
    pooled = pool_summaries(summaries)
    raw = _raw()
    cried = raw["cried_in_therapy"].value_counts()
    assert pooled.counts["cried_in_therapy"] == {"0": int(cried[0.0]), "1": int(cried[1.0])}
    hidden = {s["level"] for summary in summaries for s in summary["suppressed"] if s["variable"] == "gender"}
    assert hidden
    gender = raw["gender"].value_counts()
    for level, count in pooled.counts["gender"].items():
        if level in hidden:
            assert count is None
        else:
            assert count == gender[level]
