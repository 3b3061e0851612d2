"""The shared import steps: cells of plain Python types take a quick route that must agree with pandas."""

from __future__ import annotations

import datetime
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.io._pipeline import _apply_sentinels, _blank_mask, _numbers

SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]

PLAIN: list[Any] = [
    None,
    np.nan,
    "",
    " ",
    "\t\n",
    *SPACES,
    *[f"{s}x{s}" for s in SPACES],
    "x",
    "nan",
    "None",
    "NA",
    " Unknown ",
    "-99",
    " 3 ",
    "3.0",
    "1e400",
    "0x1",
    "1_0",
    "\u0663",
    "18446744073709551615",
    "-9223372036854775809",
    0,
    -99,
    2.5,
    -99.0,
    float("inf"),
    True,
    False,
]
#: Cells that take pandas' own route: a date among them, and numpy scalars.
GENERAL: list[Any] = [*PLAIN[:8], datetime.datetime(2026, 1, 5), np.float64(3.0), np.int64(-99), b" "]


def _reference_blank(values: pd.Series) -> list[bool]:
    obj = values.astype(object)
    blank = obj.isna() | (obj.astype("str").str.strip() == "")
    return blank.fillna(True).astype(bool).tolist()


def _reference_numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype(object), errors="coerce").astype("float64")


@pytest.mark.parametrize("cells", [PLAIN, GENERAL], ids=["plain", "general"])
def test_it_finds_blank_cells_as_pandas_does(cells: list[Any]) -> None:
    values = pd.Series(cells, dtype=object, index=range(2, len(cells) + 2))
    blank = _blank_mask(values)
    assert blank.tolist() == _reference_blank(values)
    assert blank.index.equals(values.index)


def test_it_reads_numbers_as_pandas_does() -> None:
    values = pd.Series(PLAIN, dtype=object, index=range(2, len(PLAIN) + 2), name="age")
    pd.testing.assert_series_equal(_numbers(values), _reference_numbers(values))


@pytest.mark.parametrize("cells", [PLAIN, GENERAL], ids=["plain", "general"])
@pytest.mark.parametrize(
    "codes",
    [[-99], ["NA", " unknown", "none"], [-99, "nan"], [float("nan")]],
    ids=["number", "words", "both", "nan"],
)
def test_it_sets_missing_codes_to_nan_as_pandas_would(cells: list[Any], codes: list[Any]) -> None:
    values = pd.Series(cells, dtype=object, index=range(2, len(cells) + 2))
    numeric = [float(c) for c in codes if not isinstance(c, str) or c == "nan"]
    words = [c.strip().casefold() for c in codes if isinstance(c, str) and c != "nan"]
    hits = pd.Series(False, index=values.index)
    if numeric:
        hits |= _reference_numbers(values).isin(numeric)
    if words:
        text = values.astype(object).astype("str").str.strip().str.casefold()
        hits |= text.isin(words).fillna(False)
    hits &= ~pd.Series(_reference_blank(values), index=values.index)
    masked, count = _apply_sentinels(values, codes)
    assert count == int(hits.sum())
    pd.testing.assert_series_equal(masked, values.mask(hits, np.nan))
