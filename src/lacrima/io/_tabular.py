"""Reading plain tables: CSV, TSV, Excel, SPSS .sav and Parquet."""

from __future__ import annotations

import csv
import importlib.util
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lacrima.errors import DataError, Problem
from lacrima.instruments import Instrument
from lacrima.io._mapping import ColumnMapping, load_mapping, resolve_instruments
from lacrima.io._pipeline import Context, prepare_table, raise_problems
from lacrima.io._result import Codebook, ImportResult

__all__ = ["CODEBOOK_METADATA_KEY", "DelimitedText", "read_delimited", "read_table"]

CODEBOOK_METADATA_KEY = b"lacrima.codebook"

MappingLike = str | Path | Mapping[str, Any] | ColumnMapping
InstrumentsLike = Iterable[str | Instrument] | str | Instrument | None


class DelimitedText:
    """Rows of a delimited text file with the line number on which each row starts."""

    def __init__(self, rows: list[list[str]], lines: list[int], encoding: str) -> None:
        self.rows = rows
        self.lines = lines
        self.encoding = encoding


def _decode(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path} is empty: it has no header and no rows")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" in the ANSI code page; cp1252 reads every byte of it.
        return data.decode("cp1252"), "cp1252"


def read_delimited(path: Path, delimiter: str) -> DelimitedText:
    """Every non-blank row of a CSV/TSV file, with the (1-based) line on which it starts."""
    text, encoding = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(
                f"{path} is not a readable {delimiter!r}-separated file near line {start}: {exc}"
            ) from exc
        if not row or all(cell.strip() == "" for cell in row):
            continue
        rows.append(row)
        lines.append(start)
    return DelimitedText(rows, lines, encoding)


def frame_from_rows(
    header: list[str], rows: list[list[str]], lines: list[int], source: str, problems: list[Problem]
) -> pd.DataFrame:
    """A raw table (object columns, indexed by line number) from parsed rows."""
    width = len(header)
    for row, line in zip(rows, lines, strict=True):
        extra = row[width:]
        if len(row) < width or any(cell.strip() for cell in extra):
            problems.append(Problem(f"this row has {len(row)} fields but the header has {width}", row=line))
    padded = [row if len(row) == width else (row + [""] * width)[:width] for row in rows]
    # One 2-D array rather than a Series per column: building a hundred Series took longer than parsing.
    cells = np.array(padded, dtype=object).reshape(len(padded), width)
    # A name given twice keeps its first place and its last column, as when the frame was built from a dict.
    position = {name: i for i, name in enumerate(header)}
    if len(position) < width:
        cells = cells[:, list(position.values())]
    return pd.DataFrame(cells, index=pd.Index(lines, dtype="int64"), columns=list(position), dtype=object)


def _check_header(header: list[str], source: str) -> list[str]:
    cleaned = [h.strip() for h in header]
    problems = []
    for i, name in enumerate(cleaned):
        if not name:
            problems.append(Problem(f"column {i + 1} of the header has no name"))
    for name in sorted({n for n in cleaned if n and cleaned.count(n) > 1}):
        problems.append(
            Problem(f"column name {name!r} appears {cleaned.count(name)} times in the header", column=name)
        )
    raise_problems(problems, source)
    return cleaned


def _read_text_table(path: Path, delimiter: str) -> tuple[pd.DataFrame, Codebook, list[str]]:
    parsed = read_delimited(path, delimiter)
    notes = (
        [] if parsed.encoding == "utf-8" else [f"{path.name} is not UTF-8; it was read as {parsed.encoding}"]
    )
    header = _check_header(parsed.rows[0], str(path))
    if len(parsed.rows) == 1:
        raise DataError(f"{path} has a header but no data rows")
    problems: list[Problem] = []
    raw = frame_from_rows(header, parsed.rows[1:], parsed.lines[1:], str(path), problems)
    raise_problems(problems, str(path))
    codebook = Codebook()
    for sidecar in (path.with_suffix(".codebook.json"),):
        if sidecar.exists():
            codebook = Codebook.from_json(sidecar.read_text(encoding="utf-8"))
    return raw, codebook, notes


def _read_excel(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, Codebook]:
    engine: Literal["openpyxl", "xlrd"] = "openpyxl"
    if path.suffix.lower() == ".xls":
        if importlib.util.find_spec("xlrd") is None:
            raise DataError(
                f"{path} is an old Excel .xls file, which needs the xlrd package; install it "
                "(pip install xlrd) or save the sheet as .xlsx or .csv"
            )
        engine = "xlrd"
    try:
        frame = pd.read_excel(
            path, sheet_name=0 if sheet is None else sheet, dtype=object, engine=engine, header=None
        )
    except ValueError as exc:
        raise DataError(f"{path}: cannot read sheet {sheet!r}: {exc}") from exc
    frame = frame.dropna(how="all")
    if frame.empty:
        raise DataError(f"{path} (sheet {sheet if sheet is not None else 1}) is empty")
    header = _check_header(["" if pd.isna(v) else str(v) for v in frame.iloc[0]], str(path))
    body = frame.iloc[1:]
    if body.empty:
        raise DataError(f"{path} has a header but no data rows")
    # Spreadsheet rows are 1-based and the header is row 1.
    raw = pd.DataFrame(
        {name: pd.Series(body.iloc[:, i].to_numpy(), dtype=object) for i, name in enumerate(header)}
    )
    raw.index = pd.Index([int(i) + 1 for i in body.index], dtype="int64")
    codebook = Codebook()
    if sheet is None:
        with pd.ExcelFile(path, engine=engine) as workbook:
            if "codebook" in workbook.sheet_names:
                book = pd.read_excel(workbook, sheet_name="codebook", dtype=object)
                codebook = _codebook_from_frame(book)
    return raw, codebook


