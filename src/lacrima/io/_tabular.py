"""Reading plain tables: CSV, TSV, Excel, SPSS .sav and Parquet."""

from __future__ import annotations

import re
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
from lacrima.io._text import Rows, excel_sheets, read_rows, select_sheet

__all__ = ["CODEBOOK_METADATA_KEY", "frame_from_rows", "make_context", "read_table"]

CODEBOOK_METADATA_KEY = b"lacrima.codebook"

MappingLike = str | Path | Mapping[str, Any] | ColumnMapping
InstrumentsLike = Iterable[str | Instrument] | str | Instrument | None


def frame_from_rows(
    header: list[str], rows: list[list[str]], lines: list[int], source: str, problems: list[Problem]
) -> pd.DataFrame:
    """A raw table (object columns, indexed by line number) from parsed rows.

    A name that appears twice in the header is a problem: keeping one of the two columns would lose the
    other's values without a word.
    """
    width = len(header)
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        seen.setdefault(name, []).append(i + 1)
    for name, places in seen.items():
        if len(places) > 1:
            problems.append(
                Problem(
                    f"the header names this column {len(places)} times (columns "
                    f"{', '.join(map(str, places))}); keeping one would lose the other's values: rename or "
                    "remove the extra column (or export the file again)",
                    column=name,
                )
            )
    for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
        extra = row[width:]
        if len(row) < width or any(cell.strip() for cell in extra):
            cut = (
                " (it is the last row: is the file truncated? export it again)" if i == len(rows) - 1 else ""
            )
            problems.append(
                Problem(f"this row has {len(row)} fields but the header has {width}{cut}", row=line)
            )
    padded = [row if len(row) == width else (row + [""] * width)[:width] for row in rows]
    # One 2-D array rather than a Series per column: building a hundred Series took longer than parsing.
    cells = np.array(padded, dtype=object).reshape(len(padded), width)
    if len(seen) < width:
        cells = cells[:, [places[0] - 1 for places in seen.values()]]
    return pd.DataFrame(cells, index=pd.Index(lines, dtype="int64"), columns=list(seen), dtype=object)


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


def _read_text_table(
    path: Path, delimiter: str | None, encoding: str | None
) -> tuple[pd.DataFrame, Codebook, list[str]]:
    parsed: Rows = read_rows(path, delimiter=delimiter, encoding=encoding)
    header = _check_header(parsed.rows[0], str(path))
    if len(parsed.rows) == 1:
        raise DataError(f"{path} has a header but no data rows")
    problems: list[Problem] = []
    raw = frame_from_rows(header, parsed.rows[1:], parsed.lines[1:], str(path), problems)
    raise_problems(problems, str(path))
    notes = list(parsed.notes)
    if parsed.delimiter == ";":
        notes += _decimal_commas(raw)
    codebook = Codebook()
    sidecar = path.with_suffix(".codebook.json")
    if sidecar.exists():
        codebook = Codebook.from_json(sidecar.read_text(encoding="utf-8"))
    return raw, codebook, notes


_DECIMAL_COMMA = re.compile(r"\s*-?\d+(,\d+)?\s*")


def _decimal_commas(raw: pd.DataFrame) -> list[str]:
    """Semicolon-separated files come from Excel where the comma is the decimal mark: a column whose every
    filled cell is a number written with a decimal comma (``1,5``) becomes numbers (in place)."""
    changed = []
    for col in raw.columns:
        cells = [v for v in raw[col].to_numpy(dtype=object) if isinstance(v, str) and v.strip()]
        if cells and any("," in v for v in cells) and all(_DECIMAL_COMMA.fullmatch(v) for v in cells):
            raw[col] = raw[col].map(lambda v: v.replace(",", ".") if isinstance(v, str) else v)
            changed.append(str(col))
    if not changed:
        return []
    return [f"decimal commas read as decimal points in {changed} (the file is semicolon-separated)"]


def _read_excel(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, Codebook, list[str]]:
    sheets = excel_sheets(path)
    name = select_sheet(path, sheet, sheets)
    engine: Literal["openpyxl", "xlrd"] = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        frame = pd.read_excel(path, sheet_name=name, dtype=object, engine=engine, header=None)
    except Exception as exc:  # openpyxl raises several types for a damaged sheet
        raise DataError(f"{path}: cannot read sheet {name!r}: {exc}") from exc
    frame = frame.dropna(how="all")
    if frame.empty:
        raise DataError(f"{path} (sheet {name!r}) is empty")
    header = _check_header(["" if pd.isna(v) else str(v) for v in frame.iloc[0]], f"{path} (sheet {name!r})")
    body = frame.iloc[1:]
    if body.empty:
        raise DataError(f"{path} (sheet {name!r}) has a header but no data rows")
    # Spreadsheet rows are 1-based and the header is row 1.
    raw = pd.DataFrame(
        {col: pd.Series(body.iloc[:, i].to_numpy(), dtype=object) for i, col in enumerate(header)}
    )
    raw.index = pd.Index([int(i) + 1 for i in body.index], dtype="int64")
    codebook = Codebook()
    if "codebook" in sheets and name != "codebook":
        book = pd.read_excel(path, sheet_name="codebook", dtype=object, engine=engine)
        codebook = _codebook_from_frame(book)
    notes = [f"read sheet {name!r} of {path.name}"] if len(sheets) > 1 else []
    return raw, codebook, notes


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


