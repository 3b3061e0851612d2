"""Qualtrics CSV exports: three header rows (export tag, question text, import id), then the responses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from lacrima.errors import DataError, Problem
from lacrima.io._mapping import squash
from lacrima.io._pipeline import is_blank, prepare_table, raise_problems, value_key
from lacrima.io._result import Codebook, ImportResult
from lacrima.io._tabular import InstrumentsLike, MappingLike, frame_from_rows, make_context, read_delimited

__all__ = ["read_qualtrics"]

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


def _import_id(cell: str) -> str | None:
    text = cell.strip()
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("ImportId"), str) and parsed["ImportId"]:
        return str(parsed["ImportId"])
    return None


def _import_ids(path: Path, tags: list[str], row: list[str], line: int) -> list[str]:
    ids = [_import_id(cell) for cell in row] + [None] * max(0, len(tags) - len(row))
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
    return [str(i) for i in ids[: len(tags)]]


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
) -> ImportResult:
    """Read a Qualtrics CSV export (three header rows) into a respondent table.

    Parameters
    ----------
    path
        The CSV file as Qualtrics exports it: export tags, question texts, then import ids such as
        ``{"ImportId":"QID12_4"}``, then one row per response. Numeric-value and choice-text exports both
        work (map choice texts to numbers with recodes in the mapping).
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
        Leave out IP address, recipient name and e-mail, and location columns.

    Returns
    -------
    ImportResult
        When the mapping gives no ``participant_id``, ``ResponseId`` becomes ``participant_id``; when it
        gives no ``language``, ``UserLanguage`` (lower-cased) becomes ``language``.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    parsed = read_delimited(path, ",")
    if len(parsed.rows) < 3:
        raise DataError(
            f"{path} has {len(parsed.rows)} non-blank row(s); a Qualtrics export has three header rows "
            "(export tag, question text, import id) before the responses"
        )
    tags = [t.strip() for t in parsed.rows[0]]
    texts = (parsed.rows[1] + [""] * len(tags))[: len(tags)]
    ids = _import_ids(path, tags, parsed.rows[2], parsed.lines[2])
    ctx = make_context(str(path), mapping, instruments, missing)
    if len(parsed.rows) == 3:
        raise DataError(f"{path} has the three Qualtrics header rows but no responses")

    # Name each column by its export tag; tags used by more than one column get their import id added.
    names = [tag if tags.count(tag) == 1 else f"{tag} ({iid})" for tag, iid in zip(tags, ids, strict=True)]
    # "Duration (in seconds)" is no valid variable name in SPSS or R; its label keeps the unit.
    names = [
        "Duration" if iid == "duration" and "Duration" not in tags else n
        for n, iid in zip(names, ids, strict=True)
    ]
    duplicated = sorted({t for t in tags if tags.count(t) > 1})
    if duplicated:
        ctx.notes.append(
            f"export tags used by more than one column: {duplicated}; those columns are named "
            "'<tag> (<import id>)', map them by import id"
        )
    problems: list[Problem] = []
    raw = frame_from_rows(names, parsed.rows[3:], parsed.lines[3:], str(path), problems)
    raise_problems(problems, str(path))
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
    text_columns |= {name for name, iid in zip(names, ids, strict=True) if iid.upper().endswith("_TEXT")}
    ctx.text_columns = frozenset(text_columns)
    labels = {name: text.strip() for name, text in zip(names, texts, strict=True) if text.strip()}
    data, book = prepare_table(raw, ctx, Codebook(labels), problems)
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
