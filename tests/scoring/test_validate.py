from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError
from lacrima.instruments import Instrument
from lacrima.scoring import score, validate


def wai_frame(rows: int = 3, value: object = 3) -> pd.DataFrame:
    return pd.DataFrame({f"wai_{i:02d}": [value] * rows for i in range(1, 13)})


def test_it_accepts_clean_data_with_missing_answers() -> None:
    df = wai_frame().astype(float)
    df.loc[1, "wai_03"] = np.nan
    report = validate(df, "wai_sr")
    assert report.ok
    assert report.missing_columns == ()
    assert report.table().empty


def test_it_lists_every_out_of_range_value_with_row_and_range() -> None:
    df = wai_frame(4)
    df.loc[1, "wai_02"] = 9
    df.loc[3, "wai_07"] = 0
    report = validate(df, "wai_sr")
    assert not report.ok
    assert [(p.row, p.column) for p in report.problems] == [(1, "wai_02"), (3, "wai_07")]
    assert report.problems[0].message == "item wai_02 has value 9; wai_sr answers are whole numbers 1-5"
    assert list(report.table().columns) == ["row", "column", "message"]


def test_it_flags_values_off_the_step() -> None:
    df = wai_frame(2).astype(float)
    df.loc[0, "wai_05"] = 2.5
    report = validate(df, "wai_sr")
    assert [p.column for p in report.problems] == ["wai_05"]
    assert "2.5" in report.problems[0].message


def test_it_flags_non_numeric_values() -> None:
    df = wai_frame(2).astype(object)
    df.loc[0, "wai_01"] = "often"
    df.loc[1, "wai_01"] = "4"  # numeric text is read as its number
    report = validate(df, "wai_sr")
    assert len(report.problems) == 1
    assert "'often', which is not a number" in report.problems[0].message
    assert report.problems[0].row == 0


def test_it_flags_unknown_item_columns_and_absent_ones() -> None:
    df = wai_frame().drop(columns=["wai_12"]).assign(wai_13=3, wai_total=3.0)
    report = validate(df, "wai_sr")
    assert report.unknown_columns == ("wai_13",)
    assert report.missing_columns == ("wai_12",)
    assert "wai_01-wai_12" in report.problems[0].message


def test_it_raises_one_error_listing_everything_when_scoring_strictly() -> None:
    df = wai_frame(3)
    df.loc[0, "wai_01"] = 7
    df.loc[2, "wai_09"] = -1
    df = df.drop(columns=["wai_04"])
    with pytest.raises(DataError) as info:
        score(df, "wai_sr")
    problems = info.value.problems
    assert len(problems) == 3
    text = str(info.value)
    assert "wai_01 has value 7" in text and "wai_09 has value -1" in text and "wai_04" in text


def test_it_flags_answers_to_items_that_were_not_shown(toy: Instrument) -> None:
    df = pd.DataFrame(
        {"cried": [0, 1], "toy_02": [3, 3], "toy_03": [np.nan, 2], "toy_04": [np.nan, 2], "toy_05": [1, 2]}
    ).assign(toy_06=3)
    report = validate(df, toy)
    assert len(report.problems) == 1
    assert report.problems[0].row == 0
    assert "only shown when cried is 1" in report.problems[0].message


def test_it_checks_boolean_items(toy: Instrument) -> None:
    df = pd.DataFrame({"cried": [True, False, 2], **{f"toy_0{i}": [np.nan] * 3 for i in range(2, 7)}})
    report = validate(df, toy)
    assert [(p.row, p.column) for p in report.problems] == [(2, "cried")]
    assert "0 (no) or 1 (yes)" in report.problems[0].message


def test_it_rejects_something_that_is_not_a_dataframe() -> None:
    with pytest.raises(DataError, match="DataFrame"):
        validate([[1, 2]], "wai_sr")  # type: ignore[arg-type]


def test_it_rejects_an_unknown_instrument_id() -> None:
    with pytest.raises(DataError, match="no shipped instrument"):
        validate(wai_frame(), "no_such_scale")
