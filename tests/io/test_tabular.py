"""read_table: CSV, TSV, Excel, SPSS and Parquet in; mapping, name matching and validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from lacrima.errors import DataError
from lacrima.instruments import Instrument
from lacrima.io import Codebook, load_mapping, read_table, write_table


def _respondents() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": ["P01", "P02", "P03"],
            "site": ["rome", "rome", "tel_aviv"],
            "age": [34.0, np.nan, 27.0],
            **{f"wai_{i:02d}": [float((i + k) % 5 + 1) for k in range(3)] for i in range(1, 13)},
        }
    )


def _codebook() -> Codebook:
    return Codebook(
        labels={"age": "Age in years", "wai_03": "I believe my therapist likes me"},
        values={"wai_03": {1: "Seldom", 5: "Always"}},
    )


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".sav", ".parquet"])
def test_it_round_trips_every_format_with_its_codebook(tmp_path: Path, suffix: str) -> None:
    df = _respondents()
    written = write_table(df, tmp_path / f"resp{suffix}", codebook=_codebook())
    assert written[0] == tmp_path / f"resp{suffix}"
    result = read_table(tmp_path / f"resp{suffix}", instruments=["wai_sr"])
    pd.testing.assert_frame_equal(result.data, df, check_dtype=False)
    assert result.codebook.labels["age"] == "Age in years"
    assert result.codebook.values["wai_03"][5] == "Always"
    assert result.excluded == {}


def test_it_writes_the_csv_codebook_as_json_and_csv_beside_the_data(tmp_path: Path) -> None:
    written = write_table(_respondents(), tmp_path / "resp.csv", codebook=_codebook())
    assert sorted(p.name for p in written) == ["resp.codebook.csv", "resp.codebook.json", "resp.csv"]
    book = pd.read_csv(tmp_path / "resp.codebook.csv")
    assert set(book["variable"]) == {"age", "wai_03"}
    assert list(tmp_path.glob(".*")) == []


def test_it_reads_tsv_and_matches_item_names_loosely(tmp_path: Path) -> None:
    header = "\t".join(["Participant ID", "WAI_1", "wai2", "Wai_03", *[f"wai_{i:02d}" for i in range(4, 13)]])
    row = "\t".join(["A1", *["3"] * 12])
    path = tmp_path / "resp.tsv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    result = read_table(path, instruments=["wai_sr"])
    assert list(result.data.columns) == ["participant_id", *[f"wai_{i:02d}" for i in range(1, 13)]]
    assert result.data["wai_02"].tolist() == [3.0]
    assert any("WAI_1 -> wai_01" in note for note in result.notes)


def test_it_reads_spss_value_labels_and_turns_user_missing_values_into_nan(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"participant_id": ["a", "b", "c"], "wai_01": [1.0, 99.0, 5.0], "gender": [1.0, 2.0, 1.0]}
    )
    path = tmp_path / "study.sav"
    pyreadstat.write_sav(
        df,
        str(path),
        column_labels={"wai_01": "Goal agreement", "gender": "Gender"},
        variable_value_labels={"gender": {1: "woman", 2: "man"}, "wai_01": {99: "no answer"}},
        missing_ranges={"wai_01": [99]},
    )
    result = read_table(path, instruments=["wai_sr"])
    assert result.data["wai_01"].isna().tolist() == [False, True, False]
    assert result.codebook.values["gender"] == {1: "woman", 2: "man"}
    assert result.codebook.labels["wai_01"] == "Goal agreement"


def test_it_applies_a_yaml_mapping_with_recodes_and_sentinels(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "columns:\n"
        "  ID: participant_id\n"
        "  Q1: {to: wai_01, recode: often}\n"
        "  Q2: {to: wai_02, recode: often}\n"
        "  HowOld: {to: age, missing: [999]}\n"
        "recodes:\n"
        "  often: {Seldom: 1, Sometimes: 2, Fairly often: 3, Very often: 4, Always: 5}\n"
        'missing: [-99, "Don\'t know"]\n'
        "drop: [Notes]\n",
        encoding="utf-8",
    )
    path = _write_csv(
        tmp_path / "r.csv",
        "ID,Q1,Q2,HowOld,Notes\nx1,Seldom,always,31,hi\nx2,-99,Don't know,999,\n",
    )
    result = read_table(path, mapping=mapping, instruments=["wai_sr"])
    assert result.data["wai_01"].tolist()[0] == 1.0
    assert result.data["wai_02"].tolist()[0] == 5.0
    assert result.data.loc[1, ["wai_01", "wai_02", "age"]].isna().all()
    assert "Notes" not in result.data.columns
    assert any("set 3 answers" in note for note in result.notes)


def test_it_accepts_a_flat_mapping_of_columns(tmp_path: Path) -> None:
    mapping = load_mapping({"Q1": "wai_01"})
    assert mapping.columns == {"Q1": "wai_01"}
    path = _write_csv(tmp_path / "r.csv", "participant_id,Q1\np1,2\n")
    assert read_table(path, mapping=mapping, instruments=["wai_sr"]).data["wai_01"].tolist() == [2.0]


def test_it_lists_every_problem_with_row_and_column_in_one_error(tmp_path: Path, ecr: Instrument) -> None:
    path = _write_csv(
        tmp_path / "bad.csv",
        "participant_id,ecr_01,ecr_02,ecr_07,ecr_09\np1,1,2,9,3\np2,often,2,3,3\np1,1,2.5,3,3\n,1,2,3,3\n",
    )
    with pytest.raises(DataError) as info:
        read_table(path, instruments=[ecr])
    problems = {(p.row, p.column): p.message for p in info.value.problems}
    assert problems[(2, "ecr_07")] == "item ecr_07 has value 9; ECR-R answers run 1-7"
    assert "'often', which is not a number" in problems[(3, "ecr_01")]
    assert "2.5" in problems[(4, "ecr_02")]
    assert "appears again (first on row 2)" in problems[(4, "participant_id")]
    assert "empty" in problems[(5, "participant_id")]
    assert "looks like an item of ecr_r" in problems[(None, "ecr_09")]
    assert len(info.value.problems) == 6
    assert "row 2, column 'ecr_07'" in str(info.value)


def test_it_flags_every_answer_of_a_file_on_the_wrong_scale(tmp_path: Path) -> None:
    rows = "\n".join(f"p{k},{k % 5},{(k + 1) % 5}" for k in range(5))
    path = _write_csv(tmp_path / "zero_based.csv", f"participant_id,wai_01,wai_02\n{rows}\n")
    with pytest.raises(DataError) as info:
        read_table(path, instruments=["wai_sr"])
    zeros = [p for p in info.value.problems if "has value 0; WAI-SR answers run 1-5" in p.message]
    assert [(p.row, p.column) for p in zeros] == [(2, "wai_01"), (6, "wai_02")]


def test_it_hints_at_the_mapping_when_a_negative_code_is_out_of_range(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "r.csv", "participant_id,wai_01\np1,-99\n")
    with pytest.raises(DataError, match="list it under 'missing'"):
        read_table(path, instruments=["wai_sr"])
    result = read_table(path, instruments=["wai_sr"], missing=[-99])
    assert result.data["wai_01"].isna().all()


def test_it_checks_choice_items_and_numeric_ranges(tmp_path: Path, demographics: Instrument) -> None:
    path = _write_csv(tmp_path / "d.csv", "participant_id,gender,age\np1,Woman,30\np2,female,12\n")
    with pytest.raises(DataError) as info:
        read_table(path, instruments=[demographics])
    messages = {(p.row, p.column): p.message for p in info.value.problems}
    assert "its answers are woman, man, non_binary" in messages[(3, "gender")]
    assert "answers run 16-100" in messages[(3, "age")]
    ok = _write_csv(tmp_path / "ok.csv", "participant_id,gender,age\np1,Woman,30\n")
    assert read_table(ok, instruments=[demographics]).data["gender"].tolist() == ["woman"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), ("participant_id,wai_01\n", "no data rows"), ("a,a\n1,2\n", "appears 2 times")],
)
def test_it_rejects_empty_files_and_bad_headers(tmp_path: Path, content: str, message: str) -> None:
    path = _write_csv(tmp_path / "x.csv", content)
    with pytest.raises(DataError, match=message):
        read_table(path)


def test_it_reports_ragged_rows_and_absent_mapped_columns(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "x.csv", "participant_id,wai_01\np1,2,7\np2\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert [p.row for p in info.value.problems] == [2, 3]
    ok = _write_csv(tmp_path / "y.csv", "participant_id,wai_01\np1,2\n")
    with pytest.raises(DataError, match="names column 'Q9'"):
        read_table(ok, mapping={"Q9": "wai_02"})


def test_it_refuses_unknown_extensions_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"cannot read \.json"):
        read_table(_write_csv(tmp_path / "x.json", "{}"))
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "absent.csv")


def test_it_numbers_excel_rows_as_the_spreadsheet_does(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    pd.DataFrame({"participant_id": ["p1", "p2"], "wai_01": [2, 8]}).to_excel(path, index=False)
    with pytest.raises(DataError) as info:
        read_table(path, instruments=["wai_sr"])
    assert [(p.row, p.column) for p in info.value.problems] == [(3, "wai_01")]


def test_it_lists_every_problem_of_a_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "columns:\n  Q1: {to: wai_01, recode: nope}\n  Q2: wai_01\n  Q3: [1, 2]\ncolour: blue\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        load_mapping(path)
    messages = " | ".join(p.message for p in info.value.problems)
    assert "unknown keys ['colour']" in messages
    assert "recode 'nope' is not defined" in messages
    assert "all mapped to 'wai_01'" in messages
    assert "give a target column name" in messages
    assert len(info.value.problems) == 4


def test_it_matches_names_to_the_right_instrument_and_leaves_instrument_totals_alone(
    tmp_path: Path, ecr: Instrument
) -> None:
    from lacrima.instruments import instrument_from_dict

    def make(id_: str, prefix: str, n: int, hi: int) -> Instrument:
        return instrument_from_dict(
            {
                "id": id_,
                "name": id_,
                "version": "test",
                "prefix": prefix,
                "source": "test",
                "licence": {"name": "test", "redistribute_text": False},
                "languages": ["en"],
                "scale": {"min": 0, "max": hi},
                "items": [{"number": k} for k in range(1, n + 1)],
            }
        )

    phq, ecrs = make("phq9", "phq", 9, 3), make("ecr_s", "ecrs", 12, 7)
    path = _write_csv(
        tmp_path / "r.csv", "participant_id,PHQ9_1,phq_09,PHQ9,ECRS3,ecr_3,ecr_s_4\np1,0,3,14,2,5,6\n"
    )
    data = read_table(path, instruments=[phq, ecrs, ecr]).data
    assert list(data.columns) == [
        "participant_id",
        "phq_01",
        "phq_09",
        "ecrs_03",
        "ecrs_04",
        "ecr_03",
        "PHQ9",
    ]
    assert data["PHQ9"].tolist() == [14]


def test_it_reads_windows_encoded_csv_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes("participant_id,country,wai_01\nRené,Italia,3\n".encode("cp1252"))
    result = read_table(path, instruments=["wai_sr"])
    assert result.data["participant_id"].tolist() == ["René"]
    assert any("read as cp1252" in note for note in result.notes)


def test_it_can_leave_out_columns_that_are_not_mapped(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "r.csv", "id,Q1,extra,WAI_2\np1,2,x,3\n")
    mapping = {"columns": {"id": "participant_id", "Q1": "wai_01"}, "keep_unmapped": False}
    result = read_table(path, mapping=mapping, instruments=["wai_sr"])
    assert list(result.data.columns) == ["participant_id", "wai_01", "wai_02"]
    assert any("left out 1 column not named" in note for note in result.notes)


def test_it_orders_session_tables_as_the_contract_does(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "s.csv", "note,cried,session,site,client_id,therapist_id\nok,1,1,rome,c1,t1\n"
    )
    result = read_table(path)
    assert list(result.data.columns) == ["client_id", "therapist_id", "site", "session", "cried", "note"]
