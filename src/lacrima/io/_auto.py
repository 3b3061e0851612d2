"""Which tool wrote a file (REDCap, Qualtrics, or none: a plain table), reading it accordingly, and writing
every table an import produced."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from lacrima.errors import DataError
from lacrima.io._export import write_table
from lacrima.io._qualtrics import looks_like_qualtrics, read_qualtrics
from lacrima.io._redcap import REDCAP_SYSTEM_COLUMNS, parse_missing_codes, read_redcap
from lacrima.io._result import ImportResult
from lacrima.io._tabular import InstrumentsLike, MappingLike, read_table
from lacrima.io._text import EXCEL_SUFFIXES, TEXT_SUFFIXES, read_rows

__all__ = ["FORMATS", "detect_format", "read_export", "write_result"]

Format = Literal["table", "redcap", "qualtrics"]
FORMATS = ("auto", "table", "redcap", "qualtrics")


def _looks_like_redcap(header: list[str]) -> bool:
    names = [h.strip() for h in header]
    if any(n in REDCAP_SYSTEM_COLUMNS for n in names):
        return True
    return bool(names) and names[0] == "record_id" and any(n.endswith("_complete") for n in names)


def _dictionaries_beside(path: Path) -> list[str]:
    return sorted(
        p.name
        for p in path.parent.glob("*.csv")
        if p != path and any(word in p.name.lower() for word in ("dictionary", "metadata"))
    )


def detect_format(
    path: str | Path,
    *,
    dictionary: str | Path | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> Format:
    """The tool that wrote a file: ``"redcap"``, ``"qualtrics"`` or ``"table"`` (anything else).

    A data dictionary means REDCap. A text file or sheet whose second or third row holds Qualtrics import
    ids (``{"ImportId":"QID1"}``, or the 2016 layout's ``{'ImportId': 'QID1'}``), or that has the legacy
    ``V1, V2, ...`` layout, is Qualtrics; so is an SPSS file with Qualtrics' metadata variables
    (``ResponseId`` with ``Status``, ``StartDate`` or ``IPAddress``). A REDCap export without its dictionary
    (``redcap_event_name``/``redcap_repeat_instrument`` columns, or ``record_id`` first with
    ``<form>_complete`` columns) is refused: reading it as a plain table would mix repeating rows into it.
    """
    path = Path(path)
    if dictionary is not None:
        return "redcap"
    if not path.exists():
        raise DataError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".sav", ".zsav"):
        import pyreadstat

        try:
            _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        except Exception as exc:  # pyreadstat raises its own ReadstatError and others
            raise DataError(
                f"{path} is not a readable SPSS .sav file (damaged or truncated?): {exc}"
            ) from exc
        names = set(meta.column_names)
        has_id = bool(names & {"ResponseId", "ResponseID"})
        return "qualtrics" if has_id and bool(names & {"Status", "StartDate", "IPAddress"}) else "table"
    if suffix not in TEXT_SUFFIXES and suffix not in EXCEL_SUFFIXES:
        return "table"
    rows = read_rows(path, encoding=encoding, sheet=sheet).rows
    if looks_like_qualtrics(rows):
        return "qualtrics"
    if rows and ({"Variable / Field Name", "field_name"} & {h.strip() for h in rows[0][:1]}):
        raise DataError(
            f"{path} is a REDCap data dictionary, not a records export: give the records export as the file "
            "and this one with --dictionary (dictionary= in Python)"
        )
    if rows and _looks_like_redcap(rows[0]):
        beside = _dictionaries_beside(path)
        hint = f" (beside it: {', '.join(beside)})" if beside else ""
        raise DataError(
            f"{path} looks like a REDCap export (its columns include REDCap's record_id, redcap_* or "
            f"<form>_complete columns), which lacrima reads with its data dictionary{hint}: pass it with "
            "--dictionary (dictionary= in Python; download it from the project's Data Dictionary page), "
            "or --format table to read the file as a plain table"
        )
    return "table"


def read_export(
    path: str | Path,
    *,
    format: str = "auto",
    dictionary: str | Path | None = None,
    mapping: MappingLike | None = None,
    instruments: InstrumentsLike = None,
    missing: str | Mapping[str, str] | Iterable[Any] | None = None,
    session_instrument: str | None = None,
    drop_identifiers: bool = False,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> ImportResult:
    """Read any export lacrima knows, choosing the reader from the file (see :func:`detect_format`).

    Parameters
    ----------
    format
        ``"auto"`` (default), ``"table"`` (:func:`read_table`), ``"redcap"`` (:func:`read_redcap`, needs
        ``dictionary``) or ``"qualtrics"`` (:func:`read_qualtrics`).
    missing
        Missing-data codes: a list (``[-99, "UNK"]``), REDCap's form (``"UNK, Unknown | NASK, Not
        asked"``) or a ``{code: label}`` dict. Default: ``-99`` for Qualtrics, none otherwise.
    drop_identifiers
        REDCap: leave out the fields the dictionary flags as identifiers. Qualtrics exports always lose
        their IP address, recipient name and e-mail, and location columns.

    The other parameters are those of the reader chosen.
    """
    if format not in FORMATS:
        raise DataError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if dictionary is not None and format in ("table", "qualtrics"):
        raise DataError(
            f"a data dictionary belongs to a REDCap export; it makes no sense with format {format!r}"
        )
    chosen = (
        detect_format(path, dictionary=dictionary, sheet=sheet, encoding=encoding)
        if format == "auto"
        else format
    )
    if session_instrument is not None and chosen != "redcap":
        raise DataError("session_instrument (--session-instrument) names a REDCap repeating instrument")
    if chosen == "redcap":
        if dictionary is None:
            raise DataError("a REDCap import needs its data dictionary (--dictionary, the project's CSV)")
        return read_redcap(
            path,
            dictionary,
            mapping=mapping,
            instruments=instruments,
            missing_codes=parse_missing_codes(missing) or None,
            session_instrument=session_instrument,
            drop_identifiers=drop_identifiers,
            encoding=encoding,
            sheet=sheet,
        )
    codes = [_number_or_text(c) for c in parse_missing_codes(missing)]
    if chosen == "qualtrics":
        return read_qualtrics(
            path,
            mapping=mapping,
            instruments=instruments,
            missing=codes if missing is not None else (-99,),
            encoding=encoding,
            sheet=sheet,
        )
    return read_table(
        path, sheet=sheet, mapping=mapping, instruments=instruments, missing=codes, encoding=encoding
    )


def _number_or_text(code: str) -> float | str:
    try:
        return float(code)
    except ValueError:
        return code


def result_paths(result: ImportResult, path: str | Path) -> list[tuple[Path, str | None]]:
    """Where each table of an import goes: the main table at ``path``, each other table beside it as
    ``<stem>.<name><suffix>`` (``study.sessions.csv``, ``study.bp.csv``)."""
    path = Path(path)
    out: list[tuple[Path, str | None]] = []
    for name, _, _ in result.all_tables():
        if name is None:
            out.append((path, None))
            continue
        # "codebook" would collide with the main table's codebook files.
        safe = f"{name}_table" if name.lower() == "codebook" else name
        out.append((path.with_name(f"{path.stem}.{safe}{path.suffix}"), name))
    return out


def write_result(result: ImportResult, path: str | Path) -> list[Path]:
    """Write every table an import produced, each with its codebook; all of them or none.

    The main table goes to ``path``; ``.sessions`` and each of ``.tables`` beside it (see
    :func:`result_paths`). Every file is first written into a temporary folder beside the target and moved
    into place only when all were written, so a failure leaves no new file and keeps older ones intact.
    """
    path = Path(path)
    targets = result_paths(result, path)
    tables = {name: (frame, book) for name, frame, book in result.all_tables()}
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=folder))
    except OSError as exc:
        raise DataError(f"cannot write into {folder}: {exc.strerror or exc}") from exc
    try:
        written: list[Path] = []
        for target, name in targets:
            frame, book = tables[name]
            written += write_table(frame, staging / target.name, codebook=book)
        finals = [folder / p.name for p in written]
        for final in finals:
            if final.is_dir():
                raise DataError(f"cannot write {final}: it is a folder; choose another output name")
        for tmp, final in zip(written, finals, strict=True):
            try:
                os.replace(tmp, final)
            except OSError as exc:
                raise DataError(f"cannot write {final}: {exc.strerror or exc}") from exc
        return finals
    finally:
        shutil.rmtree(staging, ignore_errors=True)
