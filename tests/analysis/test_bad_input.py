"""Bad input gets a DataError that says what is wrong (or a typed warning), never a numpy traceback."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.analysis import (
    adjust_p,
    bootstrap_ci,
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
from lacrima.analysis._groups import hedges_j
from lacrima.errors import DataError


@pytest.fixture
def small() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 30
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "z": rng.normal(size=n),
            "const": np.full(n, 3.0),
            "g": np.repeat(["a", "b", "c"], 10),
            "label": pd.array(["text"] * n, dtype="str"),
        }
    )


def test_it_names_a_missing_column_and_the_available_ones(small: pd.DataFrame) -> None:
    for call in (
        lambda: correlate(small, "x", "nope"),
        lambda: compare_groups(small, "nope", "g"),
        lambda: descriptives(small, ["x", "nope"]),
        lambda: moderation(small, "y", "x", "nope"),
        lambda: crosstab_test(small, "g", "nope"),
        lambda: prevalence(small, "nope"),
    ):
        with pytest.raises(
            DataError, match=r"'nope' not found; available columns: x, y, z, const, g, label"
        ) as exc:
            call()
        assert exc.value.problems[0].column == "nope"


def test_it_refuses_a_constant_variable(small: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="'const' is constant"):
        correlate(small, "x", "const")
    with pytest.raises(DataError, match="'const' is constant"):
        moderation(small, "y", "x", "const")
    with pytest.raises(DataError, match="constant within each group"):
        compare_groups(small, "const", "g", groups=("a", "b"))
    with pytest.raises(DataError, match="constant"):
        welch_anova(small, "const", "g")
    with pytest.raises(DataError, match="constant"):
        kruskal(small, "const", "g")


def test_it_refuses_a_partial_correlation_with_too_few_cases(small: pd.DataFrame) -> None:
    few = small.iloc[:5]
    with pytest.raises(DataError, match=r"5 complete case\(s\).*2 covariate\(s\); at least 6"):
        correlate(few, "x", "y", covar=["z", "const"])
    assert correlate(small.iloc[:4], "x", "y").n == 4  # n - 3 = 1 > 0 is enough without covariates


def test_it_refuses_a_covariate_that_explains_a_variable(small: pd.DataFrame) -> None:
    df = small.assign(x2=2 * small["x"] + 1)
    with pytest.raises(DataError, match="fully explained by the covariates"):
        correlate(df, "x", "y", covar="x2")


def test_it_needs_two_cases_per_group_for_welch(small: pd.DataFrame) -> None:
    df = small.copy()
    df.loc[0, "g"] = "solo"
    with pytest.raises(DataError, match=r"'solo' \(n=1\)"):
        compare_groups(df, "x", "g", groups=("a", "solo"))
    with pytest.raises(DataError, match=r"'solo' \(n=1\)"):
        welch_anova(df, "x", "g")
    # rank tests are defined with one case in a group
    assert mann_whitney(df, "x", "g", groups=("a", "solo")).n2 == 1
    assert kruskal(df, "x", "g").n == 30


def test_it_refuses_a_non_numeric_outcome(small: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="'label' is not numeric"):
        compare_groups(small, "label", "g", groups=("a", "b"))
    with pytest.raises(DataError, match="'label' is not numeric"):
        correlate(small, "x", "label")


def test_it_needs_exactly_two_groups(small: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="has 3 level"):
        compare_groups(small, "x", "g")
    with pytest.raises(DataError, match=r"level\(s\) \['d'\] not found"):
        compare_groups(small, "x", "g", groups=("a", "d"))
    res = compare_groups(small, "x", "g", groups=("a", "b"))
    assert res.excluded == 10 and res.groups == ("a", "b")


def test_it_rejects_bad_arguments(small: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="method must be"):
        correlate(small, "x", "y", method="kendall")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="different columns"):
        correlate(small, "x", "y", covar="x")
    with pytest.raises(DataError, match="unknown p-adjustment"):
        adjust_p([0.1, 0.2], method="sidak")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="between 0 and 1"):
        adjust_p([0.1, 1.2])
    with pytest.raises(DataError, match="values other than 0/1"):
        prevalence(small, "x")
    with pytest.raises(DataError, match="at least two columns"):
        correlation_matrix(small, ["x"])
    with pytest.raises(DataError, match="2x1"):
        crosstab_test(small.iloc[:20], "g", "const")
    with pytest.raises(DataError, match="moment_type"):
        descriptives(small, "x", moment_type=4)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="method must be"):
        bootstrap_ci(small, "pearson", columns=["x", "y"], seed=1, method="basic")  # type: ignore[arg-type]


def test_it_counts_what_listwise_deletion_dropped(small: pd.DataFrame) -> None:
    df = small.copy()
    df.loc[[1, 2], "x"] = np.nan
    df.loc[3, "z"] = np.nan
    res = correlate(df, "x", "y", covar="z")
    assert (res.n, res.excluded) == (27, 3)
    tab = descriptives(df, ["x", "z"]).table()
    assert list(tab["n_missing"]) == [2, 1]
    assert tab.loc[0, "pct_missing"] == pytest.approx(100 * 2 / 30)
    grouped = descriptives(df.assign(g=df["g"].where(df.index != 0)), "x", by="g").table()
    assert list(grouped["group"]) == ["a", "b", "c", "<missing>"]
    assert int(grouped["n"].sum() + grouped["n_missing"].sum()) == 30


def test_it_returns_json_ready_results(small: pd.DataFrame) -> None:
    results: list[Any] = [
        correlate(small, "x", "y", covar="z"),
        correlation_matrix(small, ["x", "y", "z"]),
        compare_groups(small, "x", "g", groups=("a", "b")),
        mann_whitney(small, "x", "g", groups=("a", "b")),
        welch_anova(small, "x", "g"),
        kruskal(small, "x", "g"),
        moderation(small, "y", "x", "z", hc3=True),
        descriptives(small, ["x", "y"], by="g"),
        bootstrap_ci(small, "pearson", columns=["x", "y"], seed=1, n_boot=200),
    ]
    for res in results:
        json.dumps(res.to_dict())
        assert isinstance(res.table(), pd.DataFrame) and len(res.table()) >= 1
        assert "<strong>" in res._repr_html_()


def test_it_uses_the_exact_hedges_correction(ref: dict[str, Any]) -> None:
    r = ref["groups_bfi"]
    assert hedges_j(r["n1"] + r["n2"] - 2) == pytest.approx(r["j"], rel=1e-12)
    assert hedges_j(r["n1"] + r["n2"] - 2) != pytest.approx(r["j_approx"], rel=1e-7)


def test_it_handles_a_perfect_correlation_without_numpy_warnings() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [2.0, 4.0, 6.0, 8.0, 10.0]})
    res = correlate(df, "x", "y")
    assert res.r == 1.0 and res.p == 0.0 and res.ci == (1.0, 1.0)
