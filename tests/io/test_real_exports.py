"""Conformance with real exports other projects ship as test data (REDCapR, redcapAPI, qualtRics,
QualtricsTools, pyreadstat), kept outside the project in ``shared/real-exports/`` beside the repository.

Every file is read by lacrima and, independently, by pandas (CSV) or pyreadstat (SPSS); rows, columns and
values must agree, after the documented changes only (the record id becomes ``participant_id``, REDCap
events ``wave``, Qualtrics identifiers are left out ...). A file that lacrima refuses is listed in
``REFUSED`` with the message it must give. The folder is absent from a user's clone: the tests then skip,
saying so.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import lacrima.io as lio
from lacrima.errors import DataError


def _find_real_exports() -> Path | None:
    override = os.environ.get("LACRIMA_REAL_EXPORTS")
    if override:
        return Path(override)
    repo = Path(__file__).resolve().parents[2]
    # ../shared beside the repository; a git worktree sits one folder deeper.
    for parent in (repo.parent, repo.parent.parent):
        candidate = parent / "shared" / "real-exports"
        if candidate.is_dir():
            return candidate
    return None


REAL = _find_real_exports()
pytestmark = pytest.mark.skipif(
    REAL is None,
    reason="no ../shared/real-exports/ beside the repository (only the project's own machines have it; "
    "set LACRIMA_REAL_EXPORTS to a copy to run these tests)",
)


def _listing(sub: str, pattern: str) -> list[str]:
    if REAL is None:
        return ["(absent)"]
    return sorted(p.name for p in (REAL / sub).glob(pattern))


REDCAP_PROJECTS = _listing("redcap", "*")
QUALTRICS_FILES = _listing("qualtrics", "*.csv")
SPSS_FILES = _listing("spss", "*.*sav")

#: Files lacrima refuses, with the message it must give (a regular expression).
REFUSED = {
    "redcap/empty-rows": r"data\.csv is empty: it has no header and no rows",
    "redcap/potentially-problematic-values": (
        r"row 2, column 'integer_before_validation': text field has value 'before validation 1', which is "
        r"not a number"
    ),
    # REDCapR's copy of the project holds the radio field `sex` as TRUE/FALSE, which REDCap never writes.
    "redcap/simple": r"row 2, column 'sex': radio field has value 'FALSE'; its codes are 0, 1",
    "qualtrics/QT_single_matrix_legacy.csv": r"Qualtrics export in the legacy layout \(before 2016",
    "qualtrics/qualtRics_sample_legacy.csv": r"Qualtrics export in the legacy layout \(before 2016",
}
#: Exports of generated test responses: every row has Status "Survey Test" and is no real response.
ALL_TEST_RESPONSES = {"QT_long_exhaustive.csv", "QT_matrix_testing.csv", "QT_no_basis_insights.csv",
                      "QT_single_matrix_insights.csv"}  # fmt: skip


def norm(value: Any) -> Any:
    """A cell as a comparable value: blank -> None, numbers (also as text) -> float, dates -> Timestamp."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return float(value)
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return pd.Timestamp(value)
    if isinstance(value, dt.time):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return None if math.isnan(number) else number


def assert_same_values(ours: pd.Series, theirs: pd.Series, where: str) -> None:
    left = [norm(v) for v in ours.to_numpy(dtype=object)]
    right = [norm(v) for v in theirs.to_numpy(dtype=object)]
    assert len(left) == len(right), where
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        if isinstance(a, float) and isinstance(b, float):
            assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), f"{where}, row {i}: {a!r} != {b!r}"
        else:
            assert a == b, f"{where}, row {i}: {a!r} != {b!r}"


# REDCap ---------------------------------------------------------------------------------------------------


