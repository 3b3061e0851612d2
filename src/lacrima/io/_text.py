"""The rows of a source file as text: encodings, delimiters, spreadsheet sheets, and line numbers.

Every importer that parses cells itself (plain CSV, REDCap, Qualtrics) reads through :func:`read_rows`, so
each of them meets the same encodings (UTF-8 with or without a byte-order mark, UTF-16 and UTF-32 with a
byte-order mark, the Windows code pages Excel writes), the same delimiters (comma, semicolon as Excel writes
in much of Europe, tab, pipe) and the same spreadsheets (``.xlsx`` cells turned into the text a CSV export
would hold).

Encodings without a byte-order mark that are not UTF-8 are detected with charset-normalizer among the
Windows code pages. Short files often decode without error in several code pages; among the candidates that
charset-normalizer finds equally plausible, the code pages of lacrima's study languages come first
(Windows-1252 for English and Italian, then Windows-1255 for Hebrew). The choice is always reported in the
notes with the alternatives, and ``encoding=`` overrides it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import importlib.util
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lacrima.errors import DataError

__all__ = [
    "EXCEL_SUFFIXES",
    "TEXT_SUFFIXES",
    "Decoded",
    "Rows",
    "cell_text",
    "decode",
    "excel_sheets",
    "read_rows",
    "select_sheet",
    "sniff_delimiter",
]

TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")

#: Code pages tried when a file is neither UTF-8 nor marked by a byte-order mark, most likely first.
CODE_PAGES = ("cp1252", "cp1255", "cp1250", "cp1251", "cp1253", "cp1254", "cp1256", "cp1257", "cp1258")
_CODE_PAGE_NAMES = {
    "cp1252": "Windows-1252, Western European",
    "cp1255": "Windows-1255, Hebrew",
    "cp1250": "Windows-1250, Central European",
    "cp1251": "Windows-1251, Cyrillic",
    "cp1253": "Windows-1253, Greek",
    "cp1254": "Windows-1254, Turkish",
    "cp1256": "Windows-1256, Arabic",
    "cp1257": "Windows-1257, Baltic",
    "cp1258": "Windows-1258, Vietnamese",
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DELIMITERS = (",", ";", "\t", "|", "^")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "^": "caret"}
#: How much of a file the delimiter sniffer looks at.
_SAMPLE_CHARS = 16_000
#: Chaos (charset-normalizer's measure of how garbled a decoding looks) within which candidates tie.
_CHAOS_TIE = 0.05


@dataclass(frozen=True)
class Decoded:
    """The text of a file and how it was decoded."""

    text: str
    encoding: str
    note: str | None = None


def _encoding_hint(path: Path | str) -> str:
    return (
        f"save {Path(path).name} as 'CSV UTF-8' (Excel: Save As > CSV UTF-8) or pass its encoding "
        "(encoding= in Python, --encoding on the command line, e.g. cp1255 for Hebrew Windows files)"
    )


def decode(data: bytes, path: Path | str, encoding: str | None = None) -> Decoded:
    """Decode a file's bytes: the given encoding, a byte-order mark, UTF-8, or a detected code page."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise DataError(
                f"{encoding!r} is not an encoding Python knows (try utf-8, cp1252, cp1255)"
            ) from exc
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} cannot be read as {encoding}: byte {exc.start} "
                f"({data[exc.start : exc.start + 1]!r}) "
                f"is not valid in it; {_encoding_hint(path)}"
            ) from exc
        return Decoded(_checked(text.removeprefix("\ufeff"), path), encoding)
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(name)
            except UnicodeDecodeError as exc:
                shown = "UTF-8" if name == "utf-8-sig" else name.upper()
                raise DataError(
                    f"{path} starts with a {shown} byte-order mark but is not valid {shown} "
                    f"from byte {exc.start}: the file is damaged or truncated; export it again"
                ) from exc
            shown = "utf-8" if name == "utf-8-sig" else name
            note = None if shown == "utf-8" else f"{Path(path).name} is {shown.upper()} (byte-order mark)"
            return Decoded(_checked(text.removeprefix("\ufeff"), path), shown, note)
    if b"\x00" not in data:  # NUL bytes are valid UTF-8, but in a text file they mean UTF-16 or UTF-32
        try:
            return Decoded(data.decode("utf-8"), "utf-8")
        except UnicodeDecodeError:
            pass
    return _detect(data, path)


def _checked(text: str, path: Path | str) -> str:
    if "\x00" in text:
        raise DataError(
            f"{path} holds NUL characters: it is not a text file, or it is UTF-16/UTF-32 without a "
            f"byte-order mark; {_encoding_hint(path)}"
        )
    return text


