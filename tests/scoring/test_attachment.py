from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError
from lacrima.instruments import list_instruments, load_instrument
from lacrima.scoring import ATTACHMENT_STYLES, attachment_style, score


def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ecr_anxiety": [2.0, 5.5, 4.0, 6.0, 4.0, np.nan],
            "ecr_avoidance": [3.0, 2.0, 5.0, 6.5, 4.0, 3.0],
        },
        index=list("abcdef"),
    )


def test_it_assigns_the_four_styles_at_the_midpoint_with_ties_low() -> None:
    styles = attachment_style(scores())
    assert styles.name == "attachment_style"
    assert styles.index.equals(scores().index)
    assert styles.iloc[:5].tolist() == [
        "secure",
        "anxious_preoccupied",
        "avoidant_dismissing",
        "fearful",
        "secure",
    ]
    assert pd.isna(styles["f"])
    assert list(styles.cat.categories) == list(ATTACHMENT_STYLES)


def test_it_cuts_at_sample_medians() -> None:
    # medians: anxiety of 2, 5.5, 4, 6, 4 is 4; avoidance of 3, 2, 5, 6.5, 4, 3 is 3.5
    styles = attachment_style(scores(), cut="median")
    assert styles.iloc[:5].tolist() == [
        "secure",
        "anxious_preoccupied",
        "avoidant_dismissing",
        "fearful",
        "avoidant_dismissing",
    ]


def test_it_takes_a_number_or_a_pair_of_cuts() -> None:
    assert attachment_style(scores(), cut=3.0)["a"] == "secure"
    assert attachment_style(scores(), cut=(1.5, 5.0))["c"] == "anxious_preoccupied"
    with pytest.raises(DataError, match="midpoint"):
        attachment_style(scores(), cut="mean")


def test_it_rejects_scores_outside_the_scale() -> None:
    bad = scores()
    bad.loc["b", "ecr_anxiety"] = 40.0
    with pytest.raises(DataError, match="did you pass sums"):
        attachment_style(bad)


def test_it_explains_absent_columns() -> None:
    with pytest.raises(DataError, match="score the ECR first"):
        attachment_style(pd.DataFrame({"x": [1.0]}))


def test_it_scores_ecr_items_when_given_items() -> None:
    assert "ecr_r" in list_instruments()
    ecr = load_instrument("ecr_r")
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.integers(1, 8, size=(25, len(ecr.columns))), columns=ecr.columns)
    from_items = attachment_style(df)
    from_scores = attachment_style(score(df, "ecr_r"))
    pd.testing.assert_series_equal(from_items, from_scores)