def _redcap_expected(project: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = pd.read_csv(project / "data.csv", dtype=str, keep_default_na=False)
    dictionary = pd.read_csv(project / "dictionary.csv", dtype=str, keep_default_na=False)
    return data, dictionary


@pytest.mark.parametrize("project", REDCAP_PROJECTS)
def test_it_reads_each_real_redcap_export_as_pandas_does_or_says_why_not(project: str) -> None:
    assert REAL is not None
    folder = REAL / "redcap" / project
    key = f"redcap/{project}"
    if key in REFUSED:
        with pytest.raises(DataError, match=REFUSED[key]):
            lio.read_redcap(folder / "data.csv", folder / "dictionary.csv")
        return
    result = lio.read_redcap(folder / "data.csv", folder / "dictionary.csv")
    data, dictionary = _redcap_expected(folder)
    name_col, form_col = dictionary.columns[0], dictionary.columns[1]
    validation = dictionary.columns[7]
    record_id = dictionary[name_col].iloc[0]
    comma = set(dictionary.loc[dictionary[validation].str.endswith("comma_decimal"), name_col])
    form_of = dict(zip(dictionary[name_col], dictionary[form_col], strict=True))
    repeat = (
        data["redcap_repeat_instrument"] if "redcap_repeat_instrument" in data else pd.Series("", data.index)
    )
    back = {"participant_id": record_id, "wave": "redcap_event_name", "instance": "redcap_repeat_instance"}
    covered: set[str] = set()
    for name, table, _ in result.all_tables():
        rows = data[repeat == ("" if name is None else name)].reset_index(drop=True)
        assert len(table) == len(rows), f"{project} {name or 'main'}: {len(table)} rows, pandas {len(rows)}"
        for col in table.columns:
            source = back.get(col, col)
            assert source in rows.columns, f"{project}: column {col} is not in the export"
            covered.add(source)
            theirs = rows[source]
            if source in comma:
                theirs = theirs.str.replace(",", ".", regex=False)
            assert_same_values(table[col], theirs, f"{project} {name or 'main'} {col}")
    left_out = set(data.columns) - covered - {"redcap_repeat_instrument", "redcap_repeat_instance"}
    assert not left_out, f"{project}: columns {left_out} are in no table"
    # Every checkbox column and radio field is labelled.
    for col in data.columns:
        base = col.split("___")[0]
        if "___" in col and base in form_of:
            book = next(b for n, t, b in result.all_tables() if col in t.columns)
            assert book.values[col] == {0: "Unchecked", 1: "Checked"}


def test_it_reads_decimal_commas_of_a_european_redcap_project_as_numbers() -> None:
    assert REAL is not None
    folder = REAL / "redcap" / "decimal-comma"
    result = lio.read_redcap(folder / "data.csv", folder / "dictionary.csv")
    assert result.data["height"].tolist() == [1.54, 1.84, 1.95, 1.61]
    assert result.data["weight"].tolist() == [52.3, 92.3, 123.4, 45.9]
    assert any("decimal commas read as decimal points" in n for n in result.notes)


def test_it_refuses_a_real_redcap_export_without_its_dictionary_and_names_the_one_beside_it() -> None:
    assert REAL is not None
    folder = REAL / "redcap" / "vignette-repeating"
    with pytest.raises(DataError, match=r"looks like a REDCap export .*\(beside it: dictionary\.csv\)"):
        lio.read_export(folder / "data.csv")
    with pytest.raises(DataError, match="is a REDCap data dictionary, not a records export"):
        lio.read_export(folder / "dictionary.csv")
    assert lio.detect_format(folder / "data.csv", dictionary=folder / "dictionary.csv") == "redcap"


def _redcap_side_files() -> list[str]:
    if REAL is None:
        return ["(absent)"]
    return sorted(
        str(p.relative_to(REAL / "redcap")) for p in (REAL / "redcap").glob("*/*.csv") if p.name != "data.csv"
    )


@pytest.mark.parametrize("name", _redcap_side_files())
def test_it_reads_every_other_redcap_file_as_pandas_does_or_says_what_it_is(name: str) -> None:
    """Dictionaries (Designer and API layouts) given as data are refused as such; the arm and event lists
    are plain tables."""
    assert REAL is not None
    path = REAL / "redcap" / name
    theirs = pd.read_csv(path, dtype=str, keep_default_na=False)
    if theirs.columns[0] in ("Variable / Field Name", "field_name"):
        with pytest.raises(DataError, match="is a REDCap data dictionary, not a records export"):
            lio.read_export(path)
        return
    result = lio.read_export(path)
    assert sorted(result.data.columns) == sorted(theirs.columns)
    for col in theirs.columns:
        assert_same_values(result.data[col], theirs[col], f"{name} {col}")


def test_it_reads_the_api_metadata_layout_of_a_dictionary_like_the_designer_download() -> None:
    assert REAL is not None
    folder = REAL / "redcap" / "simple"
    for dictionary in ("dictionary.csv", "metadata.csv"):
        with pytest.raises(DataError, match=REFUSED["redcap/simple"]) as refused:
            lio.read_redcap(folder / "data.csv", folder / dictionary)
        assert len(refused.value.problems) == 5


# Qualtrics ------------------------------------------------------------------------------------------------


def _import_id(cell: str) -> str:
    try:
        return str(json.loads(cell)["ImportId"])
    except ValueError:
        return str(ast.literal_eval(cell)["ImportId"])


#: Import ids (current and 2016 layout) of the columns lacrima leaves out as identifiers.
IDENTIFYING = {"ipAddress", "recipientLastName", "recipientFirstName", "recipientEmail", "locationLatitude",
               "locationLongitude", "panel-RecipientLastName", "panel-RecipientFirstName",
               "panel-RecipientEmail", "Location-LocationLatitude", "Location-LocationLongitude"}  # fmt: skip


#: Qualtrics' numeric Status codes (Response Type), as its documentation lists them.
STATUS_NAMES = {0: "IP Address", 1: "Survey Preview", 2: "Survey Test", 4: "Imported", 8: "Spam"}


@pytest.mark.parametrize("name", QUALTRICS_FILES)
def test_it_reads_each_real_qualtrics_export_as_pandas_does_or_says_why_not(name: str) -> None:
    assert REAL is not None
    path = REAL / "qualtrics" / name
    assert lio.detect_format(path) == "qualtrics"
    key = f"qualtrics/{name}"
    if key in REFUSED:
        with pytest.raises(DataError, match=REFUSED[key]):
            lio.read_export(path)
        return
    if name in ALL_TEST_RESPONSES:
        with pytest.raises(DataError, match=r"has no real responses left after dropping \d+ Survey Test"):
            lio.read_export(path)
        result = lio.read_qualtrics(path, drop_status=())
    else:
        result = lio.read_export(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        tags, _, ids_row = (next(csv.reader(fh)) for _ in range(3))
    ids = [_import_id(c) for c in ids_row]
    body = pd.read_csv(path, header=None, skiprows=3, dtype=str, keep_default_na=False)
    assert len(result.data) == len(body) - sum(result.excluded.values())
    expected_columns = []
    for i, (tag, iid) in enumerate(zip(tags, ids, strict=True)):
        if iid in IDENTIFYING:
            continue
        col = tag if tags.count(tag) == 1 else f"{tag} ({iid})"
        col = {"_recordId": "participant_id", "responseId": "participant_id", "userLanguage": "language"}.get(
            iid, "Duration" if iid == "duration" else col
        )
        expected_columns.append(col)
        theirs = body[i]
        if iid == "userLanguage":
            theirs = theirs.str.lower()
        if iid == "status":
            theirs = theirs.map(lambda v: STATUS_NAMES.get(int(v), v))
        assert_same_values(result.data[col], theirs, f"{name} {col}")
    assert sorted(result.data.columns) == sorted(expected_columns)
    assert not IDENTIFYING & set(result.data.columns)


# SPSS -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPSS_FILES)
def test_it_reads_each_real_spss_file_as_pyreadstat_does(name: str, tmp_path: Path) -> None:
    assert REAL is not None
    path = REAL / "spss" / name
    theirs, meta = pyreadstat.read_sav(str(path), user_missing=False)
    result = lio.read_export(path)
    qualtrics = lio.detect_format(path) == "qualtrics"
    back = {"participant_id": "ResponseId"} if qualtrics else {}
    assert len(result.data) == len(theirs)
    assert sorted(back.get(c, c) for c in result.data.columns) == sorted(theirs.columns)
    for col in result.data.columns:
        assert_same_values(result.data[col], theirs[back.get(col, col)], f"{name} {col}")
    forward = {v: k for k, v in back.items()}
    for col, labels in meta.variable_value_labels.items():
        expected = lio.Codebook(values={col: labels}).values[col]
        assert dict(result.codebook.values[forward.get(col, col)]) == dict(expected), col
    # Written back to .sav: the same values, dates and times still dates and times.
    lio.write_table(result.data, tmp_path / "again.sav", codebook=result.codebook)
    again, again_meta = pyreadstat.read_sav(str(tmp_path / "again.sav"))
    for col in result.data.columns:
        assert_same_values(again[col], result.data[col], f"{name} {col} written back")
        kind = meta.original_variable_types[back.get(col, col)]
        if kind.startswith(("DATE", "EDATE", "ADATE", "SDATE", "TIME", "DATETIME")):
            assert again_meta.original_variable_types[col].startswith(("DATE", "TIME")), col


def test_it_counts_the_spss_user_missing_values_it_sets_to_nan() -> None:
    assert REAL is not None
    result = lio.read_table(REAL / "spss" / "sample_missing.sav")
    assert "set 5 SPSS user-missing values to NaN (2 in mynum, 1 in mylabl, 2 in myord)" in " ".join(
        result.notes
    )