def _detect(data: bytes, path: Path | str) -> Decoded:
    from charset_normalizer import from_bytes

    if b"\x00" in data:
        best = from_bytes(data).best()
        if (
            best is not None
            and best.encoding.startswith(("utf_16", "utf_32"))
            and _looks_like_table(str(best))
        ):
            name = best.encoding.replace("_", "-")
            return Decoded(
                _checked(str(best), path),
                name,
                f"{Path(path).name} is {name.upper()} without byte-order mark",
            )
        _checked("\x00", path)
    results = list(from_bytes(data, cp_isolation=list(CODE_PAGES)))
    if not results:
        raise DataError(
            f"{path} is not UTF-8 and no Windows code page reads it cleanly; {_encoding_hint(path)}"
        )
    # A decoding with words of accented Latin letters only is mojibake, however little chaos it shows.
    plausible = [r for r in results if not _latin_mojibake(str(r))] or results
    least = min(r.chaos for r in plausible)
    tied = [r for r in plausible if r.chaos <= least + _CHAOS_TIE]

    def rank(result: Any) -> int:
        pages = [c for c in result.could_be_from_charset if c in CODE_PAGES]
        return min((CODE_PAGES.index(c) for c in pages), default=len(CODE_PAGES))

    chosen = min(tied, key=rank)
    pages = [c for c in chosen.could_be_from_charset if c in CODE_PAGES]
    name = min(pages, key=CODE_PAGES.index) if pages else chosen.encoding
    others = sorted({r.encoding for r in tied} - {chosen.encoding, name}, key=_page_rank)[:3]
    text = data.decode(name)
    note = f"{Path(path).name} is not UTF-8; it was read as {name} ({_CODE_PAGE_NAMES.get(name, name)})"
    if others:
        note += f"; it could also be {', '.join(others)}: if the text looks wrong, pass the right encoding"
    return Decoded(_checked(text, path), name, note)


def _looks_like_table(text: str) -> bool:
    """Text of rows and fields, not bytes that merely decode: a line break or delimiter, no control codes."""
    if not any(ch in text for ch in "\n,;\t"):
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def _latin_mojibake(text: str) -> bool:
    """Whether a decoding has words of two or more accented Latin letters and no plain one (``àéùä``):
    Hebrew, Greek or Cyrillic bytes read in a Western code page look like that, Italian or French never."""
    for word in re.findall(r"[^\W\d_]{2,}", text):
        if all(ord(c) > 127 and unicodedata.name(c, "").startswith("LATIN") for c in word):
            return True
    return False


def _page_rank(name: str) -> int:
    return CODE_PAGES.index(name) if name in CODE_PAGES else len(CODE_PAGES)


def sniff_delimiter(text: str) -> str:
    """The delimiter of a delimited text: comma, semicolon, tab, pipe or caret (all of which REDCap offers).

    Each candidate is scored on the first lines of the file: the header must split into more than one field
    and every row into as many fields as the header. When exactly one candidate does, it is the delimiter;
    when several do, ``csv.Sniffer`` decides among them (the widest wins if it has no opinion); when none
    does, the candidate that splits most rows as the header is taken (and the reader then reports the
    ragged rows). A file of one column is comma-separated.
    """
    sample = text[:_SAMPLE_CHARS]
    if len(text) > _SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    scores: dict[str, tuple[float, int]] = {}
    for delim in _DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delim) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:] or rows
        scores[delim] = (sum(len(r) == width for r in body) / len(body), width)
    perfect = [d for d, (share, _) in scores.items() if share == 1.0]
    if len(perfect) == 1:
        return perfect[0]
    if perfect:
        try:
            sniffed = csv.Sniffer().sniff(sample, delimiters="".join(perfect)).delimiter
        except csv.Error:
            sniffed = ""
        return sniffed if sniffed in perfect else max(perfect, key=lambda d: scores[d][1])
    if scores:
        return max(scores, key=lambda d: scores[d][0])
    return ","


@dataclass
class Rows:
    """The non-blank rows of a source file as text, with the row number (line of a CSV, row of a sheet)
    on which each starts, and what a reader should know about how the file was read."""

    rows: list[list[str]]
    lines: list[int]
    encoding: str = "utf-8"
    delimiter: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)


def _parse_text(text: str, path: Path, delimiter: str) -> Rows:
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
                f"{path} is not a readable {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated file "
                f"near line {start}: {exc}"
            ) from exc
        if not row or all(cell.strip() == "" for cell in row):
            continue
        rows.append(row)
        lines.append(start)
    return Rows(rows, lines, delimiter=delimiter)


