"""read_qualtrics: three header rows, import ids, Status filtering, duplicate tags, -99 sentinels."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lacrima.errors import DataError
from lacrima.io import pseudonymize, read_qualtrics, read_table, write_table


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_it_keeps_real_responses_and_counts_what_it_drops(fixtures: Path) -> None:
    result = read_qualtrics(
        fixtures / "qualtrics_export.csv", mapping=fixtures / "qualtrics_mapping.yaml", instruments=["wai_sr"]
    )
    data = result.data
    assert data["participant_id"].tolist() == ["R_1aBcDeFgHiJkLmN", "R_3qRsTuVwXyZaBcD", "R_5uVwXyZ0123AbCd"]
    assert dict(result.excluded) == {"Survey Preview": 2, "Spam": 1}
    assert result.table()["n"].tolist() == [3, 2, 1]
    assert data["language"].tolist() == ["en", "it", "he"]
    assert data["cried_in_therapy"].tolist() == [1, 0, 1]
    assert data["age"].tolist() == [34, 27, 45]
    assert data["wai_03"].isna().tolist() == [False, True, False]
    assert data[["wai_11", "wai_12"]].isna().sum().tolist() == [1, 1]
    assert data["gender_self_described"].tolist()[2] == "genderfluid"
    assert "IPAddress" not in data.columns and "RecipientEmail" not in data.columns
    assert "Q1" not in data.columns
    assert any("set 3 answers" in note for note in result.notes)
    assert any("unfinished" in note for note in result.notes)


def test_it_labels_columns_with_the_question_text(fixtures: Path) -> None:
    result = read_qualtrics(fixtures / "qualtrics_export.csv", mapping=fixtures / "qualtrics_mapping.yaml")
    assert result.codebook.labels["wai_01"].endswith("- Statement 1")
    assert result.codebook.labels["age"] == "How old are you?"


def test_it_names_duplicate_export_tags_by_import_id(fixtures: Path) -> None:
    result = read_qualtrics(fixtures / "qualtrics_export.csv")
    assert "Q4 (QID4)" in result.data.columns and "Q4 (QID9)" in result.data.columns
    assert any("Q4" in note and "more than one column" in note for note in result.notes)
    with pytest.raises(DataError, match=r"export tag 'Q4' names 2 columns \(QID4, QID9\)"):
        read_qualtrics(fixtures / "qualtrics_export.csv", mapping={"Q4": "age"})


def test_it_maps_by_unique_export_tag_and_matches_item_names(fixtures: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures / "qualtrics_export.csv")
    rows[0] = [f"WAI_{int(t[3:])}" if t.startswith("Q3_") else t for t in rows[0]]
    path = _write(tmp_path / "tagged.csv", rows)
    result = read_qualtrics(path, instruments=["wai_sr"], mapping={"site": "site"})
    assert result.data["wai_01"].tolist() == [4.0, 3.0, 5.0]


def test_it_translates_numeric_status_codes(fixtures: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures / "qualtrics_export.csv")
    codes = {"IP Address": "0", "Survey Preview": "1", "Spam": "8"}
    for row in rows[3:]:
        row[2] = codes[row[2]]
    path = _write(tmp_path / "numeric.csv", rows)
    result = read_qualtrics(path, mapping=fixtures / "qualtrics_mapping.yaml", finished_only=True)
    assert dict(result.excluded) == {"Survey Preview": 2, "Spam": 1, "unfinished": 1}
    assert len(result.data) == 2


def test_it_reports_answers_off_the_scale_with_their_file_line(fixtures: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures / "qualtrics_export.csv")
    wai_3 = rows[0].index("Q3_3")
    rows[5][wai_3] = "7"  # the response after the preview, on line 6 of the file
    rows[7][wai_3] = "often"
    rows[4][wai_3] = "9"  # a preview row: dropped, so never checked
    path = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError) as info:
        read_qualtrics(path, mapping=fixtures / "qualtrics_mapping.yaml", instruments=["wai_sr"])
    found = {(p.row, p.column): p.message for p in info.value.problems}
    assert found[(6, "Q3_3")] == "item wai_03 has value 7; WAI-SR answers run 1-5"
    assert "'often', which is not a number" in found[(8, "Q3_3")]
    assert len(found) == 2


def test_it_refuses_a_file_without_the_import_id_row(fixtures: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures / "qualtrics_export.csv")
    path = _write(tmp_path / "legacy.csv", [rows[0], rows[1], *rows[3:]])
    with pytest.raises(DataError, match="lacks the Qualtrics import-id header row: line 3"):
        read_qualtrics(path)


def test_it_refuses_a_half_broken_import_id_row(fixtures: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures / "qualtrics_export.csv")
    rows[2][20] = "QID3_3"
    path = _write(tmp_path / "broken.csv", rows)
    with pytest.raises(DataError) as info:
        read_qualtrics(path)
    assert [(p.row, p.column) for p in info.value.problems] == [(3, "Q3_3")]


def test_it_refuses_files_without_responses(fixtures: Path, tmp_path: Path) -> None:
    rows = _rows(fixtures / "qualtrics_export.csv")
    with pytest.raises(DataError, match="no responses"):
        read_qualtrics(_write(tmp_path / "head.csv", rows[:3]))
    previews = [r for r in rows[3:] if r[2] == "Survey Preview"]
    with pytest.raises(DataError, match="no real responses left after dropping 2 Survey Preview"):
        read_qualtrics(_write(tmp_path / "previews.csv", [*rows[:3], *previews]))
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="is empty"):
        read_qualtrics(empty)


def test_it_exports_a_pseudonymised_qualtrics_table_to_spss(fixtures: Path, tmp_path: Path) -> None:
    result = read_qualtrics(fixtures / "qualtrics_export.csv", mapping=fixtures / "qualtrics_mapping.yaml")
    safe = pseudonymize(result.data, ["participant_id"], key="a long secret kept apart from the data")
    write_table(safe, tmp_path / "r.sav", codebook=result.codebook)
    back = read_table(tmp_path / "r.sav", instruments=["wai_sr"])
    assert back.data["wai_05"].tolist() == result.data["wai_05"].tolist()
    assert back.data["participant_id"].tolist() == safe["participant_id"].tolist()
    assert back.codebook.labels["Duration"] == "Duration (in seconds)"