def _user_missing(frame: pd.DataFrame, ranges: Mapping[str, Any]) -> dict[str, int]:
    """Set every value in a variable's user-missing ranges to NaN; ``{variable: values set}``."""
    counts: dict[str, int] = {}
    for col, spans in ranges.items():
        if col not in frame.columns or not spans:
            continue
        values = frame[col]
        hit = np.zeros(len(values), dtype=bool)
        numeric = pd.api.types.is_numeric_dtype(values)
        for span in spans:
            lo, hi = span.get("lo"), span.get("hi")
            if numeric and isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
                nums = values.to_numpy(dtype="float64")
                with np.errstate(invalid="ignore"):
                    hit |= (nums >= lo) & (nums <= hi)
            elif isinstance(lo, str):
                cells = values.to_numpy(dtype=object)
                wanted = {str(lo).rstrip(), str(hi).rstrip()}
                hit |= np.array([isinstance(v, str) and v.rstrip() in wanted for v in cells], dtype=bool)
        if hit.any():
            counts[col] = int(hit.sum())
            frame[col] = values.astype(object).mask(hit, np.nan) if not numeric else values.mask(hit)
    return counts


def read_sav_frame(path: Path) -> tuple[pd.DataFrame, Any, list[str]]:
    """An SPSS file as pyreadstat reads it, user-missing values set to NaN and counted in the notes."""
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    except Exception as exc:  # pyreadstat raises its own ReadstatError and others
        raise DataError(f"{path} is not a readable SPSS .sav file (damaged or truncated?): {exc}") from exc
    if frame.empty:
        raise DataError(f"{path} has no cases")
    counts = _user_missing(frame, getattr(meta, "missing_ranges", None) or {})
    notes = []
    if counts:
        shown = ", ".join(f"{n} in {col}" for col, n in counts.items())
        notes.append(
            f"set {sum(counts.values())} SPSS user-missing values to NaN ({shown}), as the file declares them"
        )
    return frame, meta, notes


def _read_sav(path: Path) -> tuple[pd.DataFrame, Codebook, list[str]]:
    frame, meta, notes = read_sav_frame(path)
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    values = {k: dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    # SPSS cases are numbered from 1.
    raw = pd.DataFrame({c: pd.Series(frame[c].to_numpy(dtype=object), dtype=object) for c in frame.columns})
    raw.index = pd.Index(range(1, len(frame) + 1), dtype="int64")
    return raw, Codebook(labels, values), notes


def _read_parquet(path: Path) -> tuple[pd.DataFrame, Codebook, list[str]]:
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
    return raw, codebook, []


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
    encoding: str | None = None,
) -> ImportResult:
    """Read a respondent or session table from CSV, TSV, Excel, SPSS or Parquet.

    Parameters
    ----------
    path
        A ``.csv``, ``.tsv``/``.tab``, ``.xlsx``/``.xls``, ``.sav``/``.zsav`` or ``.parquet`` file.
    sheet
        Excel only: the sheet name or 0-based position. Default: the only sheet (a ``codebook`` sheet set
        aside), else the sheet named ``data``; a workbook with several sheets and none named is refused
        with the list of its sheets, as is a sheet it does not have.
    mapping
        How source columns become lacrima columns: a YAML file, a dict or a :class:`ColumnMapping`
        (see :func:`load_mapping`). Without one, columns are matched to instrument items by name
        (``WAI_1``, ``wai1`` and ``wai_01`` all become ``wai_01``).
    instruments
        Instrument ids or objects: item columns are matched by name and every answer is checked against
        the item's scale.
    missing
        Codes that mean "no answer" in every column (e.g. ``[-99, 999]``); they become NaN.
    encoding
        Text files only: the encoding (e.g. ``"cp1255"``). Default: read from the byte-order mark, else
        UTF-8, else detected among the Windows code pages with charset-normalizer (and said in the notes).

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
    A ``.csv`` file may be separated by commas, semicolons (as Excel writes it where the comma is the
    decimal mark), tabs or pipes: the delimiter is sniffed and named in the notes when it is not a comma.
    SPSS value labels and variable labels land in ``.codebook``; user-missing values become NaN and are
    counted in the notes. A CSV written by :func:`write_table` is read back with the codebook from the JSON
    file beside it.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        raw, codebook, notes = _read_text_table(path, None, encoding)
    elif suffix in (".tsv", ".tab"):
        raw, codebook, notes = _read_text_table(path, "\t", encoding)
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        raw, codebook, notes = _read_excel(path, sheet)
    elif suffix in (".sav", ".zsav"):
        raw, codebook, notes = _read_sav(path)
    elif suffix == ".parquet":
        raw, codebook, notes = _read_parquet(path)
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
