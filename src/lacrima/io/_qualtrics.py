"""Qualtrics exports: CSV, TSV and Excel files with three header rows (export tag, question text, import id)
before the responses, in the current or the 2016 layout, and SPSS files with the same columns as variables."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from lacrima.errors import DataError, Problem
from lacrima.io._mapping import squash
from lacrima.io._pipeline import is_blank, prepare_table, raise_problems, value_key
from lacrima.io._result import Codebook, ImportResult
from lacrima.io._tabular import InstrumentsLike, MappingLike, frame_from_rows, make_context, read_sav_frame
from lacrima.io._text import read_rows

__all__ = ["IDENTIFYING_IMPORT_IDS", "QUALTRICS_SAV_NAMES", "looks_like_qualtrics", "read_qualtrics"]

#: Numeric codes of the Status ("Response Type") column in exports with numeric values.
STATUS_CODES = {
    0: "IP Address",
    1: "Survey Preview",
    2: "Survey Test",
    4: "Imported",
    8: "Spam",
    9: "Survey Preview Spam",
    12: "Imported Spam",
    16: "Offline",
    17: "Offline Survey Preview",
}
DEFAULT_DROP_STATUS = (
    "Survey Preview",
    "Survey Test",
    "Spam",
    "Survey Preview Spam",
    "Imported Spam",
    "Offline Survey Preview",
)
#: Import ids of metadata columns that identify a respondent directly.
IDENTIFYING_IMPORT_IDS = frozenset(
    {"ipAddress", "recipientLastName", "recipientFirstName", "recipientEmail", "locationLatitude",
     "locationLongitude"}
)  # fmt: skip
_TEXT_IMPORT_IDS = frozenset(
    {"startDate", "endDate", "recordedDate", "_recordId", "distributionChannel", "userLanguage",
     "externalDataReference", "status"}
)  # fmt: skip


#: Import ids of the 2016 layout (``{'ImportId': 'panel-RecipientEmail'}``) as the current layout names them.
_IDS_2016 = {
    "responseId": "_recordId",
    "panel-RecipientLastName": "recipientLastName",
    "panel-RecipientFirstName": "recipientFirstName",
    "panel-RecipientEmail": "recipientEmail",
    "panel-ExternalDataReference": "externalDataReference",
    "Location-LocationLatitude": "locationLatitude",
    "Location-LocationLongitude": "locationLongitude",
    "Location-LocationAccuracy": "locationAccuracy",
}
#: Variable names of the metadata columns in a Qualtrics SPSS export, by import id.
QUALTRICS_SAV_NAMES = {
    "StartDate": "startDate",
    "EndDate": "endDate",
    "Status": "status",
    "IPAddress": "ipAddress",
    "Progress": "progress",
    "Duration__in_seconds_": "duration",
    "Finished": "finished",
    "RecordedDate": "recordedDate",
    "ResponseId": "_recordId",
    "ResponseID": "_recordId",
    "RecipientLastName": "recipientLastName",
    "RecipientFirstName": "recipientFirstName",
    "RecipientEmail": "recipientEmail",
    "ExternalReference": "externalDataReference",
    "ExternalDataReference": "externalDataReference",
    "LocationLatitude": "locationLatitude",
    "LocationLongitude": "locationLongitude",
    "DistributionChannel": "distributionChannel",
    "UserLanguage": "userLanguage",
}


def _import_id(cell: str) -> tuple[str | None, bool]:
    """The import id of a third-row cell, and whether it is written in the 2016 layout."""
    text = cell.strip()
    if not text.startswith("{"):
        return None, False
    legacy = False
    try:
        parsed = json.loads(text)
    except ValueError:
        # The 2016 layout writes the cell as a Python dict: {'ImportId': 'QID1'}.
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None, False
        legacy = True
    if isinstance(parsed, dict) and isinstance(parsed.get("ImportId"), str) and parsed["ImportId"]:
        iid = str(parsed["ImportId"])
        return (_IDS_2016.get(iid, iid) if legacy else iid), legacy
    return None, False


def _import_ids(path: Path, tags: list[str], row: list[str], line: int) -> tuple[list[str], bool]:
    parsed = [_import_id(cell) for cell in row] + [(None, False)] * max(0, len(tags) - len(row))
    ids = [iid for iid, _ in parsed]
    found = [i for i in ids if i is not None]
    if not found:
        shown = ", ".join(repr(c) for c in row[:4])
        raise DataError(
            f"{path} lacks the Qualtrics import-id header row: line {line} should hold cells such as "
            f'{{"ImportId":"QID12_4"}} but holds {shown} ...; export the responses again as CSV from '
            "Qualtrics with its three header rows (export tag, question text, import id), or read a file "
            "with one header row with read_table()"
        )
    problems = [
        Problem(
            f'the import-id cell of column {tag!r} is not like {{"ImportId":"QID12_4"}}', row=line, column=tag
        )
        for tag, iid in zip(tags, ids, strict=False)
        if iid is None
    ]
    raise_problems(problems, str(path))
    return [str(i) for i in ids[: len(tags)]], any(legacy for _, legacy in parsed)


def _is_legacy_v_layout(rows: list[list[str]]) -> bool:
    """The layout of exports before 2016: ``V1 ... V10`` over the metadata, question text on row 2."""
    head = [c.strip() for c in rows[0][:10]]
    return head[:3] == ["V1", "V2", "V3"] and len(rows) > 1 and rows[1][0].strip().lower() == "responseid"


def looks_like_qualtrics(rows: list[list[str]]) -> bool:
    """Whether the first rows of a text file or sheet are those of a Qualtrics export (any layout)."""
    if not rows:
        return False
    if _is_legacy_v_layout(rows):
        return True
    return any("ImportId" in cell for row in rows[1:3] for cell in row)


@dataclass
class _Source:
    """A Qualtrics export brought to one shape: raw cells, column names, import ids and labels."""

    raw: pd.DataFrame
    names: list[str]
    ids: list[str]
    tags: list[str]
    labels: dict[str, str]
    values: dict[str, dict[Any, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _from_rows(path: Path, encoding: str | None, sheet: str | int | None) -> _Source:
    parsed = read_rows(path, encoding=encoding, sheet=sheet)
    if _is_legacy_v_layout(parsed.rows):
        raise DataError(
            f"{path} is a Qualtrics export in the legacy layout (before 2016: headers V1, V2, ... over the "
            "metadata and no import-id row), which lacrima does not read: its columns cannot be matched to "
            "questions reliably. Export the responses again from Qualtrics (Data & Analysis > Export data) "
            "as CSV, which writes the three header rows with import ids, or as SPSS"
        )
    if len(parsed.rows) < 3:
        raise DataError(
            f"{path} has {len(parsed.rows)} non-blank row(s); a Qualtrics export has three header rows "
            "(export tag, question text, import id) before the responses"
        )
    tags = [t.strip() for t in parsed.rows[0]]
    texts = (parsed.rows[1] + [""] * len(tags))[: len(tags)]
    ids, layout_2016 = _import_ids(path, tags, parsed.rows[2], parsed.lines[2])
    if len(parsed.rows) == 3:
        raise DataError(f"{path} has the three Qualtrics header rows but no responses")
    notes = list(parsed.notes)
    if layout_2016:
        notes.append("the file is in Qualtrics' 2016 export layout ({'ImportId': ...} cells); read as such")
    # Name each column by its export tag; tags used by more than one column get their import id added.
    names = [tag if tags.count(tag) == 1 else f"{tag} ({iid})" for tag, iid in zip(tags, ids, strict=True)]
    # "Duration (in seconds)" is no valid variable name in SPSS or R; its label keeps the unit.
    names = [
        "Duration" if iid == "duration" and "Duration" not in tags else n
        for n, iid in zip(names, ids, strict=True)
    ]
    problems: list[Problem] = []
    raw = frame_from_rows(names, parsed.rows[3:], parsed.lines[3:], str(path), problems)
    raise_problems(problems, str(path))
    labels = {name: text.strip() for name, text in zip(names, texts, strict=True) if text.strip()}
    return _Source(raw, names, ids, tags, labels, notes=notes)


def _from_sav(path: Path) -> _Source:
    frame, meta, notes = read_sav_frame(path)
    names = [str(c) for c in frame.columns]
    if not any(n in QUALTRICS_SAV_NAMES for n in names):
        raise DataError(
            f"{path} is an SPSS file without Qualtrics' metadata variables (ResponseId, Status, ...); read "
            "it with read_table() (--format table), or export it from Qualtrics as SPSS again"
        )
    ids = [QUALTRICS_SAV_NAMES.get(n, n) for n in names]
    raw = pd.DataFrame({c: pd.Series(frame[c].to_numpy(dtype=object), dtype=object) for c in frame.columns})
    raw.index = pd.Index(range(1, len(frame) + 1), dtype="int64")
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    # Status codes become their names (Survey Preview ...), so their value labels no longer apply.
    values = {
        k: dict(v)
        for k, v in (meta.variable_value_labels or {}).items()
        if QUALTRICS_SAV_NAMES.get(k) != "status"
    }
    return _Source(raw, names, ids, names, labels, values, notes)


def _status_name(value: Any) -> str:
    key = value_key(value)
    if isinstance(key, float) and key.is_integer() and int(key) in STATUS_CODES:
        return STATUS_CODES[int(key)]
    return str(value).strip()


def read_qualtrics(
    path: str | Path,
    *,
    mapping: MappingLike | None = None,
    instruments: InstrumentsLike = None,
    missing: Iterable[Any] = (-99,),
    drop_status: Iterable[str] = DEFAULT_DROP_STATUS,
    finished_only: bool = False,
    drop_identifiers: bool = True,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> ImportResult:
    """Read a Qualtrics export (CSV, TSV, Excel or SPSS) into a respondent table.

    Parameters
    ----------
    path
        The file as Qualtrics exports it. CSV, TSV ("Unicode text", UTF-16) and Excel exports hold export
        tags, question texts, then import ids such as ``{"ImportId":"QID12_4"}`` (or, in the 2016 layout,
        ``{'ImportId': 'QID12-4'}``), then one row per response. An SPSS ``.sav`` export holds the same
        columns as variables, with the question texts as variable labels. Numeric-value and choice-text
        exports both work (map choice texts to numbers with recodes in the mapping).
    mapping
        Maps source columns to lacrima columns. A source column may be named by its import id
        (``QID12_4``, which stays the same when questions are renamed or retagged) or by its export tag
        (only when no other column has the same tag).
    instruments
        Instrument ids or objects whose items the answers are checked against.
    missing
        Codes that mean "seen but unanswered" or "no answer" (default ``-99``, Qualtrics' usual recode);
        they become NaN.
    drop_status
        Values of the ``Status`` column (Response Type) whose rows are not real responses; they are
        dropped and counted in ``.excluded``. Numeric status codes are translated first (1 is Survey
        Preview, 2 Survey Test, 8 Spam ...).
    finished_only
        Drop responses whose ``Finished`` is 0 (counted as ``unfinished``).
    drop_identifiers
        Leave out IP address, recipient name and e-mail, and location columns, whatever the file type.
    encoding
        Text exports only: the encoding (default: detected, see :func:`read_table`).
    sheet
        Excel exports only: the sheet that holds the responses.

    Returns
    -------
    ImportResult
        When the mapping gives no ``participant_id``, ``ResponseId`` becomes ``participant_id``; when it
        gives no ``language``, ``UserLanguage`` (lower-cased) becomes ``language``.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    is_sav = path.suffix.lower() in (".sav", ".zsav")
    src = _from_sav(path) if is_sav else _from_rows(path, encoding, sheet)
    raw, names, ids, tags = src.raw, src.names, src.ids, src.tags
    ctx = make_context(str(path), mapping, instruments, missing)
    ctx.notes.extend(src.notes)
    duplicated = sorted({t for t in tags if tags.count(t) > 1})
    if duplicated:
        ctx.notes.append(
            f"export tags used by more than one column: {duplicated}; those columns are named "
            "'<tag> (<import id>)', map them by import id"
        )
    problems: list[Problem] = []
    by_id = dict(zip(ids, names, strict=True))
    by_tag = {tag: name for tag, name in zip(tags, names, strict=True) if tags.count(tag) == 1}

    # Rewrite the mapping's source names (import ids or unique tags) to the column names used here.
    columns: dict[str, str] = {}
    for source, target in ctx.mapping.columns.items():
        if source in by_id:
            columns[by_id[source]] = target
        elif source in by_tag:
            columns[by_tag[source]] = target
        elif source in duplicated:
            shared = [iid for tag, iid in zip(tags, ids, strict=True) if tag == source]
            problems.append(
                Problem(
                    f"export tag {source!r} names {len(shared)} columns ({', '.join(shared)}); map one of "
                    "them by its import id",
                    column=source,
                )
            )
        else:
            columns[source] = target  # reported as absent by the shared steps
    raise_problems(problems, str(path))
    drop = [by_id.get(c, by_tag.get(c, c)) for c in ctx.mapping.drop]
    targets = set(columns.values())
    if (
        "participant_id" not in targets
        and "_recordId" in by_id
        and not any(squash(n) == "participantid" for n in names)
    ):
        columns[by_id["_recordId"]] = "participant_id"
        ctx.notes.append("ResponseId became participant_id")
    if (
        "language" not in targets
        and "userLanguage" in by_id
        and not any(squash(n) == "language" for n in names)
    ):
        col = by_id["userLanguage"]
        columns[col] = "language"
        raw[col] = raw[col].map(lambda v: v.strip().lower() if isinstance(v, str) else v)
    if drop_identifiers:
        gone = [by_id[i] for i in IDENTIFYING_IMPORT_IDS if i in by_id and by_id[i] not in columns]
        raw = raw.drop(columns=gone)
        if gone:
            ctx.notes.append(f"identifying columns {sorted(gone)} are left out (drop_identifiers=True)")
    ctx.mapping = replace(ctx.mapping, columns=columns, drop=tuple(drop))

    excluded: dict[str, int] = {}
    keep = pd.Series(True, index=raw.index)
    if "status" in by_id:
        status = raw[by_id["status"]].map(_status_name)
        dropped = {s.casefold() for s in drop_status}
        is_dropped = status.map(lambda s: s.casefold() in dropped).astype(bool)
        for name, n in status[is_dropped].value_counts(sort=False).items():
            excluded[str(name)] = int(n)
        keep &= ~is_dropped
        raw[by_id["status"]] = status
    else:
        ctx.notes.append("the file has no Status column: every row was kept as a real response")
    if "finished" in by_id:
        finished = raw[by_id["finished"]].map(lambda v: None if is_blank(v) else value_key(v))
        unfinished = finished.isin([0.0, "false"]) & keep
        if finished_only and bool(unfinished.any()):
            excluded["unfinished"] = int(unfinished.sum())
            keep &= ~unfinished
        elif bool(unfinished.any()):
            ctx.notes.append(f"{int(unfinished.sum())} kept responses are unfinished (Finished = 0)")
    raw = raw[keep]
    if raw.empty:
        dropped_words = ", ".join(f"{n} {k}" for k, n in excluded.items())
        raise DataError(f"{path} has no real responses left after dropping {dropped_words}")

    text_columns = {by_id[i] for i in _TEXT_IMPORT_IDS if i in by_id}
    text_columns |= {
        name for name, iid in zip(names, ids, strict=True) if re.search(r"[_-]TEXT$", iid.upper())
    }
    ctx.text_columns = frozenset(text_columns)
    data, book = prepare_table(raw, ctx, Codebook(src.labels, src.values), problems)
    raise_problems(problems, str(path))
    if excluded:
        shown = ", ".join(f"{n} {k}" for k, n in excluded.items())
        ctx.notes.append(f"dropped {sum(excluded.values())} rows that are not real responses: {shown}")
    return ImportResult(
        data=data.reset_index(drop=True),
        codebook=book,
        excluded=excluded,
        notes=tuple(ctx.notes),
        source=str(path),
    )
