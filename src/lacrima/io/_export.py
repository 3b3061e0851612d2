"""Writing tables: CSV with a codebook beside it, SPSS .sav with labels, Parquet, Excel, and SQLite.

Every write is atomic: the file is written under a temporary name in the target folder and renamed into
place only when complete, so a failed export leaves no half-written file (and keeps an older one intact).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lacrima._deprecation import deprecated_alias
from lacrima.errors import DataError
from lacrima.io._result import Codebook
from lacrima.io._tabular import CODEBOOK_METADATA_KEY

__all__ = [
    "DIRECT_IDENTIFIERS",
    "pseudonymise",
    "pseudonymize",
    "read_sqlite",
    "write_sqlite",
    "write_table",
]

#: Column names (compared without case, spaces or punctuation) that identify a person directly.
DIRECT_IDENTIFIERS = frozenset(
    {
        "name", "firstname", "lastname", "fullname", "surname", "email", "emailaddress", "phone",
        "phonenumber", "mobile", "address", "streetaddress", "postcode", "zipcode", "dateofbirth", "dob",
        "birthdate", "ipaddress", "recipientfirstname", "recipientlastname", "recipientemail",
        "locationlatitude", "locationlongitude", "latitude", "longitude", "nationalid", "ssn",
        "medicalrecordnumber", "mrn",
    }
)  # fmt: skip


@contextlib.contextmanager
def _atomic_paths(targets: Iterable[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside each target; renamed onto the targets only if the block succeeds."""
    targets = list(targets)
    for target in targets:
        if target.is_dir():
            raise DataError(f"cannot write {target}: it is a folder; choose another name")
    temps: list[Path] = []
    try:
        try:
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(
                    prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent
                )
                os.close(fd)
                temps.append(Path(name))
        except OSError as exc:
            raise DataError(f"cannot write {exc.filename or targets[0]}: {exc.strerror or exc}") from exc
        yield temps
        for tmp, target in zip(temps, targets, strict=True):
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise DataError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def _codebook_for(df: pd.DataFrame, codebook: Codebook | None) -> Codebook:
    book = codebook or Codebook()
    return book.restricted(df.columns)


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` that is safe to open in a spreadsheet (OWASP's rule against CSV injection).

    Every text cell and column name that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading single quote, so Excel, LibreOffice and Google Sheets show it as text instead of
    running it as a formula (``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``). Numbers stay numbers: numeric
    columns are untouched, and so is text that is a plain number such as ``-3`` or ``+1.5``. Every CSV and
    Excel writer of lacrima, the web exports included, writes through this function.

    >>> neutralize_formulas(pd.DataFrame({"a": ["=1+1", "ok", "-2"], "n": [-1, 2, 3]}))["a"].tolist()
    ["'=1+1", 'ok', '-2']
    """
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].astype(object).map(_safe_cell, na_action="ignore")
    out.columns = pd.Index([_safe_cell(c) for c in out.columns])
    return out


def _write_csv(df: pd.DataFrame, path: Path, codebook: Codebook) -> list[Path]:
    targets = [path, path.with_suffix(".codebook.json"), path.with_suffix(".codebook.csv")]
    with _atomic_paths(targets) as (tmp_data, tmp_json, tmp_csv):
        # CRLF line ends (RFC 4180) make the csv module quote any cell holding a carriage return, which a
        # spreadsheet would otherwise read as a line break followed by a formula
        neutralize_formulas(df).to_csv(tmp_data, index=False, encoding="utf-8", lineterminator="\r\n")
        tmp_json.write_text(codebook.to_json(), encoding="utf-8")
        book = neutralize_formulas(codebook.to_frame())
        book.to_csv(tmp_csv, index=False, encoding="utf-8", lineterminator="\r\n")
    return targets


def _sav_frame(df: pd.DataFrame) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("float64")
        elif pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s
        elif _temporal(s):
            # SPSS DATE, TIME and DATETIME variables: pyreadstat writes date, time and datetime64 values as
            # such, where text would turn them into strings.
            filled = s.dropna()
            if all(isinstance(v, (pd.Timestamp, dt.datetime)) for v in filled):
                out[col] = pd.to_datetime(s)
            else:
                out[col] = s.astype(object).where(s.notna(), None)
        else:
            out[col] = s.map(
                lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v)
            ).astype(object)
    return pd.DataFrame(out, index=df.index)


def _temporal(s: pd.Series) -> bool:
    """An object column whose values are all dates, all times or all date-times (and at least one)."""
    filled = s.dropna()
    if filled.empty:
        return False
    kinds = {
        "datetime" if isinstance(v, (pd.Timestamp, dt.datetime)) else type(v).__name__
        for v in filled.to_numpy(dtype=object)
    }
    return len(kinds) == 1 and kinds <= {"datetime", "date", "time"}


def _spss_name(name: str) -> bool:
    """SPSS's rule: a letter (of any script) or @ first, then letters, digits and ``_.@#$``, 64 bytes in
    UTF-8 at most, not ending in a full stop."""
    return (
        bool(name)
        and (name[0].isalpha() or name[0] == "@")
        and all(ch.isalnum() or ch in "_.@#$" for ch in name)
        and not name.endswith(".")
        and len(name.encode("utf-8")) <= 64
    )


def _write_sav(df: pd.DataFrame, path: Path, codebook: Codebook) -> list[Path]:
    import pyreadstat

    bad = [c for c in df.columns if not _spss_name(str(c))]
    if bad:
        raise DataError(
            f"SPSS variable names must start with a letter and hold only letters, digits and _.@#$ "
            f"(64 bytes at most); rename {bad} before writing {path}"
        )
    frame = _sav_frame(df)
    value_labels: dict[str, dict[int | float, str]] = {}
    for col, codes in codebook.values.items():
        if col in frame.columns and pd.api.types.is_numeric_dtype(frame[col]):
            numeric = {k: v for k, v in codes.items() if isinstance(k, (int, float))}
            if numeric:
                value_labels[col] = numeric  # type: ignore[assignment]
    with _atomic_paths([path]) as (tmp,):
        try:
            pyreadstat.write_sav(
                frame,
                str(tmp),
                column_labels={k: v for k, v in codebook.labels.items() if k in frame.columns},
                variable_value_labels=value_labels,
            )
        except Exception as exc:  # pyreadstat raises several exception types for unwritable data
            raise DataError(f"could not write {path} as SPSS: {exc}") from exc
    return [path]


def _write_parquet(df: pd.DataFrame, path: Path, codebook: Codebook) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[CODEBOOK_METADATA_KEY] = codebook.to_json().encode("utf-8")
    table = table.replace_schema_metadata(meta)
    with _atomic_paths([path]) as (tmp,):
        pq.write_table(table, tmp)
    return [path]


def _write_xlsx(df: pd.DataFrame, path: Path, codebook: Codebook) -> list[Path]:
    with _atomic_paths([path]) as (tmp,), pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        neutralize_formulas(df).to_excel(writer, sheet_name="data", index=False)
        neutralize_formulas(codebook.to_frame()).to_excel(writer, sheet_name="codebook", index=False)
    return [path]


_WRITERS: dict[str, Callable[[pd.DataFrame, Path, Codebook], list[Path]]] = {
    ".csv": _write_csv,
    ".sav": _write_sav,
    ".parquet": _write_parquet,
    ".xlsx": _write_xlsx,
}


def write_table(df: pd.DataFrame, path: str | Path, codebook: Codebook | None = None) -> list[Path]:
    """Write a table with its codebook; nothing is left half-written if the write fails.

    Parameters
    ----------
    df
        The table (its index is not written).
    path
        ``.csv`` (the codebook goes beside it as ``<name>.codebook.json`` and ``<name>.codebook.csv``),
        ``.sav`` (variable and value labels inside the file), ``.parquet`` (the codebook in the file's
        metadata) or ``.xlsx`` (a ``data`` sheet and a ``codebook`` sheet).
    codebook
        Variable and value labels, e.g. ``ImportResult.codebook``.

    Returns
    -------
    list of Path
        Every file written.
    """
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise DataError(
            f"{path}: lacrima writes .csv, .sav, .parquet and .xlsx, not {path.suffix or 'no extension'}"
        )
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"write_table needs a pandas DataFrame, not {type(df).__name__}")
    names = [str(c) for c in df.columns]
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise DataError(f"column names {dup} appear more than once; rename them before writing {path}")
    return writer(df, path, _codebook_for(df, codebook))


def pseudonymize(
    df: pd.DataFrame,
    id_columns: Iterable[str],
    key: str | bytes,
    *,
    drop: Iterable[str] | None = None,
    length: int = 16,
) -> pd.DataFrame:
    """Replace ids with keyed codes and drop direct identifiers.

    Each id becomes the first ``length`` hex digits of HMAC-SHA256(key, id). The same key gives the same
    code in every table (so tables still join), and without the key a code cannot be linked back to its
    id. Keep the key apart from the data (it is not stored anywhere).

    Parameters
    ----------
    df
        The table; it is not changed.
    id_columns
        Columns whose values are replaced (``participant_id``, ``client_id``, ``therapist_id`` ...).
    key
        A secret of at least 16 bytes.
    drop
        Columns to drop. Default: every column whose name is a direct identifier (name, email, phone,
        address, date of birth, IP address, Qualtrics recipient and location columns).
    length
        Hex digits kept (16 to 64).
    """
    secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(secret) < 16:
        raise DataError("the pseudonymisation key must be at least 16 bytes long; use secrets.token_hex(32)")
    if not 16 <= length <= 64:
        raise DataError(f"length must be between 16 and 64 hex digits, not {length}")
    ids = list(id_columns)
    absent = [c for c in ids if c not in df.columns]
    if absent:
        raise DataError(f"id columns {absent} are not in the table; its columns are {list(df.columns)}")

    def code(value: Any) -> Any:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return np.nan
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()[:length]

    out = df.copy()
    for col in ids:
        out[col] = out[col].map(code).astype("str").where(out[col].notna())
    if drop is None:
        to_drop = [c for c in out.columns if re.sub(r"[^0-9a-z]", "", str(c).lower()) in DIRECT_IDENTIFIERS]
    else:
        to_drop = list(drop)
        absent = [c for c in to_drop if c not in out.columns]
        if absent:
            raise DataError(f"columns {absent} to drop are not in the table")
    return out.drop(columns=[c for c in to_drop if c not in ids])


def write_sqlite(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write tables into a new SQLite database file (replacing an older file only when complete).

    Parameters
    ----------
    tables
        ``{table_name: DataFrame}``; names hold letters, digits and underscores.
    path
        The database file.
    """
    path = Path(path)
    if not tables:
        raise DataError("write_sqlite needs at least one table")
    bad = [n for n in tables if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
    if bad:
        raise DataError(f"table names {bad} must hold only letters, digits and underscores")
    with _atomic_paths([path]) as (tmp,):
        tmp.unlink()
        con = sqlite3.connect(tmp)
        try:
            for name, frame in tables.items():
                try:
                    frame.to_sql(name, con, index=False, if_exists="fail")
                except Exception as exc:  # pandas wraps sqlite3 errors in its own DatabaseError
                    cause = exc.__cause__ or exc
                    raise DataError(f"could not write table {name!r} to {path}: {cause}") from exc
            con.commit()
        finally:
            con.close()
    return path


def read_sqlite(path: str | Path, table: str) -> pd.DataFrame:
    """Read one table from a SQLite database written by :func:`write_sqlite`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        try:
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path} is not a SQLite database: {exc}") from exc
        if table not in names:
            raise DataError(f"{path} has no table {table!r}; its tables are {sorted(names)}")
        return pd.read_sql_query(f'SELECT * FROM "{table}"', con)
    finally:
        con.close()


pseudonymise = deprecated_alias(pseudonymize, "pseudonymise")
