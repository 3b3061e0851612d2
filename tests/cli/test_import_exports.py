"""``lacrima import`` on survey-tool exports (issue 13, points 6-10): workbooks given as REDCap or Qualtrics
exports, automatic format detection, every table of an import written, Excel sheets, and the smaller points
(SPSS names and dates, user-missing counts, REDCap's missing-code form and checkboxes, a failed codebook
write, Qualtrics SPSS exports, the 2016 Qualtrics layout).

Every refusal also shows that nothing was written and that an older output of the same name survived
(see ``conftest.Importer.refused``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest

import lacrima.io as lio

FIXTURES = Path(__file__).parents[1] / "io" / "fixtures"
LONG_DATA = FIXTURES / "redcap_longitudinal_data.csv"
LONG_DICT = FIXTURES / "redcap_longitudinal_dictionary.csv"
CLASSIC_DATA = FIXTURES / "redcap_classic_data.csv"
CLASSIC_DICT = FIXTURES / "redcap_classic_dictionary.csv"
QUALTRICS = FIXTURES / "qualtrics_export.csv"
#: The ``importer`` fixture of conftest.py (``.ok``, ``.refused``, ``.flat``).
Importer = Any


def flat(text: str) -> str:
    return " ".join(text.split())


def csv_to_xlsx(source: Path, target: Path, sheet: str = "Sheet1") -> Path:
    """A CSV file saved as a workbook the way Excel does: every cell as text, one sheet."""
    with source.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    width = max(len(r) for r in rows)
    pd.DataFrame([r + [""] * (width - len(r)) for r in rows]).to_excel(
        target, sheet_name=sheet, header=False, index=False
    )
    return target


# 6. Workbooks given as REDCap or Qualtrics exports ------------------------------------------------------


def test_it_reads_a_redcap_export_saved_as_xlsx_like_the_csv(importer: Importer, tmp_path: Path) -> None:
    book = csv_to_xlsx(LONG_DATA, tmp_path / "records.xlsx")
    _, out = importer.ok(
        book, "--format", "redcap", "--dictionary", LONG_DICT, "--session-instrument", "session_checkin"
    )
    expected = lio.read_redcap(LONG_DATA, LONG_DICT, session_instrument="session_checkin")
    pd.testing.assert_frame_equal(
        lio.read_table(out).data, lio.read_table(_csv(expected.data, tmp_path)).data
    )
    assert len(pd.read_csv(out.with_name("result.sessions.csv"))) == len(expected.sessions)


def _csv(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "expected.csv"
    frame.to_csv(path, index=False)
    return path


def test_it_reads_a_qualtrics_export_saved_as_xlsx(importer: Importer, tmp_path: Path) -> None:
    book = csv_to_xlsx(QUALTRICS, tmp_path / "qualtrics.xlsx")
    result, out = importer.ok(book, "--format", "qualtrics")
    expected = lio.read_qualtrics(QUALTRICS)
    assert pd.read_csv(out)["participant_id"].tolist() == expected.data["participant_id"].tolist()
    assert "IPAddress" not in pd.read_csv(out).columns
    assert "excluded:" in flat(result.output)


def test_it_refuses_a_workbook_that_is_no_qualtrics_or_redcap_export(
    importer: Importer, tmp_path: Path
) -> None:
    book = tmp_path / "plain.xlsx"
    pd.DataFrame({"participant_id": ["P1", "P2"], "age": [30, 41]}).to_excel(book, index=False)
    importer.refused(book, "--format", "qualtrics", match=r"lacks the Qualtrics import-id header row")
    importer.refused(
        book, "--format", "redcap", "--dictionary", LONG_DICT, match=r"has no column 'record_id'"
    )
    broken = tmp_path / "truncated.xlsx"
    broken.write_bytes(book.read_bytes()[:200])
    importer.refused(broken, "--format", "qualtrics", match=r"is not a readable Excel workbook")


# 7. Automatic format detection --------------------------------------------------------------------------


def test_it_recognises_a_qualtrics_export_and_keeps_only_real_responses(importer: Importer) -> None:
    _, out = importer.ok(QUALTRICS)
    table = pd.read_csv(out)
    expected = lio.read_qualtrics(QUALTRICS)
    assert (
        len(table) == len(expected.data) == len(pd.read_csv(QUALTRICS, skiprows=[1, 2])) - expected.n_excluded
    )
    assert not {"IPAddress", "RecipientEmail", "RecipientFirstName", "LocationLatitude"} & set(table.columns)
    assert "Response ID" not in table["participant_id"].tolist()


def test_it_takes_a_dictionary_as_meaning_redcap(importer: Importer) -> None:
    result, out = importer.ok(LONG_DATA, "--dictionary", LONG_DICT)
    assert "repeating instruments read as long tables" in flat(result.output)
    assert "redcap_repeat_instrument" not in pd.read_csv(out).columns


def test_it_refuses_a_redcap_export_without_its_dictionary(importer: Importer) -> None:
    importer.refused(LONG_DATA, match=r"looks like a REDCap export .* pass it with --dictionary")
    importer.refused(
        QUALTRICS,
        "--format",
        "qualtrics",
        "--dictionary",
        LONG_DICT,
        match="a data dictionary belongs to a REDCap export",
    )
    importer.refused(
        QUALTRICS, "--format", "spss", match=r"format must be one of auto, table, redcap, qualtrics"
    )


def test_it_reads_a_redcap_export_as_a_plain_table_when_told_to(importer: Importer) -> None:
    _, out = importer.ok(LONG_DATA, "--format", "table")
    assert len(pd.read_csv(out)) == len(pd.read_csv(LONG_DATA))


# 8. Every table of an import ----------------------------------------------------------------------------


def test_it_writes_sessions_and_repeating_instruments_beside_the_main_table(
    importer: Importer, tmp_path: Path
) -> None:
    data = tmp_path / "data.csv"
    rows = LONG_DATA.read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result, out = importer.ok(data, "--dictionary", LONG_DICT, "--session-instrument", "session_checkin")
    sessions = pd.read_csv(out.with_name("result.sessions.csv"))
    assert sessions["client_id"].tolist() == [101, 101, 102, 102, 102]
    assert sessions["session"].tolist() == [1, 2, 1, 2, 3]
    book = json.loads(out.with_name("result.sessions.codebook.json").read_text(encoding="utf-8"))
    labels = {v["name"]: v["label"] for v in book["variables"]}
    assert labels["chk_cried"] == "Did you cry in this session?"
    assert "table sessions: 5 rows" in flat(result.output)
    # Without a session instrument the check-ins are a repeating instrument of their own.
    _, out = importer.ok(data, "--dictionary", LONG_DICT, out="other.csv")
    assert len(pd.read_csv(out.with_name("other.session_checkin.csv"))) == 5
    assert out.with_name("other.session_checkin.codebook.csv").exists()


def test_it_writes_no_table_at_all_when_one_of_them_cannot_be_written(importer: Importer) -> None:
    _, out = importer.ok(
        LONG_DATA, "--dictionary", LONG_DICT, "--session-instrument", "session_checkin", out="study.sav"
    )
    older = out.read_bytes()
    (importer.out_dir / "study.sessions.sav").unlink()
    (importer.out_dir / "study.sessions.sav").mkdir()
    importer.refused(
        LONG_DATA,
        "--dictionary",
        LONG_DICT,
        "--session-instrument",
        "session_checkin",
        match=r"cannot write .*study\.sessions\.sav: it is a folder",
        out="study.sav",
    )
    assert out.read_bytes() == older


# 9. Excel sheets ----------------------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "study.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"About": ["Study of crying in therapy", "Sheet 'responses' holds the data"]}).to_excel(
            writer, sheet_name="README", index=False
        )
        pd.DataFrame({"participant_id": ["P1", "P2", "P3"], "wai_01": [4, 5, 3]}).to_excel(
            writer, sheet_name="responses", index=False
        )
    return path


def test_it_reads_the_sheet_asked_for(importer: Importer, workbook: Path) -> None:
    result, out = importer.ok(workbook, "--sheet", "responses")
    assert pd.read_csv(out)["wai_01"].tolist() == [4, 5, 3]
    assert "read sheet 'responses'" in flat(result.output)
    _, out = importer.ok(workbook, "--sheet", "1", out="by-position.csv")
    assert len(pd.read_csv(out)) == 3


def test_it_refuses_to_guess_a_sheet_and_lists_those_that_exist(importer: Importer, workbook: Path) -> None:
    importer.refused(workbook, match=r"has 2 sheets \('README', 'responses'\); say which one holds the data")
    importer.refused(
        workbook, "--sheet", "data", match=r"has no sheet 'data'; its sheets are 'README', 'responses'"
    )
    importer.refused(workbook, "--sheet", "7", match=r"sheet position 7 is not among them")


# 10. The smaller points ---------------------------------------------------------------------------------


def test_it_writes_a_hebrew_spss_variable_name_back_to_sav(importer: Importer, tmp_path: Path) -> None:
    source = tmp_path / "hebrew.sav"
    pyreadstat.write_sav(
        pd.DataFrame({"ותק_ב": [33.0, 34.0, 15.0]}), str(source), column_labels=["ותק בשנים"]
    )
    _, out = importer.ok(source, out="again.sav")
    frame, meta = pyreadstat.read_sav(str(out))
    assert list(frame.columns) == ["ותק_ב"] and frame["ותק_ב"].tolist() == [33.0, 34.0, 15.0]
    assert meta.column_names_to_labels["ותק_ב"] == "ותק בשנים"
    bad = tmp_path / "bad.csv"
    bad.write_text("participant_id,1st answer\nP1,3\n", encoding="utf-8")
    importer.refused(
        bad, match=r"SPSS variable names must start with a letter .* rename \['1st answer'\]", out="again.sav"
    )


def test_it_keeps_spss_dates_and_times_from_sav_to_sav(importer: Importer, tmp_path: Path) -> None:
    source = tmp_path / "dates.sav"
    frame = pd.DataFrame(
        {
            "intake": [dt.date(2025, 1, 7), dt.date(2025, 2, 3)],
            "start": [dt.time(9, 30), dt.time(14, 0)],
            "recorded": pd.to_datetime(["2025-01-07 09:31:10", "2025-02-03 14:02:00"]),
        }
    )
    pyreadstat.write_sav(frame, str(source))
    _, out = importer.ok(source, out="dates-again.sav")
    again, meta = pyreadstat.read_sav(str(out))
    assert meta.original_variable_types["intake"].startswith("DATE")
    assert meta.original_variable_types["start"].startswith("TIME")
    assert meta.original_variable_types["recorded"].startswith("DATETIME")
    assert (
        again["intake"].tolist() == frame["intake"].tolist()
        and again["start"].tolist() == frame["start"].tolist()
    )
    cut = tmp_path / "cut.sav"
    cut.write_bytes(source.read_bytes()[:300])
    importer.refused(
        cut, match=r"is not a readable SPSS \.sav file \(damaged or truncated\?\)", out="dates-again.sav"
    )


def test_it_counts_user_missing_values_in_the_notes(importer: Importer, tmp_path: Path) -> None:
    source = tmp_path / "missing.sav"
    frame = pd.DataFrame({"wai_01": [4.0, 99.0, 3.0, 98.0, 99.0], "note": ["a", "NA", "b", "c", "NA"]})
    pyreadstat.write_sav(
        frame, str(source), missing_ranges={"wai_01": [{"lo": 98.0, "hi": 99.0}], "note": ["NA"]}
    )
    result, out = importer.ok(source)
    assert "set 5 SPSS user-missing values to NaN (3 in wai_01, 2 in note)" in flat(result.output)
    table = pd.read_csv(out)
    assert table["wai_01"].isna().sum() == 3 and table["note"].isna().sum() == 2
    # 99 and 98 are declared missing; 9 is not, and is off the WAI-SR's scale.
    frame.loc[2, "wai_01"] = 9.0
    pyreadstat.write_sav(frame, str(source), missing_ranges={"wai_01": [{"lo": 98.0, "hi": 99.0}]})
    importer.refused(
        source,
        "--instrument",
        "wai_sr",
        match=r"row 3, column 'wai_01': item wai_01 has value 9; "
        r"WAI-SR answers run 1-5",
    )


def test_it_parses_redcaps_missing_code_form_as_several_codes(importer: Importer, tmp_path: Path) -> None:
    result, out = importer.ok(
        CLASSIC_DATA, "--dictionary", CLASSIC_DICT, "--missing-code", "UNK, Unknown | NASK, Not asked"
    )
    assert "missing-data codes set to NaN: 1 x UNK (Unknown)" in flat(result.output)
    plain = tmp_path / "plain.csv"
    plain.write_text("participant_id,age,wai_01\nP1,UNK,-99\nP2,NASK,3\nP3,40,4\n", encoding="utf-8")
    result, out = importer.ok(
        plain,
        "--missing-code",
        "-99",
        "--missing-code",
        "UNK, Unknown | NASK, Not asked",
        out="plain-out.csv",
    )
    table = pd.read_csv(out)
    assert table["age"].isna().sum() == 2 and table["wai_01"].isna().sum() == 1
    importer.refused(
        CLASSIC_DATA,
        "--dictionary",
        CLASSIC_DICT,
        match=r"text field has value 'UNK', which is not "
        r"a number; if it is one of the project's missing-data codes, pass it in missing_codes",
    )


def test_it_reads_redcap_missing_code_checkbox_columns_with_labels(
    importer: Importer, tmp_path: Path
) -> None:
    dictionary = tmp_path / "dictionary.csv"
    dictionary.write_text(
        '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
        '"Choices, Calculations, OR Slider Labels"\n'
        "record_id,intake,,text,Record ID,\n"
        'gym,intake,,checkbox,Where do you exercise?,"1, Gym | 2, Park"\n',
        encoding="utf-8",
    )
    data = tmp_path / "data.csv"
    data.write_text(
        "record_id,gym___1,gym___2,gym___unk,intake_complete\n1,1,0,0,2\n2,0,0,1,2\n", encoding="utf-8"
    )
    result, out = importer.ok(data, "--dictionary", dictionary)
    assert pd.read_csv(out)["gym___unk"].tolist() == [0, 1]
    book = pd.read_csv(out.with_suffix(".codebook.csv"))
    assert "Where do you exercise?: missing-data code 'unk'" in book["label"].tolist()
    assert "checkbox columns for missing-data codes read as 0/1" in flat(result.output)
    _, out = importer.ok(data, "--dictionary", dictionary, "--missing-code", "UNK, Unknown", out="coded.csv")
    assert (
        "Where do you exercise?: Unknown (missing-data code UNK)"
        in pd.read_csv(out.with_suffix(".codebook.csv"))["label"].tolist()
    )
    data.write_text("record_id,gym___1,gym___2,gym___unk\n1,1,0,2\n", encoding="utf-8")
    importer.refused(
        data,
        "--dictionary",
        dictionary,
        match=r"column 'gym___unk': checkbox field has value 2; "
        r"its codes are 0 or 1",
    )


def test_it_leaves_nothing_behind_when_the_codebook_cannot_be_written(
    importer: Importer, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("participant_id,age\nP1,30\n", encoding="utf-8")
    (importer.out_dir / "result.codebook.json").mkdir()
    importer.refused(plain, match=r"cannot write .*result\.codebook\.json: it is a folder")


def _qualtrics_sav(path: Path, status: list[float]) -> Path:
    n = len(status)
    frame = pd.DataFrame(
        {
            "StartDate": pd.to_datetime(["2025-03-01 10:00:00"] * n),
            "Status": status,
            "IPAddress": [f"192.0.2.{i}" for i in range(n)],
            "Finished": [1.0] * n,
            "ResponseId": [f"R_{i}" for i in range(n)],
            "RecipientEmail": [f"p{i}@example.org" for i in range(n)],
            "RecipientLastName": ["Rossi"] * n,
            "LocationLatitude": [41.9] * n,
            "LocationLongitude": [12.5] * n,
            "UserLanguage": ["IT"] * n,
            "Q1": [float(i % 5 + 1) for i in range(n)],
        }
    )
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels={"Status": {0.0: "IP Address", 1.0: "Survey Preview"}},
        column_labels={"Q1": "How much did crying help?"},
    )
    return path


def test_it_drops_identifiers_and_previews_from_a_qualtrics_spss_export(
    importer: Importer, tmp_path: Path
) -> None:
    source = _qualtrics_sav(tmp_path / "qualtrics.sav", [0.0, 1.0, 0.0, 0.0])
    result, out = importer.ok(source)
    table = pd.read_csv(out)
    assert table["participant_id"].tolist() == ["R_0", "R_2", "R_3"]
    assert not {"IPAddress", "RecipientEmail", "RecipientLastName", "LocationLatitude"} & set(table.columns)
    assert "excluded: 1 rows (Survey Preview)" in flat(result.output)
    assert table["language"].tolist() == ["it"] * 3
    only_previews = _qualtrics_sav(tmp_path / "previews.sav", [1.0, 1.0])
    importer.refused(only_previews, match=r"has no real responses left after dropping 2 Survey Preview")


def _layout_2016(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def test_it_reads_the_2016_qualtrics_layout_and_refuses_the_legacy_one(
    importer: Importer, tmp_path: Path
) -> None:
    path = tmp_path / "qualtrics-2016.csv"
    path.write_text(
        _layout_2016(
            [
                ["ResponseID", "IPAddress", "RecipientEmail", "Status", "Q1", "Q2_1"],
                [
                    "ResponseID",
                    "IPAddress",
                    "RecipientEmail",
                    "Status",
                    "How old are you?",
                    "Crying helped-Me",
                ],
                [
                    "{'ImportId': 'responseId'}",
                    "{'ImportId': 'ipAddress'}",
                    "{'ImportId': 'panel-RecipientEmail'}",
                    "{'ImportId': 'status'}",
                    "{'ImportId': 'QID1'}",
                    "{'ImportId': 'QID2-1'}",
                ],
                ["R_1", "192.0.2.1", "a@example.org", "0", "34", "4"],
                ["R_2", "192.0.2.2", "b@example.org", "1", "51", "2"],
                ["R_3", "192.0.2.3", "c@example.org", "0", "29", "5"],
            ]
        ),
        encoding="utf-8",
    )
    result, out = importer.ok(path)
    table = pd.read_csv(out)
    assert table["participant_id"].tolist() == ["R_1", "R_3"] and table["Q1"].tolist() == [34, 29]
    assert not {"IPAddress", "RecipientEmail"} & set(table.columns)
    assert "2016 export layout" in flat(result.output)
    legacy = tmp_path / "qualtrics-legacy.csv"
    legacy.write_text(
        "V1,V2,V3,V4,V5,V6,V7,V8,V9,V10,Q1\nResponseID,ResponseSet,Name,ExternalDataReference,EmailAddress,"
        "IPAddress,Status,StartDate,EndDate,Finished,How old?\nR_1,Default,Anonymous,,,192.0.2.1,0,"
        "2015-01-01,2015-01-01,1,34\n",
        encoding="utf-8",
    )
    importer.refused(legacy, match=r"is a Qualtrics export in the legacy layout \(before 2016")
