"""Writers: atomic exports, SPSS labels, pseudonymisation and the SQLite store."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from lacrima.errors import DataError
from lacrima.io import Codebook, pseudonymize, read_sqlite, write_sqlite, write_table
from lacrima.io._result import Codebook as CodebookClass

KEY = "a-secret-key-of-enough-length-123"


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": ["P01", "P02", None],
            "gender": [1.0, 2.0, np.nan],
            "email": ["a@example.org", "b@example.org", "c@example.org"],
            "Recipient First Name": ["Ana", "Ben", "Cy"],
            "wai_01": [4.0, 2.0, 5.0],
        }
    )


def test_it_writes_spss_variable_and_value_labels(tmp_path: Path) -> None:
    book = Codebook({"gender": "Gender", "wai_01": "Goal agreement"}, {"gender": {1: "woman", 2: "man"}})
    write_table(_table().drop(columns="Recipient First Name"), tmp_path / "t.sav", codebook=book)
    frame, meta = pyreadstat.read_sav(str(tmp_path / "t.sav"))
    assert meta.column_names_to_labels["gender"] == "Gender"
    assert meta.variable_value_labels["gender"] == {1.0: "woman", 2.0: "man"}
    assert frame["participant_id"].tolist()[:2] == ["P01", "P02"]


def test_it_leaves_nothing_behind_when_an_export_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "t.csv"
    write_table(_table(), target)
    before = target.read_bytes()

    def broken(self: CodebookClass) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(CodebookClass, "to_json", broken)
    changed = _table().assign(wai_01=[1.0, 1.0, 1.0])
    with pytest.raises(OSError, match="disk full"):
        write_table(changed, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.codebook.csv", "t.codebook.json", "t.csv"]


def test_it_refuses_spss_names_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="SPSS variable names"):
        write_table(_table(), tmp_path / "t.sav")
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_unknown_formats_and_duplicate_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"writes \.csv"):
        write_table(_table(), tmp_path / "t.dta")
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(DataError, match="more than once"):
        write_table(dup, tmp_path / "t.csv")
    assert list(tmp_path.iterdir()) == []


def test_it_pseudonymises_ids_with_a_keyed_hmac_and_drops_identifiers() -> None:
    df = _table()
    out = pseudonymize(df, ["participant_id"], KEY)
    expected = hmac.new(KEY.encode(), b"P01", hashlib.sha256).hexdigest()[:16]
    assert out["participant_id"].tolist()[0] == expected
    assert pd.isna(out["participant_id"].tolist()[2])
    assert list(out.columns) == ["participant_id", "gender", "wai_01"]
    assert df["participant_id"].tolist()[0] == "P01"
    again = pseudonymize(df, ["participant_id"], KEY)
    other = pseudonymize(df, ["participant_id"], KEY + "x")
    assert again["participant_id"].tolist() == out["participant_id"].tolist()
    assert other["participant_id"].tolist()[0] != expected


def test_it_codes_the_same_id_alike_across_tables_and_number_types() -> None:
    a = pseudonymize(pd.DataFrame({"client_id": [7.0]}), ["client_id"], KEY, drop=[])
    b = pseudonymize(pd.DataFrame({"client_id": ["7"]}), ["client_id"], KEY, drop=[])
    assert a["client_id"].tolist() == b["client_id"].tolist()


def test_it_rejects_short_keys_and_absent_columns() -> None:
    with pytest.raises(DataError, match="at least 16 bytes"):
        pseudonymize(_table(), ["participant_id"], "short")
    with pytest.raises(DataError, match="not in the table"):
        pseudonymize(_table(), ["client_id"], KEY)


def test_it_round_trips_tables_through_sqlite(tmp_path: Path) -> None:
    sessions = pd.DataFrame({"client_id": ["c1", "c1"], "session": [1, 2], "cried": [1.0, np.nan]})
    respondents = pd.DataFrame({"participant_id": ["p1"], "wai_01": [3.0]})
    path = write_sqlite({"sessions": sessions, "respondents": respondents}, tmp_path / "demo.sqlite")
    pd.testing.assert_frame_equal(read_sqlite(path, "sessions"), sessions)
    pd.testing.assert_frame_equal(read_sqlite(path, "respondents"), respondents)
    with pytest.raises(DataError, match="has no table 'visits'"):
        read_sqlite(path, "visits")


def test_it_keeps_the_old_database_when_a_sqlite_write_fails(tmp_path: Path) -> None:
    path = write_sqlite({"t": pd.DataFrame({"a": [1]})}, tmp_path / "db.sqlite")
    bad = pd.DataFrame({"a": [object()]})
    with pytest.raises(DataError, match=r"could not write table 'u'.*not supported"):
        write_sqlite({"t": pd.DataFrame({"a": [2]}), "u": bad}, path)
    assert read_sqlite(path, "t")["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["db.sqlite"]
    with pytest.raises(DataError, match="letters, digits"):
        write_sqlite({"bad name": pd.DataFrame({"a": [1]})}, path)
