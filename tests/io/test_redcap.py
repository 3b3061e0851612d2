"""read_redcap: classic and longitudinal projects, repeating instruments, checkboxes, missing-data codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lacrima.errors import DataError
from lacrima.instruments import Instrument
from lacrima.io import parse_choices, read_redcap


def test_it_parses_choice_strings() -> None:
    assert parse_choices("1, Yes | 0, No") == (("1", "Yes"), ("0", "No"))
    assert parse_choices("-99, Prefer not to say, really|2,B") == (
        ("-99", "Prefer not to say, really"),
        ("2", "B"),
    )


def test_it_reads_a_classic_project(fixtures: Path) -> None:
    result = read_redcap(
        fixtures / "redcap_classic_data.csv",
        fixtures / "redcap_classic_dictionary.csv",
        instruments=["wai_sr"],
        missing_codes="UNK, Unknown | NASK, Not asked",
        mapping={"cried_ever": "cried_in_therapy"},
    )
    data = result.data
    assert data["participant_id"].tolist() == ["1", "2", "3", "4"]
    assert data["age"].isna().tolist() == [False, True, False, False]
    assert data["cried_in_therapy"].tolist() == [1, 0, 1, 1]
    assert data["wai_11"].isna().tolist() == [False, True, False, False]
    assert data["wai_03"].tolist() == [5.0, 2.0, 5.0, 3.0]
    assert data["comments"].tolist()[1] == "Good therapist,\nthanks"
    assert data["wai_complete"].tolist() == [2, 2, 2, 0]
    assert any("1 x UNK (Unknown)" in note for note in result.notes)


def test_it_keeps_checkbox_columns_including_negative_codes(fixtures: Path) -> None:
    result = read_redcap(
        fixtures / "redcap_classic_data.csv",
        fixtures / "redcap_classic_dictionary.csv",
        missing_codes=["UNK"],
    )
    assert result.data["referral____99"].tolist() == [0, 0, 1, 0]
    assert result.codebook.labels["referral____99"].endswith(": Prefer not to say")
    assert result.codebook.values["referral___2"] == {0: "Unchecked", 1: "Checked"}
    assert result.codebook.values["site"] == {1: "Rome", 2: "Tel Aviv", 3: "Boston"}
    assert result.codebook.values["enrolment_complete"] == {0: "Incomplete", 1: "Unverified", 2: "Complete"}
    assert result.codebook.labels["participant_id"] == "Record ID"


def test_it_splits_a_longitudinal_project_into_waves_and_sessions(
    fixtures: Path, checkin: Instrument
) -> None:
    result = read_redcap(
        fixtures / "redcap_longitudinal_data.csv",
        fixtures / "redcap_longitudinal_dictionary.csv",
        instruments=["wai_sr", checkin],
        session_instrument="session_checkin",
        mapping={
            "session_date": "date",
            "chk_cried": "cried",
            "chk_intensity": "chk_02",
            "chk_alliance_1": "chk_03",
            "chk_alliance_2": "chk_04",
            "chk_alliance_3": "chk_05",
        },
    )
    data = result.data
    assert list(zip(data["participant_id"], data["wave"], strict=True)) == [
        ("101", "baseline_arm_1"),
        ("101", "week_4_arm_1"),
        ("102", "baseline_arm_1"),
    ]
    assert "chk_03" not in data.columns
    sessions = result.sessions
    assert sessions is not None
    assert list(sessions.columns[:4]) == ["client_id", "session", "date", "cried"]
    assert sessions["client_id"].tolist() == ["101", "101", "102", "102", "102"]
    assert sessions["session"].tolist() == [1, 2, 1, 2, 3]
    assert sessions["cried"].tolist() == [1.0, 0.0, 0.0, 1.0, 1.0]
    assert sessions["chk_02"].isna().tolist() == [False, True, True, False, False]
    assert sessions["chk_05"].tolist() == [6.0, 6.0, 3.0, 5.0, 6.0]
    assert result.tables == {}


def test_it_returns_other_repeating_instruments_as_long_tables(fixtures: Path) -> None:
    result = read_redcap(
        fixtures / "redcap_longitudinal_data.csv", fixtures / "redcap_longitudinal_dictionary.csv"
    )
    table = result.tables["session_checkin"]
    assert list(table.columns[:3]) == ["participant_id", "wave", "instance"]
    assert table["instance"].tolist() == [1, 2, 1, 2, 3]
    assert result.sessions is None


def test_it_lists_every_bad_value_with_its_line(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "redcap_classic_data.csv").read_text(encoding="utf-8")
    lines = text.split("\n")
    # Line 2 (record 1): site 7 and checkbox 2; line 5 (record 3): age "old".
    lines[1] = lines[1].replace("1,1,1,34,1,", "1,7,1,34,2,", 1)
    lines[4] = lines[4].replace("3,3,1,27,", "3,3,1,old,", 1)
    data = tmp_path / "data.csv"
    data.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_redcap(data, fixtures / "redcap_classic_dictionary.csv", missing_codes="UNK, Unknown")
    found = {(p.row, p.column): p.message for p in info.value.problems}
    assert found[(2, "site")] == "dropdown field has value 7; its codes are 1, 2, 3"
    assert found[(2, "referral___1")] == "checkbox field has value 2; its codes are 0 or 1"
    assert found[(5, "age")].startswith("text field has value 'old', which is not a number")
    assert len(found) == 3


def test_it_checks_item_answers_against_the_instrument(
    fixtures: Path, tmp_path: Path, ecr: Instrument
) -> None:
    dictionary = tmp_path / "dict.csv"
    shutil.copy(fixtures / "redcap_classic_dictionary.csv", dictionary)
    with pytest.raises(DataError) as info:
        read_redcap(
            fixtures / "redcap_classic_data.csv",
            dictionary,
            mapping={"wai_1": "ecr_09", "wai_2": "ecr_01"},
            instruments=[ecr, "wai_sr"],
            missing_codes="UNK, Unknown",
        )
    assert [(p.row, p.column) for p in info.value.problems] == [(None, "wai_1")]
    assert "column 'ecr_09' looks like an item of ecr_r" in info.value.problems[0].message


def test_it_rejects_a_dictionary_without_redcap_headers(fixtures: Path, tmp_path: Path) -> None:
    bad = tmp_path / "dict.csv"
    bad.write_text("name,form\nrecord_id,enrolment\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a REDCap data dictionary"):
        read_redcap(fixtures / "redcap_classic_data.csv", bad)


def test_it_reads_an_api_metadata_export(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "redcap_classic_dictionary.csv").read_text(encoding="utf-8")
    rest = text.split("\n", 1)[1]
    api = (
        "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,"
        "text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,"
        "branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,"
        "field_annotation"
    )
    meta = tmp_path / "metadata.csv"
    meta.write_text(api + "\n" + rest, encoding="utf-8")
    result = read_redcap(fixtures / "redcap_classic_data.csv", meta, missing_codes=["UNK"])
    assert len(result.data) == 4


def test_it_rejects_columns_missing_from_the_dictionary(fixtures: Path, tmp_path: Path) -> None:
    labelled = tmp_path / "labels.csv"
    labelled.write_text("Record ID,Site\n1,Rome\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'record_id'"):
        read_redcap(labelled, fixtures / "redcap_classic_dictionary.csv")
    extra = tmp_path / "extra.csv"
    extra.write_text("record_id,site,mystery\n1,1,x\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_redcap(extra, fixtures / "redcap_classic_dictionary.csv")
    assert [p.column for p in info.value.problems] == ["mystery"]


def test_it_names_the_repeating_instruments_when_the_session_form_is_wrong(fixtures: Path) -> None:
    with pytest.raises(DataError, match=r"the repeating instruments are \['session_checkin'\]"):
        read_redcap(
            fixtures / "redcap_longitudinal_data.csv",
            fixtures / "redcap_longitudinal_dictionary.csv",
            session_instrument="checkins",
        )


def test_it_flags_duplicate_records(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "redcap_classic_data.csv").read_text(encoding="utf-8")
    lines = text.rstrip("\n").split("\n")
    data = tmp_path / "dup.csv"
    data.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_redcap(data, fixtures / "redcap_classic_dictionary.csv", missing_codes="UNK, Unknown")
    assert [(p.row, p.column) for p in info.value.problems] == [(7, "participant_id")]


def test_it_reports_dictionary_and_instrument_problems_together(
    fixtures: Path, tmp_path: Path, ecr: Instrument
) -> None:
    text = (fixtures / "redcap_classic_data.csv").read_text(encoding="utf-8")
    lines = text.split("\n")
    lines[1] = lines[1].replace("1,1,1,34,1,", "1,7,1,34,1,", 1)  # site 7: not a code of the dropdown
    data = tmp_path / "data.csv"
    data.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_redcap(
            data, fixtures / "redcap_classic_dictionary.csv", mapping={"age": "ecr_01"}, instruments=[ecr]
        )
    found = sorted((p.row or 0, p.column or "", p.message) for p in info.value.problems)
    # Each problem names the column of the export, whatever it is mapped to.
    assert [(row, col) for row, col, _ in found] == [
        (2, "age"),
        (2, "site"),
        (3, "age"),
        (5, "age"),
        (6, "age"),
    ]
    assert found[0][2] == "item ecr_01 has value 34; ECR-R answers run 1-7"