def _codebook_from_frame(book: pd.DataFrame) -> Codebook:
    labels: dict[str, str] = {}
    values: dict[str, dict[Any, str]] = {}
    for rec in book.to_dict(orient="records"):
        var = str(rec.get("variable"))
        if isinstance(rec.get("label"), str):
            labels[var] = rec["label"]
        code = rec.get("value")
        if code is not None and not (isinstance(code, float) and pd.isna(code)):
            values.setdefault(var, {})[code] = str(rec.get("value_label"))
    return Codebook(labels, values)


def _read_sav(path: Path) -> tuple[pd.DataFrame, Codebook, list[str]]:
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=False)
    except Exception as exc:  # pyreadstat raises its own ReadstatError and others
        raise DataError(f"{path} is not a readable SPSS .sav file: {exc}") from exc
    if frame.empty:
        raise DataError(f"{path} has no cases")
    notes = []
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    values = {k: dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    user_missing = getattr(meta, "missing_ranges", None) or getattr(meta, "missing_user_values", None)
    if user_missing:
        notes.append(f"SPSS user-missing values of {len(user_missing)} variables were read as NaN")
    # SPSS cases are numbered from 1.
    raw = pd.DataFrame({c: pd.Series(frame[c].to_numpy(dtype=object), dtype=object) for c in frame.columns})
    raw.index = pd.Index(range(1, len(frame) + 1), dtype="int64")
    return raw, Codebook(labels, values), notes


def _read_parquet(path: Path) -> tuple[pd.DataFrame, Codebook]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError variants
        raise DataError(f"{path} is not a readable Parquet file: {exc}") from exc
    meta = table.schema.metadata or {}
    codebook = Codebook()
    if CODEBOOK_METADATA_KEY in meta:
        codebook = Codebook.from_json(meta[CODEBOOK_METADATA_KEY].decode("utf-8"))
    frame = table.to_pandas()
    if frame.empty:
        raise DataError(f"{path} has no rows")
    raw = pd.DataFrame(
        {str(c): pd.Series(frame[c].to_numpy(dtype=object), dtype=object) for c in frame.columns}
    )
    raw.index = pd.Index(range(1, len(frame) + 1), dtype="int64")
    return raw, codebook


def make_context(
    source: str,
    mapping: MappingLike | None,
    instruments: InstrumentsLike,
    defaults: Iterable[Any] = (),
    text_columns: Iterable[str] = (),
) -> Context:
    """The shared context: the mapping, instruments and every sentinel that means "no answer"."""
    cmap = load_mapping(mapping) if mapping is not None else ColumnMapping()
    missing = tuple(dict.fromkeys([*defaults, *cmap.missing]))
    return Context(
        source=source,
        mapping=cmap,
        instruments=resolve_instruments(instruments),
        missing=missing,
        text_columns=frozenset(text_columns),
    )


def read_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    mapping: MappingLike | None = None,
    instruments: InstrumentsLike = None,
    missing: Iterable[Any] = (),
) -> ImportResult:
    """Read a respondent or session table from CSV, TSV, Excel, SPSS or Parquet.

    Parameters
    ----------
    path
        A ``.csv``, ``.tsv``/``.tab``, ``.xlsx``/``.xls``, ``.sav``/``.zsav`` or ``.parquet`` file.
    sheet
        Excel only: the sheet name or 0-based position (default: the first sheet).
    mapping
        How source columns become lacrima columns: a YAML file, a dict or a :class:`ColumnMapping`
        (see :func:`load_mapping`). Without one, columns are matched to instrument items by name
        (``WAI_1``, ``wai1`` and ``wai_01`` all become ``wai_01``).
    instruments
        Instrument ids or objects: item columns are matched by name and every answer is checked against
        the item's scale.
    missing
        Codes that mean "no answer" in every column (e.g. ``[-99, 999]``); they become NaN.

    Returns
    -------
    ImportResult
        ``.data`` (the table), ``.codebook`` (labels from the source and the instruments), ``.excluded``
        and ``.notes``.

    Raises
    ------
    DataError
        Listing every problem at once, each with its row (as numbered in the source file) and column:
        answers off the scale, text where numbers belong, columns that look like items an instrument does
        not have, duplicate or empty participant ids, and empty files.

    Notes
    -----
    SPSS value labels and variable labels land in ``.codebook``; user-missing values become NaN. A CSV
    written by :func:`write_table` is read back with the codebook from the JSON file beside it.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    suffix = path.suffix.lower()
    notes: list[str] = []
    if suffix == ".csv":
        raw, codebook, notes = _read_text_table(path, ",")
    elif suffix in (".tsv", ".tab"):
        raw, codebook, notes = _read_text_table(path, "\t")
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        raw, codebook = _read_excel(path, sheet)
    elif suffix in (".sav", ".zsav"):
        raw, codebook, notes = _read_sav(path)
    elif suffix == ".parquet":
        raw, codebook = _read_parquet(path)
    else:
        raise DataError(
            f"{path}: lacrima cannot read {suffix or 'files without an extension'}; use .csv, .tsv, .xlsx, "
            ".xls, .sav or .parquet (REDCap and Qualtrics exports have read_redcap and read_qualtrics)"
        )
    ctx = make_context(str(path), mapping, instruments, missing)
    ctx.notes.extend(notes)
    problems: list[Problem] = []
    data, book = prepare_table(raw, ctx, codebook, problems)
    raise_problems(problems, str(path))
    return ImportResult(
        data=data.reset_index(drop=True), codebook=book, notes=tuple(ctx.notes), source=str(path)
    )