def read_text_rows(path: Path, delimiter: str | None = None, encoding: str | None = None) -> Rows:
    """Every non-blank row of a delimited text file; the delimiter is sniffed unless given."""
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path} is empty: it has no header and no rows")
    decoded = decode(data, path, encoding)
    if not decoded.text.strip():
        raise DataError(f"{path} is empty: it has no header and no rows")
    sniffed = delimiter is None
    delim = sniff_delimiter(decoded.text) if delimiter is None else delimiter
    parsed = _parse_text(decoded.text, path, delim)
    if not parsed.rows:
        raise DataError(f"{path} is empty: it has no header and no rows")
    parsed.encoding = decoded.encoding
    if decoded.note:
        parsed.notes.append(decoded.note)
    if sniffed and delim != ",":
        parsed.notes.append(f"{path.name} is {_DELIMITER_NAMES[delim]}-separated")
    return parsed


def _excel_engine(path: Path) -> Literal["openpyxl", "xlrd"]:
    if path.suffix.lower() != ".xls":
        return "openpyxl"
    if importlib.util.find_spec("xlrd") is None:
        raise DataError(
            f"{path} is an old Excel .xls file, which needs the xlrd package; install it "
            "(pip install xlrd) or save the sheet as .xlsx or .csv"
        )
    return "xlrd"


def excel_sheets(path: Path) -> list[str]:
    """The names of a workbook's sheets, in order."""
    import pandas as pd

    try:
        with pd.ExcelFile(path, engine=_excel_engine(path)) as book:
            return [str(s) for s in book.sheet_names]
    except DataError:
        raise
    except Exception as exc:  # openpyxl and zipfile raise several types for a damaged workbook
        raise DataError(f"{path} is not a readable Excel workbook: {exc}") from exc


def select_sheet(path: Path, sheet: str | int | None, sheets: list[str]) -> str:
    """The sheet to read: the one asked for, or the only data sheet (``codebook`` set aside), or ``data``.

    A workbook with several sheets and none asked for is refused rather than read from its first sheet,
    which is often a README or a sheet of notes.
    """
    shown = ", ".join(repr(s) for s in sheets)
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(sheets):
            raise DataError(
                f"{path} has {len(sheets)} sheet(s) ({shown}); sheet position {sheet} is not among them "
                "(positions count from 0)"
            )
        return sheets[sheet]
    if sheet is not None:
        if sheet in sheets:
            return sheet
        folded = [s for s in sheets if s.casefold() == str(sheet).strip().casefold()]
        if len(folded) == 1:
            return folded[0]
        if str(sheet).strip().isdigit():
            # "2" from the command line: a position, since no sheet has that name.
            return select_sheet(path, int(str(sheet).strip()), sheets)
        raise DataError(f"{path} has no sheet {sheet!r}; its sheets are {shown}")
    data_sheets = [s for s in sheets if s.casefold() != "codebook"]
    if len(data_sheets) == 1:
        return data_sheets[0]
    if "data" in sheets:
        return "data"
    raise DataError(
        f"{path} has {len(sheets)} sheets ({shown}); say which one holds the data "
        "(sheet= in Python, --sheet on the command line)"
    )


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export of it would hold (``3`` not ``3.0``, dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    text = str(value)
    return "" if text == "NaT" else text


def read_sheet_rows(path: Path, sheet: str | int | None = None) -> Rows:
    """Every non-blank row of one sheet of a workbook as text, numbered as the spreadsheet shows them."""
    import pandas as pd

    sheets = excel_sheets(path)
    name = select_sheet(path, sheet, sheets)
    try:
        frame = pd.read_excel(path, sheet_name=name, dtype=object, engine=_excel_engine(path), header=None)
    except Exception as exc:  # openpyxl raises several types for a damaged sheet
        raise DataError(f"{path}: cannot read sheet {name!r}: {exc}") from exc
    rows: list[list[str]] = []
    lines: list[int] = []
    for number, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        cells = [cell_text(v) for v in values]
        if any(c.strip() for c in cells):
            rows.append(cells)
            lines.append(int(number) + 1)
    # Columns empty in every row (a formatted but unused range) are not part of the table.
    width = max((max((i + 1 for i, c in enumerate(r) if c.strip()), default=0) for r in rows), default=0)
    rows = [r[:width] for r in rows]
    if not rows:
        raise DataError(f"{path} (sheet {name!r}) is empty")
    notes = [f"read sheet {name!r} of {path.name}"] if len(sheets) > 1 else []
    return Rows(rows, lines, encoding="xlsx", sheet=name, notes=notes)


def read_rows(
    path: Path, *, delimiter: str | None = None, encoding: str | None = None, sheet: str | int | None = None
) -> Rows:
    """The rows of a text file (``.csv``, ``.tsv``, ``.txt``) or of one sheet of a workbook (``.xlsx``)."""
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return read_sheet_rows(path, sheet)
    if suffix in (".tsv", ".tab") and delimiter is None:
        delimiter = "\t"
    if suffix in (".sav", ".zsav", ".parquet", ".sqlite", ".sqlite3", ".db", ".json", ".zip"):
        raise DataError(f"{path} is not a delimited text file or a workbook")
    return read_text_rows(path, delimiter, encoding)
