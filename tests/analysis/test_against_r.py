"""Every deterministic number of the battery against R (tests/reference/battery.R -> battery.json)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.analysis import (
    adjust_p,
    compare_groups,
    correlate,
    correlation_matrix,
    crosstab_test,
    descriptives,
    kruskal,
    mann_whitney,
    moderation,
    prevalence,
    welch_anova,
)
from lacrima.errors import SmallSampleWarning

TOL = 1e-8


def close(actual: Any, expected: Any, tol: float = TOL) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=tol, atol=tol
    )


@pytest.mark.parametrize("kind", [1, 2, 3])
def test_it_describes_as_psych_describe(bfi: pd.DataFrame, ref: dict[str, Any], kind: int) -> None:
    r = ref["descriptives"][f"type{kind}"]
    tab = descriptives(bfi, ["agree", "neuro", "age"], moment_type=kind).table()  # type: ignore[arg-type]
    assert list(tab["variable"]) == r["variable"]
    for col in ("n", "mean", "sd", "median", "min", "max", "skew", "kurtosis", "se"):
        close(tab[col], r[col])
    close(tab["n_missing"], 124 - np.asarray(r["n"]))


def test_it_describes_per_group(bfi: pd.DataFrame, ref: dict[str, Any]) -> None:
    r = ref["descriptives"]["by_gender_neuro"]
    tab = descriptives(bfi, "neuro", by="gender").table()
    assert list(tab["group"]) == r["group"]
    for col in ("n", "mean", "sd", "skew", "kurtosis"):
        close(tab[col], r[col])


def test_it_gives_wilson_intervals_as_prop_test(bfi: pd.DataFrame, ref: dict[str, Any]) -> None:
    overall = prevalence(bfi, "high_neuro").table().iloc[0]
    r = ref["prevalence"]["all"]
    assert overall["count"] == r["count"] and overall["n"] == r["n"]
    assert overall["n_missing"] == 124 - r["n"]
    close([overall["estimate"], overall["ci_low"], overall["ci_high"]], [r["estimate"], *r["ci"]])
    tab = prevalence(bfi, "high_neuro", by="gender").table()
    for (_, row), rg in zip(tab.iterrows(), ref["prevalence"]["by_gender"], strict=True):
        assert row["group"] == rg["group"] and row["n"] == rg["n"]
        close([row["estimate"], row["ci_low"], row["ci_high"]], [rg["estimate"], *rg["ci"]])


def test_it_matches_cor_test_pearson(bfi: pd.DataFrame, ref: dict[str, Any]) -> None:
    r = ref["pearson"]
    res = correlate(bfi, "extra", "agree")
    close([res.r, res.t, res.df, res.p, *res.ci], [r["r"], r["t"], r["df"], r["p"], *r["ci"]])
    assert res.n == r["n"] and res.excluded == 124 - r["n"]


def test_it_matches_cor_test_spearman(bfi: pd.DataFrame, ref: dict[str, Any]) -> None:
    r = ref["spearman"]
    res = correlate(bfi, "neuro", "agree", method="spearman")
    close([res.r, res.p, *res.ci], [r["r"], r["p"], *r["ci"]])
    assert res.n == r["n"]


@pytest.mark.parametrize("key", ["partial", "partial_spearman", "partial_one"])
def test_it_matches_psych_partial_r(bfi: pd.DataFrame, ref: dict[str, Any], key: str) -> None:
    r = ref[key]
    covar = [r["covar"]] if isinstance(r["covar"], str) else r["covar"]
    res = correlate(bfi, r["x"], r["y"], covar=covar, method=r["method"])
    close([res.r, res.t, res.p, *res.ci], [r["r"], r["t"], r["p"], *r["ci"]])
    assert (res.n, res.df, res.excluded) == (r["n"], r["df"], r["excluded"])
    assert res.covar == tuple(covar)


def test_it_builds_a_tidy_correlation_table(bfi: pd.DataFrame, ref: dict[str, Any]) -> None:
    mat = correlation_matrix(bfi, ["extra", "agree", "neuro"], p_adjust="holm")
    tab = mat.table()
    assert list(zip(tab["x"], tab["y"], strict=True)) == [
        ("extra", "agree"),
        ("extra", "neuro"),
        ("agree", "neuro"),
    ]
    close(tab.loc[0, "estimate"], ref["pearson"]["r"])
    close(tab["p_adjusted"], adjust_p(tab["p"].to_numpy(), "holm"))
    wide = mat.matrix()
    close(wide.loc["agree", "extra"], ref["pearson"]["r"])
    assert wide.loc["neuro", "neuro"] == 1.0


@pytest.mark.parametrize("key", ["groups_bfi", "groups_mtcars"])
def test_it_matches_welch_t_test_and_hedges_g(
    bfi: pd.DataFrame, mtcars: pd.DataFrame, ref: dict[str, Any], key: str
) -> None:
    r = ref[key]
    data = bfi if key == "groups_bfi" else mtcars
    group = "gender" if key == "groups_bfi" else "am"
    res = compare_groups(data, r["dv"], group)
    assert res.groups == (r["g1"], r["g2"])
    close([res.t, res.df, res.p, *res.ci], [r["t"], r["df"], r["p"], *r["diff_ci"]])
    close([res.cohens_d, res.hedges_g, *res.g_ci], [r["d"], r["g"], *r["g_ci"]])
    close(res.means["n"], [r["n1"], r["n2"]])
    close(res.means["mean"], [r["mean1"], r["mean2"]])
    close(res.means["sd"], [r["sd1"], r["sd2"]])
    row = res.table().iloc[0]
    assert row["estimate"] == res.mean_difference and row["n"] == r["n1"] + r["n2"]


@pytest.mark.parametrize("key", ["groups_bfi", "groups_mtcars"])
def test_it_matches_wilcox_test(
    bfi: pd.DataFrame, mtcars: pd.DataFrame, ref: dict[str, Any], key: str
) -> None:
    r = ref[key]
    data, group = (bfi, "gender") if key == "groups_bfi" else (mtcars, "am")
    res = mann_whitney(data, r["dv"], group)
    close([res.u, res.p, res.rank_biserial], [r["w"], r["w_p"], r["rank_biserial"]])
    assert res.exact == r["w_exact"]


def test_it_matches_wilcox_test_without_exactness_or_correction(
    mtcars: pd.DataFrame, ref: dict[str, Any]
) -> None:
    res = mann_whitney(mtcars, "pw", "am", exact=False, correct=False)
    close(res.p, ref["groups_mtcars"]["w_p_normal_nocorrect"])


def test_it_matches_oneway_test_and_kruskal_test(bfi: pd.DataFrame, ref: dict[str, Any]) -> None:
    r = ref["several"]
    w = welch_anova(bfi, "agree", "educ3")
    close(
        [w.f, w.df1, w.df2, w.p, w.eta_squared, w.omega_squared],
        [r["f"], r["df1"], r["df2"], r["p"], r["eta2"], r["omega2"]],
    )
    k = kruskal(bfi, "agree", "educ3")
    close([k.h, k.df, k.p, k.epsilon_squared], [r["h"], r["h_df"], r["h_p"], r["epsilon2"]])
    assert k.n == r["n"] and k.excluded == 124 - r["n"]


def test_it_matches_chisq_and_fisher_test(bfi: pd.DataFrame, ref: dict[str, Any]) -> None:
    r = ref["crosstab"]
    yates = crosstab_test(bfi, "gender", "young")
    close([yates.chi2, yates.p, yates.df], [r["chi2_yates"], r["p_yates"], r["df"]])
    assert yates.correct
    plain = crosstab_test(bfi, "gender", "young", correct=False)
    close([plain.chi2, plain.p, plain.cramers_v], [r["chi2"], r["p"], r["cramers_v"]])
    close(
        [yates.fisher_p, yates.odds_ratio, yates.cramers_v], [r["fisher_p"], r["sample_or"], r["cramers_v"]]
    )
    rxc = crosstab_test(bfi, "gender", "educ3")
    close(
        [rxc.chi2, rxc.p, rxc.df, rxc.cramers_v], [r["chi2_rxc"], r["p_rxc"], r["df_rxc"], r["cramers_v_rxc"]]
    )
    assert rxc.fisher_p is None and rxc.excluded == 25


@pytest.mark.parametrize("key", ["moderation_mtcars", "moderation_mtcars_hc3", "moderation_bfi"])
def test_it_matches_lm_simple_slopes_and_johnson_neyman(
    bfi: pd.DataFrame, mtcars: pd.DataFrame, ref: dict[str, Any], key: str
) -> None:
    r = ref[key]
    data = mtcars if "mtcars" in key else bfi
    covar = [r["covar"]] if isinstance(r["covar"], str) else r["covar"]
    res = moderation(data, r["y"], r["x"], r["m"], covar=covar, hc3=r["hc3"])
    assert list(res.coefficients.index) == ["(Intercept)", r["x"], r["m"], f"{r['x']}:{r['m']}", *covar]
    close(res.coefficients["estimate"], r["estimate"])
    close(res.coefficients["se"], r["se"])
    close(res.coefficients["p"], r["p"])
    close(
        [res.r2, res.r2_change, res.f_change, res.p_change, res.df_resid],
        [r["r2"], r["r2_change"], r["f_change"], r["p_change"], r["df_resid"]],
    )
    s = res.simple_slopes
    close(s["m_value"], r["m_values"])
    for col, rcol in [
        ("estimate", "slopes"),
        ("se", "slope_se"),
        ("p", "slope_p"),
        ("ci_low", "slope_ci_low"),
        ("ci_high", "slope_ci_high"),
    ]:
        close(s[col], r[rcol])
    close(res.johnson_neyman.bounds, r["jn_bounds"], tol=1e-7)
    close(r["jn_p_at_bounds"], [0.05, 0.05], tol=1e-10)
    assert (res.n, res.excluded) == (r["n"], r["excluded"])
    assert res.johnson_neyman.observed_range == tuple(r["m_range"])


def test_it_reports_johnson_neyman_regions_within_the_data(mtcars: pd.DataFrame, bfi: pd.DataFrame) -> None:
    # mtcars: the slope of hp is significant (negative) for light cars, up to the first bound, and above
    # the second bound - which lies beyond the heaviest car, so only one region is inside the data
    jn = moderation(mtcars, "mpg", "hp", "wt").johnson_neyman
    low, high = jn.bounds
    assert jn.regions == ((jn.observed_range[0], low),)
    assert high > jn.observed_range[1]
    # bfi: both bounds lie inside the data; extraversion's slope is significant only between them
    # (the interaction is near zero, so its SE - not the slope - shrinks significance at the edges)
    jn2 = moderation(bfi, "agree", "extra", "neuro", covar="age").johnson_neyman
    lo, hi = jn2.observed_range
    assert lo < jn2.bounds[0] < jn2.bounds[1] < hi
    assert jn2.regions == (jn2.bounds,)
    assert list(jn2.table()["region_low"]) == [jn2.bounds[0]]


@pytest.mark.parametrize("method", ["holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none"])
def test_it_adjusts_p_as_p_adjust(ref: dict[str, Any], method: str) -> None:
    r = ref["p_adjust"]
    p = np.array([np.nan if v is None else v for v in r["p"]])
    expected = np.array([np.nan if v is None else v for v in r[method]])
    np.testing.assert_allclose(adjust_p(p, method), expected, rtol=1e-12, atol=1e-15)  # type: ignore[arg-type]


def test_it_adjusts_two_p_values_with_hommel_as_r(ref: dict[str, Any]) -> None:
    close(adjust_p(ref["p_adjust"]["two"]["p"], "hommel"), ref["p_adjust"]["two"]["hommel"])


def test_it_warns_about_small_expected_counts() -> None:
    df = pd.DataFrame({"a": [0, 0, 0, 1, 1, 1, 0, 1], "b": [0, 1, 0, 1, 1, 1, 0, 0]})
    with pytest.warns(SmallSampleWarning, match="expected count"):
        res = crosstab_test(df, "a", "b")
    assert res.fisher_p is not None
