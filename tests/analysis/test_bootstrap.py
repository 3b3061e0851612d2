"""Bootstrap intervals against boot::boot.ci, given R's own resamples (tests/reference/battery.R)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.analysis import bootstrap_ci, compare_groups, correlate
from lacrima.analysis._bootstrap import bca_interval, influence_regression, percentile_interval
from lacrima.errors import DataError, SmallSampleWarning


def read_reference_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(Path(__file__).resolve().parents[1] / "reference" / "data" / name)


TOL = 1e-8
BFI_COLS = ["extra", "agree", "neuro", "consc"]


@pytest.fixture(scope="module")
def bfi_boot() -> tuple[np.ndarray, pd.DataFrame]:
    return read_reference_csv("battery_boot_bfi_indices.csv").to_numpy() - 1, read_reference_csv(
        "battery_boot_bfi_t.csv"
    )


@pytest.fixture(scope="module")
def mtcars_boot() -> tuple[np.ndarray, pd.DataFrame]:
    return read_reference_csv("battery_boot_mtcars_indices.csv").to_numpy() - 1, read_reference_csv(
        "battery_boot_mtcars_t.csv"
    )


def close(actual: Any, expected: Any, tol: float = TOL) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=tol, atol=tol
    )


@pytest.mark.parametrize(
    ("stat", "column", "key"), [("pearson", "r", "r"), ("partial", "partial", "partial")]
)
def test_it_reproduces_boot_ci_from_rs_resamples(
    bfi: pd.DataFrame,
    ref: dict[str, Any],
    bfi_boot: tuple[np.ndarray, pd.DataFrame],
    stat: str,
    column: str,
    key: str,
) -> None:
    idx, t_r = bfi_boot
    r = ref["boot_bfi"][key]
    cols = BFI_COLS[:2] if stat == "pearson" else BFI_COLS
    complete = bfi.dropna(subset=BFI_COLS)  # R resampled the rows complete on all four columns
    for method, rkey in (("bca", "bca"), ("percentile", "perc")):
        res = bootstrap_ci(complete, stat, columns=cols, seed=1, method=method, resamples=idx)  # type: ignore[arg-type]
        # the statistic evaluated on R's resamples gives R's replicates
        close(res.replicates, t_r[column], tol=1e-12)
        close(res.estimate, r["t0"], tol=1e-12)
        close(res.ci, r[rkey])
        assert (res.n, res.n_boot, res.n_failed) == (ref["boot_bfi"]["n"], ref["boot_bfi"]["R"], 0)
    assert (
        bootstrap_ci(bfi, "partial", columns=BFI_COLS, seed=1, n_boot=200).excluded
        == ref["boot_bfi"]["excluded"]
    )


@pytest.mark.parametrize(("column", "key"), [("r", "r"), ("partial", "partial")])
def test_it_computes_bca_from_rs_replicates(
    ref: dict[str, Any], bfi_boot: tuple[np.ndarray, pd.DataFrame], column: str, key: str
) -> None:
    idx, t_r = bfi_boot
    r = ref["boot_bfi"][key]
    t = t_r[column].to_numpy()
    (lo, hi), _, _ = bca_interval(t, r["t0"], influence_regression(t, idx))
    close([lo, hi], r["bca"])
    close(percentile_interval(t), r["perc"])


def test_it_estimates_influence_by_regression_as_empinf(
    ref: dict[str, Any], bfi_boot: tuple[np.ndarray, pd.DataFrame]
) -> None:
    idx, t_r = bfi_boot
    close(influence_regression(t_r["r"].to_numpy(), idx), ref["boot_bfi"]["r_infl_reg"], tol=1e-7)


@pytest.mark.parametrize(
    ("stat", "cols", "key"), [("pearson", BFI_COLS[:2], "r_jack"), ("partial", BFI_COLS, "partial_jack")]
)
def test_it_matches_bca_with_jackknife_influence(
    bfi: pd.DataFrame,
    ref: dict[str, Any],
    bfi_boot: tuple[np.ndarray, pd.DataFrame],
    stat: str,
    cols: list[str],
    key: str,
) -> None:
    idx, _ = bfi_boot
    complete = bfi.dropna(subset=BFI_COLS)
    res = bootstrap_ci(complete, stat, columns=cols, seed=1, acceleration="jackknife", resamples=idx)
    close(res.ci, ref["boot_bfi"][key]["bca"])


@pytest.mark.parametrize(
    ("stat", "column", "key", "accel"),
    [
        ("mean_difference", "diff", "diff", "regression"),
        ("hedges_g", "g", "g", "regression"),
        ("hedges_g", "g", "g_jack", "jackknife"),
    ],
)
def test_it_reproduces_a_stratified_group_bootstrap(
    mtcars: pd.DataFrame,
    ref: dict[str, Any],
    mtcars_boot: tuple[np.ndarray, pd.DataFrame],
    stat: str,
    column: str,
    key: str,
    accel: str,
) -> None:
    idx, t_r = mtcars_boot
    r = ref["boot_mtcars"][key]
    res = bootstrap_ci(
        mtcars,
        stat,
        columns=["pw", "am"],
        seed=1,
        strata="am",
        acceleration=accel,
        resamples=idx,  # type: ignore[arg-type]
    )
    close(res.replicates, t_r[column], tol=1e-12)
    close(res.estimate, r["t0"], tol=1e-12)
    close(res.ci, r["bca"])
    perc = bootstrap_ci(mtcars, stat, columns=["pw", "am"], seed=1, method="percentile", resamples=idx)
    close(perc.ci, r["perc"])


def test_it_agrees_with_r_within_monte_carlo_error_on_fresh_resamples(
    bfi: pd.DataFrame, ref: dict[str, Any]
) -> None:
    res = bootstrap_ci(bfi, "pearson", columns=["extra", "agree"], n_boot=2000, seed=2024)
    # different complete cases (R used rows complete on four columns), so compare with cor.test's interval
    analytic = correlate(bfi, "extra", "agree")
    assert res.estimate == pytest.approx(analytic.r, abs=1e-12)
    assert res.ci[0] == pytest.approx(analytic.ci[0], abs=0.05)
    assert res.ci[1] == pytest.approx(analytic.ci[1], abs=0.05)
    again = bootstrap_ci(bfi, "pearson", columns=["extra", "agree"], n_boot=2000, seed=2024)
    assert again.ci == res.ci and again.seed == 2024
    assert res.table().loc[0, "ci_low"] == res.ci[0]


def test_it_bootstraps_the_group_difference_of_compare_groups(mtcars: pd.DataFrame) -> None:
    welch = compare_groups(mtcars, "pw", "am")
    res = bootstrap_ci(mtcars, "hedges_g", columns=["pw", "am"], seed=3, strata="am", n_boot=500)
    assert res.estimate == pytest.approx(welch.hedges_g, abs=1e-12)
    diff = bootstrap_ci(mtcars, "mean_difference", columns=["pw", "am"], seed=3, strata="am", n_boot=500)
    assert diff.estimate == pytest.approx(welch.mean_difference, abs=1e-12)


def test_it_accepts_a_vectorised_or_plain_statistic(bfi: pd.DataFrame) -> None:
    def mean_diff(data: np.ndarray) -> np.ndarray:
        return np.mean(data[..., 0] - data[..., 1], axis=-1)

    def mean_diff_one(data: np.ndarray) -> np.ndarray:
        return np.asarray(np.mean(data[:, 0] - data[:, 1]))

    a = bootstrap_ci(bfi, mean_diff, columns=["agree", "extra"], seed=5, n_boot=300, acceleration="jackknife")
    b = bootstrap_ci(
        bfi,
        mean_diff_one,
        columns=["agree", "extra"],
        seed=5,
        n_boot=300,
        vectorized=False,
        acceleration="jackknife",
    )
    close(a.replicates, b.replicates, tol=1e-12)
    assert a.ci == pytest.approx(b.ci, abs=1e-12)
    assert a.statistic == "mean_diff"


def test_it_spearman_bootstrap_starts_from_the_spearman_estimate(bfi: pd.DataFrame) -> None:
    res = bootstrap_ci(bfi, "spearman", columns=["neuro", "agree"], seed=9, n_boot=200)
    assert res.estimate == pytest.approx(correlate(bfi, "neuro", "agree", method="spearman").r, abs=1e-12)
    part = bootstrap_ci(bfi, "partial_spearman", columns=BFI_COLS, seed=9, n_boot=200)
    expected = correlate(bfi, "extra", "agree", covar=["neuro", "consc"], method="spearman").r
    assert part.estimate == pytest.approx(expected, abs=1e-12)


def test_it_rejects_bad_bootstrap_arguments(bfi: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="unknown statistic"):
        bootstrap_ci(bfi, "median", columns=["agree", "extra"], seed=1)
    with pytest.raises(DataError, match=r"columns=\[x, y\]"):
        bootstrap_ci(bfi, "pearson", columns=["agree"], seed=1)
    with pytest.raises(DataError, match="'nope' not found"):
        bootstrap_ci(bfi, "pearson", columns=["agree", "nope"], seed=1)
    with pytest.raises(DataError, match="exactly two groups"):
        bootstrap_ci(bfi, "mean_difference", columns=["agree", "educ3"], seed=1)
    with pytest.raises(DataError, match="resamples must be"):
        bootstrap_ci(
            bfi, "pearson", columns=["agree", "extra"], seed=1, resamples=np.zeros((10, 3), dtype=int)
        )


def test_it_needs_more_resamples_than_cases_for_regression_bca(bfi: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="more resamples than cases"):
        bootstrap_ci(bfi, "pearson", columns=["agree", "extra"], seed=1, n_boot=100)
    res = bootstrap_ci(
        bfi, "pearson", columns=["agree", "extra"], seed=1, n_boot=100, acceleration="jackknife"
    )
    assert res.n_boot == 100 and np.isfinite(res.acceleration)


def test_it_counts_failed_replicates_and_leaves_them_out() -> None:
    # with 6 cases, some resamples repeat one case only -> constant x -> NaN correlation
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [2.0, 1.0, 4.0, 3.0, 6.0, 5.0]})
    res = bootstrap_ci(df, "pearson", columns=["x", "y"], seed=4, n_boot=50_000, method="percentile")
    assert res.n_failed == int(np.sum(~np.isfinite(res.replicates))) and res.n_failed > 0
    assert np.isfinite(res.ci[0]) and np.isfinite(res.se)


def test_it_warns_when_endpoints_are_extreme_order_statistics(bfi: pd.DataFrame) -> None:
    with pytest.warns(SmallSampleWarning, match="extreme order statistics"):
        res = bootstrap_ci(bfi, "pearson", columns=["agree", "extra"], seed=1, n_boot=20, method="percentile")
    assert res.ci[0] == res.replicates.min() and res.ci[1] == res.replicates.max()


def test_it_warns_when_bca_is_undefined(bfi: pd.DataFrame) -> None:
    def minimum(data: np.ndarray) -> np.ndarray:  # no resample lies below the sample minimum: z0 = -inf
        return np.min(data[..., 0], axis=-1)

    with pytest.warns(SmallSampleWarning, match="BCa interval is undefined"):
        res = bootstrap_ci(bfi, minimum, columns=["agree"], seed=1, n_boot=500)
    assert np.isnan(res.ci[0]) and np.isnan(res.ci[1])
