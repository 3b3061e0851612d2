"""``lacrima import`` on the text files researchers bring (issue 13, points 1-5): REDCap decimal commas,
duplicated headers, semicolon-separated CSV, UTF-16 with a byte-order mark, Windows-1255 Hebrew.

Every refusal also shows that nothing was written and that an older output of the same name survived
(see ``conftest.Importer.refused``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lacrima.io as lio
from lacrima.errors import DataError

FIXTURES = Path(__file__).parents[1] / "io" / "fixtures"
#: The ``importer`` fixture of conftest.py (``.ok``, ``.refused``, ``.flat``).
Importer = Any


def flat(text: str) -> str:
    return " ".join(text.split())


DICT_HEADER = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number",'
    '"Text Validation Min","Text Validation Max",Identifier?'
)


def redcap_dictionary(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([DICT_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def european(tmp_path: Path) -> tuple[Path, Path]:
    """A REDCap project of an Italian site: height and weight are "Number (comma as decimal)" fields."""
    dictionary = redcap_dictionary(
        tmp_path / "dictionary.csv",
        [
            'record_id,intake,,text,"Record ID",,,,,,',
            'gender,intake,,radio,"Gender","1, Woman | 2, Man | 3, Non-binary",,,,,',
            'height,intake,,text,"Height (m)",,,number_comma_decimal,0,3,',
            'weight,intake,,text,"Weight (kg)",,,number_1dp_comma_decimal,30,200,',
            'bmi,intake,,text,"BMI",,,number,,,',
        ],
    )
    data = tmp_path / "data.csv"
    data.write_text(
        'record_id,gender,height,weight,bmi,intake_complete\n1,1,"1,54","52,3",22.1,2\n2,2,"1,84","92,3",27.3,2\n',
        encoding="utf-8",
    )
    return data, dictionary


# 1. REDCap "Number (comma as decimal)" ---------------------------------------------------------------------


def test_it_reads_redcap_decimal_comma_fields_as_numbers(
    importer: Importer, european: tuple[Path, Path]
) -> None:
    data, dictionary = european
    result, out = importer.ok(data, "--dictionary", dictionary)
    table = pd.read_csv(out)
    assert table["height"].tolist() == [1.54, 1.84]
    assert table["weight"].tolist() == [52.3, 92.3]
    assert "decimal commas read as decimal points" in flat(result.output)


def test_it_refuses_a_decimal_comma_field_holding_no_number_and_writes_nothing(
    importer: Importer, european: tuple[Path, Path]
) -> None:
    data, dictionary = european
    data.write_text('record_id,gender,height,weight,bmi\n1,1,"1,5x","52,3","22,1"\n', encoding="utf-8")
    importer.refused(
        data,
        "--dictionary",
        dictionary,
        match=r"row 2, column 'height': text field has value '1,5x', which is not a number.*"
        r"row 2, column 'bmi': text field has value '22,1', which is not a number; it has a decimal comma, "
        r"but the dictionary validates the field as 'number'",
    )


# 2. Duplicated headers ----------------------------------------------------------------------------------


def test_it_refuses_a_redcap_file_that_names_a_column_twice(
    importer: Importer, european: tuple[Path, Path]
) -> None:
    data, dictionary = european
    data.write_text('record_id,gender,height,gender\n1,1,"1,54",2\n2,2,"1,84",1\n', encoding="utf-8")
    importer.refused(
        data,
        "--dictionary",
        dictionary,
        match=r"column 'gender': the header names this column 2 times \(columns 2, 4\); keeping one would "
        r"lose the other's values",
    )
    with pytest.raises(DataError, match="names this column 2 times"):
        lio.read_redcap(data, dictionary)


def test_it_refuses_duplicated_headers_in_plain_csv_and_qualtrics_files(
    importer: Importer, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("participant_id;age;age\nP1;30;31\n", encoding="utf-8")
    importer.refused(plain, match=r"column 'age': column name 'age' appears 2 times in the header")
    qualtrics = tmp_path / "qualtrics.csv"
    qualtrics.write_text(
        'ResponseId,Q1,Q1\nResponse ID,How old?,How old?\n"{""ImportId"":""_recordId""}",'
        '"{""ImportId"":""QID1""}","{""ImportId"":""QID1""}"\nR_1,30,31\n',
        encoding="utf-8",
    )
    importer.refused(qualtrics, match=r"column 'Q1 \(QID1\)': the header names this column 2 times")


# 3. Semicolons, tabs and pipes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "word"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe"), ("^", "caret")]
)
def test_it_sniffs_the_delimiter_of_a_csv_file(
    importer: Importer, tmp_path: Path, delimiter: str, word: str
) -> None:
    path = tmp_path / "excel-europe.csv"
    lines = [
        ["participant_id", "site", "wai_01", "note"],
        ["P1", "Roma", "4", "ha pianto, poi"],
        ["P2", "Pisa", "", "-"],
    ]
    path.write_text(
        "\n".join(delimiter.join(f'"{c}"' if "," in c else c for c in r) for r in lines), encoding="utf-8"
    )
    result, out = importer.ok(path, "--instrument", "wai_sr")
    table = pd.read_csv(out)
    assert list(table.columns) == ["participant_id", "site", "wai_01", "note"]
    assert table["wai_01"].tolist()[0] == 4 and table["note"].tolist()[0] == "ha pianto, poi"
    assert f"is {word}-separated" in flat(result.output)


def test_it_reads_semicolon_files_with_decimal_commas_and_refuses_ragged_ones(
    importer: Importer, tmp_path: Path
) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("participant_id;site;score;code\nP1;Roma;1,5;1,2,3\nP2;Pisa;2;4\n", encoding="utf-8")
    result, out = importer.ok(path)
    table = pd.read_csv(out)
    assert table["score"].tolist() == [1.5, 2.0]
    assert table["code"].tolist() == ["1,2,3", "4"]  # no number: kept as written
    assert "decimal commas read as decimal points in ['score']" in flat(result.output)
    path.write_text("participant_id;site;score;code\nP1;Roma;1;2\nP2;Pisa;3\n", encoding="utf-8")
    importer.refused(path, match=r"row 3: this row has 3 fields but the header has 4")


def test_it_refuses_a_csv_file_cut_off_in_the_middle_of_a_row(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text('participant_id;note;age\nP1;"ho pianto";30\nP2;"ho pianto, poi', encoding="utf-8")
    importer.refused(
        path,
        match=r"row 3: this row has 2 fields but the header has 3 \(it is the last row: is "
        r"the file truncated\? export it again\)",
    )


# 4. UTF-16 with a byte-order mark -----------------------------------------------------------------------


def test_it_reads_utf16_files_with_a_byte_order_mark(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "unicode-text.tsv"
    path.write_bytes("participant_id\tcity\nP1\tMünchen\nP2\tתל אביב\n".encode("utf-16"))
    result, out = importer.ok(path)
    assert pd.read_csv(out)["city"].tolist() == ["München", "תל אביב"]
    assert "is UTF-16 (byte-order mark)" in flat(result.output)


def test_it_reads_a_utf16_qualtrics_export_found_by_auto_detection(
    importer: Importer, tmp_path: Path
) -> None:
    """Qualtrics' "Unicode text" download: UTF-16 with a byte-order mark, tab-separated."""
    rows = list(csv.reader(io.StringIO((FIXTURES / "qualtrics_export.csv").read_text(encoding="utf-8-sig"))))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", lineterminator="\r\n").writerows(rows)
    path = tmp_path / "qualtrics-unicode.tsv"
    path.write_bytes(buffer.getvalue().encode("utf-16"))
    expected = lio.read_qualtrics(FIXTURES / "qualtrics_export.csv")
    result, out = importer.ok(path)
    table = pd.read_csv(out)
    assert len(table) == len(expected.data)
    assert list(table.columns) == list(expected.data.columns)
    assert "IPAddress" not in table.columns and "RecipientEmail" not in table.columns
    assert "is UTF-16 (byte-order mark)" in flat(result.output)


