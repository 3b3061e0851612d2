"""REDCap exports: the flat "records" CSV (raw values, variable names as headers) and its data dictionary."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from lacrima.errors import DataError, Problem
from lacrima.io._pipeline import fmt_value, is_blank, prepare_table, raise_problems, row_label, value_key
from lacrima.io._result import Codebook, ImportResult
from lacrima.io._tabular import InstrumentsLike, MappingLike, frame_from_rows, make_context
from lacrima.io._text import read_rows

__all__ = ["REDCAP_SYSTEM_COLUMNS", "parse_choices", "parse_missing_codes", "read_redcap"]

#: Data dictionary headers as the Designer's CSV download writes them, and as the API's metadata export does.
_DICT_HEADERS = {
    "name": ("Variable / Field Name", "field_name"),
    "form": ("Form Name", "form_name"),
    "type": ("Field Type", "field_type"),
    "label": ("Field Label", "field_label"),
    "choices": ("Choices, Calculations, OR Slider Labels", "select_choices_or_calculations"),
    "validation": (
        "Text Validation Type OR Show Slider Number",
        "text_validation_type_or_show_slider_number",
    ),
    "identifier": ("Identifier?", "identifier"),
}
_REQUIRED = ("name", "form", "type", "label", "choices")
REDCAP_SYSTEM_COLUMNS = _SYSTEM = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
    "redcap_arm",
)
_CHOICE_TYPES = ("radio", "dropdown", "yesno", "truefalse")
_NUMBER_VALIDATIONS = ("integer", "number", "number_1dp", "number_2dp", "number_3dp", "number_4dp",
                       "number_comma_decimal", "number_1dp_comma_decimal",
                       "number_2dp_comma_decimal")  # fmt: skip
_COMPLETE = {0: "Incomplete", 1: "Unverified", 2: "Complete"}


@dataclass(frozen=True)
class Field:
    """One row of a REDCap data dictionary."""

    name: str
    form: str
    type: str
    label: str
    choices: tuple[tuple[str, str], ...]
    validation: str
    identifier: bool = False

    @property
    def decimal_comma(self) -> bool:
        """A "Number (comma as decimal)" field: REDCap exports its values as ``1,54``."""
        return self.type == "text" and self.validation.endswith("comma_decimal")

    @property
    def is_numeric(self) -> bool:
        if self.type in ("calc", "slider"):
            return True
        if self.type in _CHOICE_TYPES:
            return all(_is_int(code) for code, _ in self.choices)
        return self.type == "text" and self.validation in _NUMBER_VALIDATIONS


def _is_int(text: str) -> bool:
    return re.fullmatch(r"-?\d+", text.strip()) is not None


def _code(text: str) -> int | str:
    return int(text) if _is_int(text) else text.strip()


def checkbox_column(field: str, code: str) -> str:
    """The export column of one checkbox choice: REDCap lower-cases the code and turns every character
    other than a letter or digit into ``_`` (``-99`` -> ``field____99``)."""
    return f"{field}___{re.sub(r'[^a-z0-9]', '_', code.strip().lower())}"


def parse_choices(
    text: str, field: str = "", problems: list[Problem] | None = None
) -> tuple[tuple[str, str], ...]:
    """``"1, Yes | 0, No"`` -> ``(("1", "Yes"), ("0", "No"))``."""
    out: list[tuple[str, str]] = []
    for part in text.split("|"):
        if not part.strip():
            continue
        code, sep, label = part.partition(",")
        if not sep and problems is not None:
            problems.append(Problem(f"choice {part.strip()!r} has no 'code, label' form", column=field))
            continue
        out.append((code.strip(), label.strip()))
    return tuple(out)


def _strip_html(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def _read_dictionary(path: Path, encoding: str | None = None) -> tuple[list[Field], list[str]]:
    parsed = read_rows(path, encoding=encoding)
    header = [h.strip() for h in parsed.rows[0]]
    where: dict[str, int] = {}
    for key, names in _DICT_HEADERS.items():
        for name in names:
            if name in header:
                where[key] = header.index(name)
    absent = [_DICT_HEADERS[k][0] for k in _REQUIRED if k not in where]
    if absent:
        raise DataError(
            f"{path} is not a REDCap data dictionary: it lacks the columns {absent}; download it from the "
            "project's Data Dictionary page (or the API's metadata export) as CSV"
        )
    problems: list[Problem] = []
    fields: list[Field] = []
    for row, line in zip(parsed.rows[1:], parsed.lines[1:], strict=True):
        cells = row + [""] * len(header)

        def cell(key: str, cells: list[str] = cells) -> str:
            return cells[where[key]].strip() if key in where else ""

        ftype = cell("type")
        choices: tuple[tuple[str, str], ...] = ()
        if ftype in ("radio", "dropdown", "checkbox"):
            choices = parse_choices(cell("choices"), cell("name"), problems)
            if not choices:
                problems.append(Problem(f"{ftype} field has no choices", row=line, column=cell("name")))
        elif ftype == "yesno":
            choices = (("1", "Yes"), ("0", "No"))
        elif ftype == "truefalse":
            choices = (("1", "True"), ("0", "False"))
        validation = cell("validation")
        fields.append(
            Field(
                cell("name"),
                cell("form"),
                ftype,
                _strip_html(cell("label")),
                choices,
                "" if validation == "NA" else validation,
                cell("identifier").lower() in ("y", "yes", "1"),
            )
        )
    if not fields:
        raise DataError(f"{path} is a data dictionary without fields")
    field_names = [f.name for f in fields]
    for name in sorted({n for n in field_names if field_names.count(n) > 1}):
        problems.append(
            Problem(f"the dictionary defines field {name!r} {field_names.count(name)} times", column=name)
        )
    raise_problems(problems, str(path))
    return fields, parsed.notes


def parse_missing_codes(codes: str | Mapping[str, str] | Iterable[Any] | None) -> dict[str, str]:
    """Missing-data codes as ``{code: label}``.

    ``codes`` is REDCap's form as the project settings show it (``"UNK, Unknown | NASK, Not asked"``), a
    ``{code: label}`` dict, or a list of codes each of which may itself be in REDCap's form (a code
    without a label is its own label): ``["-99", "UNK, Unknown | NASK, Not asked"]`` gives three codes.
    """
    if codes is None:
        return {}
    if isinstance(codes, Mapping):
        return {str(k).strip(): str(v) for k, v in codes.items()}
    items = [codes] if isinstance(codes, str) else list(codes)
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            out[fmt_value(item).strip("'")] = fmt_value(item).strip("'")
            continue
        for part in item.split("|"):
            code, sep, label = part.partition(",")
            if code.strip():
                out[code.strip()] = label.strip() if sep and label.strip() else code.strip()
    return out


def _codebook(fields: list[Field], forms: list[str], missing: Mapping[str, str]) -> Codebook:
    labels: dict[str, str] = {}
    values: dict[str, dict[Any, str]] = {}
    for f in fields:
        if f.type == "descriptive":
            continue
        if f.type == "checkbox":
            for code, text in f.choices:
                col = checkbox_column(f.name, code)
                labels[col] = f"{f.label}: {text}"
                values[col] = {0: "Unchecked", 1: "Checked"}
            for code, text in missing.items():
                col = checkbox_column(f.name, code)
                if col not in labels:
                    labels[col] = f"{f.label}: {text} (missing-data code {code})"
                    values[col] = {0: "Unchecked", 1: "Checked"}
            continue
        labels[f.name] = f.label
        if f.choices:
            values[f.name] = {_code(c): t for c, t in f.choices}
    for form in forms:
        labels[f"{form}_complete"] = f"Complete? ({form})"
        values[f"{form}_complete"] = dict(_COMPLETE)
    return Codebook(labels, values)


def read_redcap(
    data_csv: str | Path,
    dictionary_csv: str | Path,
    *,
    mapping: MappingLike | None = None,
    instruments: InstrumentsLike = None,
    missing_codes: str | Mapping[str, str] | Iterable[str] | None = None,
    session_instrument: str | None = None,
    drop_identifiers: bool = False,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> ImportResult:
    """Read a REDCap records export (CSV, raw values) with its data dictionary.

    Parameters
    ----------
    data_csv
        The records export: "CSV / Microsoft Excel (raw data)", variable names as headers. Classic and
        longitudinal projects (``redcap_event_name``) and repeating instruments or events
        (``redcap_repeat_instrument``, ``redcap_repeat_instance``) are understood.
    dictionary_csv
        The project's data dictionary (Designer download or API metadata export), used to check every
        column and value and to label them.
    mapping
        Maps REDCap variables to lacrima columns (see :func:`load_mapping`). The record id (the first
        field of the dictionary) becomes ``participant_id`` and ``redcap_event_name`` becomes ``wave``
        unless the mapping says otherwise.
    instruments
        Instrument ids or objects whose items the answers are checked against.
    missing_codes
        The project's missing-data codes, as written in its settings (``"UNK, Unknown | NASK, Not
        asked"``), a ``{code: label}`` dict or a list of codes. Those values become NaN.
    session_instrument
        The repeating instrument that holds session check-ins: its rows become ``.sessions`` (record id
        as ``client_id``, repeat instance as ``session``).
    drop_identifiers
        Leave out the fields the dictionary flags as identifiers ("Identifier?" = y). By default they are
        kept and named in the notes.
    encoding
        The encoding of the data and dictionary files (default: detected, see :func:`read_table`).
    sheet
        When the records were saved as an Excel workbook: the sheet that holds them.

    Returns
    -------
    ImportResult
        ``.data`` has one row per record (per event in longitudinal projects) with the non-repeating
        forms; each other repeating instrument is a long table in ``.tables`` keyed by instrument name.
        ``.codebook`` holds field labels, choice labels, checkbox labels and the ``<form>_complete``
        codes (0 Incomplete, 1 Unverified, 2 Complete); ``.table_codebooks`` those of the other tables.

    Notes
    -----
    "Number (comma as decimal)" fields (validation ``number_comma_decimal``, ``number_1dp_comma_decimal``
    ...) are exported as ``1,54``; they are read as numbers. A checkbox column for one of the project's
    missing-data codes (``gym___unk``) is read as 0/1 with a codebook label even when the codes are not
    passed. A header naming a column twice is refused (keeping one would lose the other's values). The
    files may be comma-, semicolon- or tab-separated, in any encoding :func:`read_table` understands, or
    ``.xlsx`` workbooks.
    """
    data_path, dict_path = Path(data_csv), Path(dictionary_csv)
    for p in (data_path, dict_path):
        if not p.exists():
            raise DataError(f"{p} does not exist")
    fields, dict_notes = _read_dictionary(dict_path, encoding)
    record_id = fields[0].name
    forms = list(dict.fromkeys(f.form for f in fields))
    codes = parse_missing_codes(missing_codes)
    by_column: dict[str, Field] = {}
    form_of: dict[str, str] = {}
    for f in fields:
        if f.type == "descriptive":
            continue
        if f.type == "checkbox":
            for code in [c for c, _ in f.choices] + list(codes):
                by_column[checkbox_column(f.name, code)] = f
                form_of[checkbox_column(f.name, code)] = f.form
        else:
            by_column[f.name] = f
            form_of[f.name] = f.form
    for form in forms:
        form_of[f"{form}_complete"] = form
        form_of[f"{form}_timestamp"] = form

    parsed = read_rows(data_path, encoding=encoding, sheet=sheet)
    header = [h.strip() for h in parsed.rows[0]]
    coded_boxes = _missing_code_checkboxes(header, fields, by_column, form_of)
    if record_id not in header:
        raise DataError(
            f"{data_path} has no column {record_id!r}, the record id (first field of {dict_path}); "
            "export the "
            "records as 'CSV (raw data)' with variable names as headers, from the same project"
        )
    if len(parsed.rows) == 1:
        raise DataError(f"{data_path} has a header but no records")
    problems = [
        Problem(
            "this column is not in the data dictionary; export the data and the dictionary from the same "
            "project version, with variable names (not labels) as headers",
            column=col,
        )
        for col in header
        if col not in form_of and col not in _SYSTEM and col not in by_column
    ]
    raw = frame_from_rows(header, parsed.rows[1:], parsed.lines[1:], str(data_path), problems)
    raise_problems(problems, str(data_path))

    ctx = make_context(str(data_path), mapping, instruments)
    ctx.notes.extend([*dict_notes, *parsed.notes])
    if coded_boxes:
        ctx.notes.append(
            "checkbox columns for missing-data codes read as 0/1 (1: the field was marked with that code): "
            + ", ".join(coded_boxes)
        )
    identifiers = [f.name for f in fields if f.identifier and f.name != record_id and f.name in header]
    if identifiers and drop_identifiers:
        raw = raw.drop(columns=identifiers)
        header = [h for h in header if h not in identifiers]
        ctx.notes.append(f"fields flagged as identifiers in the dictionary are left out: {identifiers}")
    elif identifiers:
        ctx.notes.append(
            f"fields flagged as identifiers in the dictionary are kept: {identifiers}; leave them out with "
            "drop_identifiers=True (--drop-identifiers) or pseudonymise the table before sharing it"
        )
    comma_fields: list[str] = []
    for source in ctx.mapping.columns:
        if source not in header:
            problems.append(
                Problem(f"the mapping names column {source!r}, which the export does not have", column=source)
            )
    # Missing-data codes and REDCap's own checks of each value against the dictionary.
    code_keys = {value_key(c): c for c in codes}
    hits: dict[str, int] = {}
    for col in header:
        found = by_column.get(col)
        if found is None:
            continue
        f = found
        values = raw[col]
        is_code = values.map(lambda v: not is_blank(v) and value_key(v) in code_keys).astype(bool)
        for v in values[is_code]:
            hits[code_keys[value_key(v)]] = hits.get(code_keys[value_key(v)], 0) + 1
        values = values.mask(is_code, "")
        if f.decimal_comma:
            values, changed = _decimal_commas(values)
            if changed:
                comma_fields.append(col)
        raw[col] = values
        allowed: set[Any] | None = None
        if f.type == "checkbox":
            allowed = {0.0, 1.0}
        elif f.type in _CHOICE_TYPES:
            allowed = {value_key(c) for c, _ in f.choices}
        bad_rows: list[Any] = []
        for row, v in values.items():
            if is_blank(v):
                continue
            key = value_key(v)
            if (allowed is not None and key not in allowed) or (
                allowed is None and f.is_numeric and not isinstance(key, float)
            ):
                bad_rows.append(row)
            if allowed is not None and key not in allowed:
                shown = "0 or 1" if f.type == "checkbox" else ", ".join(c for c, _ in f.choices)
                problems.append(
                    Problem(
                        f"{f.type} field has value {fmt_value(v)}; its codes are {shown}",
                        row=row_label(row),
                        column=col,
                    )
                )
            elif allowed is None and f.is_numeric and not isinstance(key, float):
                problems.append(
                    Problem(
                        f"{f.type} field has value {fmt_value(v)}, which is not a number; "
                        + _number_hint(f, v),
                        row=row_label(row),
                        column=col,
                    )
                )
        # Reported once here; blank so that the checks against the instruments do not report it again.
        raw.loc[bad_rows, col] = ""
    for form in forms:
        col = f"{form}_complete"
        if col in raw.columns:
            for row, v in raw[col].items():
                if not is_blank(v) and value_key(v) not in (0.0, 1.0, 2.0):
                    problems.append(
                        Problem(
                            f"form status has value {fmt_value(v)}; it is 0, 1 or 2",
                            row=row_label(row),
                            column=col,
                        )
                    )
    if comma_fields:
        ctx.notes.append(
            f"decimal commas read as decimal points ('Number (comma as decimal)'): {comma_fields}"
        )
    if hits:
        ctx.notes.append(
            "missing-data codes set to NaN: " + ", ".join(f"{n} x {c} ({codes[c]})" for c, n in hits.items())
        )
    text_columns = frozenset(
        col for col, f in by_column.items() if f.type in ("text", "notes", "file", "sql") and not f.is_numeric
    ) | {record_id, "redcap_event_name", "redcap_repeat_instrument", "redcap_data_access_group"}
    ctx.text_columns = text_columns
    codebook = _codebook(fields, forms, codes).merged(_missing_code_labels(coded_boxes, by_column, codes))

    repeat = (
        raw["redcap_repeat_instrument"]
        if "redcap_repeat_instrument" in raw
        else pd.Series("", index=raw.index)
    )
    repeat = repeat.map(lambda v: "" if is_blank(v) else str(v).strip())
    repeating_forms = [f for f in dict.fromkeys(repeat[repeat != ""]) if f]
    unknown_forms = [f for f in repeating_forms if f not in forms]
    if unknown_forms:
        raise DataError(f"{data_path}: repeating instruments {unknown_forms} are not forms of {dict_path}")
    longitudinal = "redcap_event_name" in raw.columns
    keys = [record_id] + (["redcap_event_name"] if longitudinal else [])

    main_rows = raw[repeat == ""]
    main_cols = [
        c for c in raw.columns if form_of.get(c) not in repeating_forms and c != "redcap_repeat_instrument"
    ]
    main = main_rows[main_cols]
    if "redcap_repeat_instance" in main.columns and bool(main["redcap_repeat_instance"].map(is_blank).all()):
        main = main.drop(columns="redcap_repeat_instance")
    user_targets = set(ctx.mapping.columns.values())
    defaults = {record_id: "participant_id"}
    if longitudinal:
        defaults["redcap_event_name"] = "wave"
    main_ctx = copy.copy(ctx)
    main_ctx.mapping = replace(
        ctx.mapping,
        columns={
            **{k: v for k, v in defaults.items() if k not in ctx.mapping.columns and v not in user_targets},
            **ctx.mapping.columns,
        },
    )
    main_ctx.extra_keys = ("redcap_repeat_instance",)
    main_ctx.notes = ctx.notes
    main_ctx.mapping = _restrict(main_ctx.mapping, main.columns)
    data, book = prepare_table(main, main_ctx, codebook, problems)

    tables: dict[str, pd.DataFrame] = {}
    table_books: dict[str, Codebook] = {}
    sessions: pd.DataFrame | None = None
    if session_instrument is not None and session_instrument not in repeating_forms:
        raise DataError(
            f"{data_path}: {session_instrument!r} has no repeating rows; the repeating instruments are "
            f"{repeating_forms or 'none'}"
        )
    for form in repeating_forms:
        cols = [*keys, "redcap_repeat_instance", *[c for c in raw.columns if form_of.get(c) == form]]
        part = raw.loc[repeat == form, cols]
        form_ctx = copy.copy(ctx)
        form_ctx.notes = ctx.notes
        if form == session_instrument:
            base = {record_id: "client_id", "redcap_repeat_instance": "session"}
            if longitudinal:
                form_ctx.extra_keys = ("redcap_event_name",)
        else:
            base = {record_id: "participant_id", "redcap_repeat_instance": "instance"}
            form_ctx.extra_keys = ("instance", "wave")
            if longitudinal:
                base["redcap_event_name"] = "wave"
        form_ctx.mapping = _restrict(
            replace(ctx.mapping, columns={**ctx.mapping.columns, **base}), part.columns
        )
        table, table_book = prepare_table(part, form_ctx, codebook, problems)
        table = table.reset_index(drop=True)
        if form == session_instrument:
            sessions = table
            table_books["sessions"] = table_book
        else:
            tables[form] = table
            table_books[form] = table_book
    raise_problems(problems, str(data_path))
    if repeating_forms:
        ctx.notes.append(f"repeating instruments read as long tables: {repeating_forms}")
    return ImportResult(
        data=data.reset_index(drop=True),
        codebook=book,
        notes=tuple(ctx.notes),
        tables=tables,
        sessions=sessions,
        source=str(data_path),
        table_codebooks=table_books,
    )


def _missing_code_checkboxes(
    header: list[str], fields: list[Field], by_column: dict[str, Field], form_of: dict[str, str]
) -> list[str]:
    """Columns such as ``gym___unk``: REDCap adds one per missing-data code to every checkbox field of a
    project that defines such codes. They are registered as 0/1 columns of their field."""
    boxes = [f for f in fields if f.type == "checkbox"]
    found: list[str] = []
    for col in header:
        if col in by_column or col in form_of:
            continue
        for f in boxes:
            if col.startswith(f"{f.name}___") and len(col) > len(f.name) + 3:
                by_column[col] = f
                form_of[col] = f.form
                found.append(col)
                break
    return found


def _missing_code_labels(
    columns: list[str], by_column: Mapping[str, Field], codes: Mapping[str, str]
) -> Codebook:
    labels: dict[str, str] = {}
    values: dict[str, dict[Any, str]] = {}
    for col in columns:
        f = by_column[col]
        suffix = col[len(f.name) + 3 :]
        known = [c for c in codes if checkbox_column(f.name, c) == col]
        what = (
            f"{codes[known[0]]} (missing-data code {known[0]})" if known else f"missing-data code {suffix!r}"
        )
        labels[col] = f"{f.label}: {what}"
        values[col] = {0: "Unchecked", 1: "Checked"}
    return Codebook(labels, values)


_COMMA_NUMBER = re.compile(r"\s*-?\d+(,\d+)?\s*")


def _decimal_commas(values: pd.Series) -> tuple[pd.Series, bool]:
    """``"1,54"`` -> ``"1.54"`` in a "Number (comma as decimal)" field; other cells are left as they are."""

    def fix(v: Any) -> Any:
        if isinstance(v, str) and "," in v and _COMMA_NUMBER.fullmatch(v):
            return v.replace(",", ".")
        return v

    fixed = values.map(fix)
    return fixed, bool((fixed.astype(object) != values.astype(object)).any())


def _number_hint(f: Field, value: Any) -> str:
    if isinstance(value, str) and _COMMA_NUMBER.fullmatch(value):
        return (
            f"it has a decimal comma, but the dictionary validates the field as {f.validation!r}, not as "
            "'Number (comma as decimal)'; download the dictionary of the same project, or correct the value"
        )
    return "if it is one of the project's missing-data codes, pass it in missing_codes"


def _restrict(mapping: Any, columns: Iterable[str]) -> Any:
    """The mapping with only the entries whose source column is in ``columns`` (the other tables use the
    rest), and without the drop list's foreign columns."""
    present = set(columns)
    return replace(
        mapping,
        columns={s: t for s, t in mapping.columns.items() if s in present},
        drop=tuple(c for c in mapping.drop if c in present),
    )
