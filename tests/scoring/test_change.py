"""Reliable change against a worked example computed by hand from Jacobson & Truax (1991).

Worked example (lower scores are better), sd_pre = 7.5, reliability = 0.88:
  SE_diff = 7.5 * sqrt(2) * sqrt(1 - 0.88) = 7.5 * sqrt(0.24) = 3.6742346...
  smallest reliable change = 1.96 * 3.6742346 = 7.2015...
  clinical (m1, s1) = (20, 7.5), functional (m0, s0) = (6, 4.5)
  cut-off a = 20 - 2 * 7.5 = 5;  b = 6 + 2 * 4.5 = 15;
  c = (7.5 * 6 + 4.5 * 20) / (7.5 + 4.5) = 135 / 12 = 11.25
  p1: 24 -> 10,   change -14,  RCI = -14 / 3.6742346 = -3.8104  reliable; ends below c from above: recovered
  p2: 24 -> 14,   change -10,  RCI = -2.7217                   reliable; 14 > 11.25: improved (b: recovered)
  p3: 18 -> 12,   change -6,   RCI = -1.6330                   unchanged
  p4: 15 -> 25,   change +10,  RCI = +2.7217                   deteriorated
  p5: 10 -> 2,    change -8,   RCI = -2.1773                   reliable, but started below c: improved
  p6: NaN -> 9                                                  excluded
  p7: 20 -> 12.8, change -7.2, RCI = -1.9596                   just short of 1.96: unchanged
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError
from lacrima.instruments import load_instrument
from lacrima.scoring import CHANGE_CATEGORIES, reliable_change

PRE = pd.Series([24, 24, 18, 15, 10, np.nan, 20], index=[f"p{i}" for i in range(1, 8)], dtype=float)
POST = pd.Series([10, 14, 12, 25, 2, 9, 12.8], index=PRE.index, dtype=float)
HAND = dict(reliability=0.88, sd_pre=7.5, clinical=(20.0, 7.5), functional=(6.0, 4.5))


def test_it_reproduces_the_worked_example() -> None:
    res = reliable_change(PRE, POST, **HAND)
    assert res.se_diff == pytest.approx(7.5 * math.sqrt(0.24), rel=1e-12)
    assert res.reliable_difference == pytest.approx(1.96 * 7.5 * math.sqrt(0.24), rel=1e-12)
    assert res.cutoff == pytest.approx(11.25)
    assert res.cutoff_criterion == "c"
    rci = res.per_person["rci"]
    assert rci["p1"] == pytest.approx(-14 / (7.5 * math.sqrt(0.24)))
    assert rci["p7"] == pytest.approx(-1.959592, abs=1e-6)
    cats = res.per_person["category"]
    assert cats.drop("p6").tolist() == [
        "recovered",
        "improved",
        "unchanged",
        "deteriorated",
        "improved",
        "unchanged",
    ]
    assert pd.isna(cats["p6"])
    assert res.counts == {"recovered": 1, "improved": 2, "unchanged": 2, "deteriorated": 1}
    assert (res.n, res.n_excluded) == (6, 1)
    table = res.table()
    assert table["category"].tolist() == list(CHANGE_CATEGORIES)
    assert table["proportion"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("criterion", "cutoff", "p2"), [("a", 5.0, "improved"), ("b", 15.0, "recovered")])
def test_it_applies_criteria_a_and_b(criterion: str, cutoff: float, p2: str) -> None:
    res = reliable_change(PRE, POST, cutoff_criterion=criterion, **HAND)  # type: ignore[arg-type]
    assert res.cutoff == pytest.approx(cutoff)
    assert res.per_person.loc["p2", "category"] == p2


def test_it_counts_a_score_on_the_cutoff_as_not_crossed() -> None:
    res = reliable_change([24.0], [11.25], **HAND)
    assert res.per_person["category"].tolist() == ["improved"]


def test_it_mirrors_when_higher_is_better() -> None:
    res = reliable_change(
        -PRE,
        -POST,
        reliability=0.88,
        sd_pre=7.5,
        clinical=(-20.0, 7.5),
        functional=(-6.0, 4.5),
        higher_is_better=True,
    )
    assert res.cutoff == pytest.approx(-11.25)
    expected = reliable_change(PRE, POST, **HAND).per_person["category"]
    pd.testing.assert_series_equal(res.per_person["category"], expected)


def test_it_takes_norms_from_an_instrument() -> None:
    norms = load_instrument("phq9").norms["total"]
    pre, post = np.array([18.0, 16.0, 12.0]), np.array([6.0, 14.0, 13.0])
    res = reliable_change(pre, post, sd_pre=5.0, instrument="phq9", cutoff_criterion="norms")
    assert res.reliability == norms.reliability
    assert res.cutoff == norms.cutoff
    assert res.se_diff == pytest.approx(5.0 * math.sqrt(2) * math.sqrt(1 - norms.reliability))
    assert res.per_person["category"].tolist()[0] == "recovered"
    b = reliable_change(pre, post, sd_pre=5.0, instrument="phq9", cutoff_criterion="b")
    assert b.cutoff == pytest.approx(norms.functional_mean + 2 * norms.functional_sd)


def test_it_says_what_is_missing_for_criterion_c() -> None:
    with pytest.raises(DataError, match=r"needs clinical=\(mean, sd\)"):
        reliable_change([18.0], [6.0], sd_pre=5.0, instrument="phq9")
    with pytest.raises(DataError, match="reliability"):
        reliable_change([18.0], [6.0], sd_pre=5.0, cutoff_criterion=10.0)


def test_it_estimates_sd_pre_from_the_data_when_nothing_gives_it() -> None:
    res = reliable_change([10.0, 14.0, 18.0], [9.0, 9.0, 9.0], reliability=0.8, cutoff_criterion=12.0)
    assert res.sd_pre == pytest.approx(4.0)
    assert res.cutoff_criterion == "given"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reliability": 1.0, "sd_pre": 5.0}, "reliability must lie"),
        ({"reliability": 0.8, "sd_pre": 0.0}, "sd_pre must be a positive"),
        ({"reliability": 0.8, "sd_pre": 5.0, "cutoff_criterion": "d"}, "cutoff_criterion must be"),
        ({"reliability": 0.8, "sd_pre": 5.0, "cutoff_criterion": "norms"}, "norms"),
    ],
)
def test_it_rejects_bad_settings(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DataError, match=match):
        reliable_change([1.0, 2.0], [2.0, 3.0], **kwargs)  # type: ignore[arg-type]


def test_it_rejects_mismatched_or_non_numeric_scores() -> None:
    with pytest.raises(DataError, match="pre has 2 scores and post 3"):
        reliable_change([1.0, 2.0], [1.0, 2.0, 3.0], reliability=0.8, sd_pre=1.0, cutoff_criterion=5.0)
    with pytest.raises(DataError, match="not numbers"):
        reliable_change(
            pd.Series(["a", 2]), pd.Series([1, 2]), reliability=0.8, sd_pre=1.0, cutoff_criterion=5.0
        )