def test_it_refuses_a_truncated_utf16_file_and_nul_characters(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes("participant_id,city\nP1,Roma\n".encode("utf-16")[:-1])
    importer.refused(
        path, match=r"starts with a UTF-16 byte-order mark but is not valid UTF-16 .* damaged or truncated"
    )
    path.write_bytes(b"participant_id,city\nP1,Ro\x00ma\n")
    importer.refused(path, match=r"holds NUL characters")


# 5. Windows-1255 Hebrew ---------------------------------------------------------------------------------


HEBREW = "participant_id,gender,note\nP01,אישה,בכיתי בטיפול\nP02,גבר,לא\nP03,אישה,הרגשתי הקלה אחרי הבכי\n"


def test_it_detects_windows_1255_hebrew_instead_of_making_mojibake(
    importer: Importer, tmp_path: Path
) -> None:
    path = tmp_path / "hebrew.csv"
    path.write_bytes(HEBREW.encode("cp1255"))
    result, out = importer.ok(path)
    assert pd.read_csv(out)["gender"].tolist() == ["אישה", "גבר", "אישה"]
    assert "read as cp1255 (Windows-1255, Hebrew)" in flat(result.output)


def test_it_keeps_reading_western_windows_files_as_windows_1252(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "italian.csv"
    path.write_bytes("participant_id,città,note\nP01,Forlì,perché sì\nP02,Cantù,più tardi\n".encode("cp1252"))
    _, out = importer.ok(path)
    table = pd.read_csv(out)
    assert table["città"].tolist() == ["Forlì", "Cantù"] and table["note"].tolist()[0] == "perché sì"


def test_it_takes_the_encoding_given_and_refuses_one_that_does_not_fit(
    importer: Importer, tmp_path: Path
) -> None:
    path = tmp_path / "hebrew.csv"
    path.write_bytes(HEBREW.encode("cp1255"))
    _, out = importer.ok(path, "--encoding", "cp1255", out="given.csv")
    assert pd.read_csv(out)["note"].tolist()[0] == "בכיתי בטיפול"
    importer.refused(
        path, "--encoding", "utf-8", match=r"cannot be read as utf-8: byte \d+ .* is not valid in it"
    )
    importer.refused(path, "--encoding", "klingon", match=r"'klingon' is not an encoding Python knows")
    book = json.loads((out.with_suffix(".codebook.json")).read_text(encoding="utf-8"))
    assert "variables" in book
