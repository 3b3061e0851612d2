"""The steps every importer shares: rename, sentinels to NaN, recodes, validation against the instruments,
type conversion and checks of participant ids.

Every importer first builds a *raw* table: one object column per source column, values as written in the
source, indexed by the row number a person sees in the source file (line number in a CSV, row number in a
spreadsheet, case number in an SPSS file). Problems then name rows the user can find.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lacrima.errors import DataError, Problem
from lacrima.instruments import Instrument, Item
from lacrima.io._mapping import (
    ID_COLUMNS,
    SESSION_COLUMNS,
    STANDARD_COLUMNS,
    ColumnMapping,
    NameMatcher,
)
from lacrima.io._result import Codebook

__all__ = ["Context", "fmt_value", "is_blank", "prepare_table", "raise_problems", "row_label", "value_key"]


@dataclass
class Context:
    """What an importer tells the shared steps, and the notes they add."""

    source: str
    mapping: ColumnMapping
    instruments: Sequence[Instrument]
    missing: tuple[Any, ...] = ()
    notes: list[str] = field(default_factory=list)
    text_columns: frozenset[str] = frozenset()
    #: Further columns that, with the participant or client id, identify a row (e.g. a repeat instance).
    extra_keys: tuple[str, ...] = ()


def is_blank(value: Any) -> bool:
    """True for None, NaN, pd.NA and strings of only white space."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (float, np.floating)):
        return math.isnan(float(value))
    return False


def value_key(value: Any) -> Any:
    """A comparable key: numbers (also written as text) as float, other text stripped and casefolded."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        return text.casefold()


def fmt_value(value: Any) -> str:
    """A value as a person would read it in the source (``9`` not ``9.0``; text quoted)."""
    if isinstance(value, (float, np.floating)) and math.isfinite(float(value)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    text = str(value).strip()
    if isinstance(value_key(text), float):
        return text
    return repr(text)


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def short_name(inst: Instrument) -> str:
    """``ecr_r`` -> ``ECR-R``: the label used in messages."""
    return inst.id.upper().replace("_", "-")


def raise_problems(problems: Sequence[Problem], source: str) -> None:
    """Raise one DataError listing every problem, if there are any."""
    if problems:
        raise DataError(
            f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''} found; fix them and "
            "import again",
            problems,
        )


def row_label(row: object) -> int | str:
    """A row label for a Problem (the index value of a raw table)."""
    if isinstance(row, (int, np.integer)):
        return int(row)
    return str(row)


def _to_number(value: Any) -> float | None:
    key = value_key(value)
    if isinstance(key, float) and not math.isnan(key):
        return key
    return None


def _range_words(item: Item) -> str:
    scale = item.scale
    if scale is None:
        return "a number"
    words = f"{_fmt_num(scale.min)}-{_fmt_num(scale.max)}"
    if scale.step != 1:
        words += f" in steps of {_fmt_num(scale.step)}"
    return words


#: Cell types whose blank test and text form plain Python gets exactly as pandas does: a CSV gives ``str``
#: cells, missing codes add NaN, spreadsheets and SPSS files add ``int``, ``float``, ``bool`` and ``None``.
#: Columns with any other type (dates, bytes, numpy scalars) take the pandas route, whose half a dozen
#: operations per column were most of the time read_table took on a survey of a hundred columns.
_PLAIN_TYPES = frozenset({str, float, int, bool, type(None)})


def _plain_cells(values: pd.Series) -> np.ndarray | None:
    """The cells as an object array if every cell is of a plain type, else None."""
    cells = values.to_numpy(dtype=object)
    return cells if set(map(type, cells)) <= _PLAIN_TYPES else None


def _blank_cells(values: pd.Series) -> np.ndarray:
    """True where a cell is empty: None, NaN or only white space (a boolean array)."""
    cells = _plain_cells(values)
    if cells is not None:
        # NaN is the only float unequal to itself; str.strip drops the same white space as pandas' .str.strip
        return np.array(
            [v is None or (v != v if type(v) is float else type(v) is str and not v.strip()) for v in cells],
            dtype=bool,
        )
    obj = values.astype(object)
    text = obj.astype("str").str.strip()
    return (obj.isna() | (text == "")).fillna(True).astype(bool).to_numpy()


def _blank_mask(values: pd.Series) -> pd.Series:
    """True where a cell is empty: None, NaN or only white space."""
    return pd.Series(_blank_cells(values), index=values.index)


def _numbers(values: pd.Series) -> pd.Series:
    """Every cell as a float (numbers written as text too); NaN where a cell is not a number."""
    try:
        parsed = pd.to_numeric(values.to_numpy(dtype=object), errors="coerce")
    except (TypeError, ValueError):
        parsed = None
    if parsed is not None and parsed.dtype.kind in "biuf":
        return pd.Series(parsed.astype("float64"), index=values.index, name=values.name)
    # to_numeric refused some cells, or gave back objects (bools among numbers, ints beyond int64 of both
    # signs): the general route below, as before.
    obj = values.astype(object)
    try:
        return pd.to_numeric(obj, errors="coerce").astype("float64")
    except (TypeError, ValueError):  # cells of types to_numeric refuses (dates, lists)
        return obj.map(lambda v: np.nan if is_blank(v) else _to_number(v)).astype("float64")


def _check_choice_text(
    values: pd.Series, item: Item, column: str, source: str, problems: list[Problem]
) -> pd.Series:
    """A choice item coded by text (``woman``, ``man``): answers matched without regard to case."""
    codes = [o.code for o in item.options]
    by_key = {str(c).casefold(): c for c in codes}
    out: list[Any] = []
    for row, value in values.items():
        if is_blank(value):
            out.append(None)
            continue
        parts = [p.strip() for p in str(value).replace(";", ",").split(",")]
        if item.type != "multi_choice":
            parts = [str(value).strip()]
        if any(p.casefold() not in by_key for p in parts):
            problems.append(
                Problem(
                    f"item {column} has value {fmt_value(value)}; "
                    f"its answers are {', '.join(map(str, codes))}",
                    row=row_label(row),
                    column=source,
                )
            )
            out.append(None)
        else:
            out.append(",".join(str(by_key[p.casefold()]) for p in parts))
    kept = pd.Series([v is not None for v in out], index=values.index)
    return pd.Series(out, index=values.index, dtype=object).astype("str").where(kept)


def _check_item(
    values: pd.Series, item: Item, inst: Instrument, column: str, source: str, problems: list[Problem]
) -> pd.Series:
    """Check every answer of one item against its scale or options; return the converted column.

    Problems name the item (``column``) in the message and the source file's column (``source``) as where.
    """
    if item.type == "text":
        return values.astype(object).astype("str").str.strip().where(~_blank_mask(values))
    codes = [o.code for o in item.options]
    if codes and not all(isinstance(c, int) for c in codes):
        return _check_choice_text(values, item, column, source, problems)
    # The checks run on numpy arrays: on a column of a few hundred answers, each pandas operation costs far
    # more in overhead than in work, and a column took a dozen of them.
    blank = _blank_cells(values)
    numbers = _numbers(values)
    nums = numbers.to_numpy(copy=True)
    if item.type == "boolean":
        words = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}
        unread = np.flatnonzero(~blank & np.isnan(nums))
        if len(unread):
            cells = values.to_numpy(dtype=object)
            nums[unread] = [words.get(str(cells[i]).strip().casefold(), np.nan) for i in unread]
    answered = ~blank & ~np.isnan(nums)
    not_number = ~blank & np.isnan(nums)
    if codes:
        out_of_range = answered & ~np.isin(nums, [float(c) for c in codes])
        allowed = f"its answers are {', '.join(map(str, codes))}"
    elif item.scale is not None:
        scale = item.scale
        with np.errstate(invalid="ignore"):  # an answer of inf (written "1e400") is out of range, quietly
            steps = (nums - scale.min) / scale.step
            off_step = np.abs(steps - np.round(steps)) > 1e-9
        out_of_range = answered & ((nums < scale.min) | (nums > scale.max) | off_step)
        allowed = f"{short_name(inst)} answers run {_range_words(item)}"
    else:
        out_of_range = np.zeros(len(nums), dtype=bool)
        allowed = "answers are numbers"
    kept = ~(blank | not_number | out_of_range)
    result = pd.Series(np.where(kept, nums, np.nan), index=values.index, name=numbers.name)
    if not bool((not_number | out_of_range).any()):
        return result
    nums_by_row = pd.Series(nums, index=values.index)
    found: list[tuple[int, Problem]] = []
    positions = {row: i for i, row in enumerate(values.index)}
    for row in values.index[not_number]:
        found.append(
            (
                positions[row],
                Problem(
                    f"item {column} has value {fmt_value(values[row])}, which is not a number; {allowed} "
                    "(turn answer labels into numbers with a recode in the mapping)",
                    row=row_label(row),
                    column=source,
                ),
            )
        )
    for row in values.index[out_of_range]:
        hint = ""
        if nums_by_row[row] < 0:
            hint = " (if this code marks a missing answer, list it under 'missing' in the mapping)"
        found.append(
            (
                positions[row],
                Problem(
                    f"item {column} has value {fmt_value(values[row])}; {allowed}{hint}",
                    row=row_label(row),
                    column=source,
                ),
            )
        )
    problems.extend(p for _, p in sorted(found, key=lambda f: f[0]))
    return result


def _infer_column(values: pd.Series, as_text: bool) -> pd.Series:
    """A non-item column: ids and mixed text stay text, all-number columns become numbers."""
    blank = _blank_cells(values)
    filled = pd.Series(~blank, index=values.index)
    if as_text:
        text = values.map(lambda v: fmt_value(v).strip("'\"") if not isinstance(v, str) else v.strip())
        return text.where(filled).astype("str").where(filled)
    if bool(blank.all()):
        return pd.Series(np.nan, index=values.index, dtype="float64")
    numbers = _numbers(values)
    parsed = numbers.to_numpy()
    if bool((~np.isnan(parsed) | blank).all()):
        if not bool(blank.any()) and bool((parsed == np.floor(parsed)).all()):
            return numbers.astype("int64")
        return numbers
    return values.map(lambda v: v.strip() if isinstance(v, str) else v).where(filled)


def _apply_sentinels(values: pd.Series, sentinels: Iterable[Any]) -> tuple[pd.Series, int]:
    keys = [value_key(s) for s in sentinels]
    if not keys:
        return values, 0
    numeric = [k for k in keys if isinstance(k, float)]
    words = [k for k in keys if not isinstance(k, float)]
    blank = _blank_cells(values)
    hits = np.zeros(len(values), dtype=bool)
    if numeric:
        # pandas' isin, not numpy's: a NaN code (``missing: [nan]``) matches every cell that is no number.
        hits |= _numbers(values).isin(numeric).to_numpy()
    if words:
        cells = _plain_cells(values)
        if cells is not None:
            wanted = set(words)
            hits |= np.array([str(v).strip().casefold() in wanted for v in cells], dtype=bool)
        else:
            text = values.astype(object).astype("str").str.strip().str.casefold()
            hits |= text.isin(words).fillna(False).to_numpy(dtype=bool)
    hits &= ~blank
    return values.mask(pd.Series(hits, index=values.index), np.nan), int(hits.sum())


def _apply_recode(values: pd.Series, recode: Mapping[Any, Any]) -> pd.Series:
    table = {value_key(k): v for k, v in recode.items()}
    return values.map(lambda v: v if is_blank(v) else table.get(value_key(v), v))


def _rename(raw: pd.DataFrame, ctx: Context, matcher: NameMatcher, problems: list[Problem]) -> dict[str, str]:
    """``{source: target}`` for every kept column; records problems with unknown or clashing columns."""
    mapping = ctx.mapping
    present = list(raw.columns)
    for source in mapping.columns:
        if source not in raw.columns:
            shown = ", ".join(present[:30]) + (" ..." if len(present) > 30 else "")
            problems.append(
                Problem(
                    f"the mapping names column {source!r}, which the file does not have; its columns are "
                    f"{shown}",
                    column=source,
                )
            )
    names: dict[str, str] = {}
    dropped = 0
    left_out = [c for c in present if c in mapping.drop]
    if left_out:
        ctx.notes.append(f"left out columns {left_out} as the mapping asks")
    for col in present:
        if col in mapping.drop:
            continue
        if col in mapping.columns:
            target = mapping.columns[col]
            match = matcher.match(target)
            if match is not None and match.bad_number is not None and match.instrument is not None:
                problems.append(_unknown_item(target, match.instrument, col))
                continue
            names[col] = target
            continue
        match = matcher.match(col)
        if match is not None and match.bad_number is not None and match.instrument is not None:
            problems.append(_unknown_item(col, match.instrument, col))
            continue
        if match is not None and match.target is not None:
            names[col] = match.target
            continue
        if mapping.keep_unmapped:
            names[col] = col
        else:
            dropped += 1
    if dropped:
        ctx.notes.append(f"left out {dropped} column{'s' if dropped != 1 else ''} not named in the mapping")
    targets = list(names.values())
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        sources = [s for s, t in names.items() if t == target]
        problems.append(
            Problem(
                f"columns {sources} all become {target!r}; map one of them to another name or drop it",
                column=target,
            )
        )
    renamed = {s: t for s, t in names.items() if s != t}
    if renamed:
        shown = ", ".join(f"{s} -> {t}" for s, t in list(renamed.items())[:12])
        more = f" and {len(renamed) - 12} more" if len(renamed) > 12 else ""
        ctx.notes.append(f"renamed columns: {shown}{more}")
    return names


def _unknown_item(name: str, inst: Instrument, source: str) -> Problem:
    cols = inst.columns
    return Problem(
        f"column {name!r} looks like an item of {inst.id}, which has no such item (its items are "
        f"{cols[0]}-{cols[-1]}); map the column to a real item or drop it",
        column=source,
    )


def _check_ids(data: pd.DataFrame, problems: list[Problem], extra_keys: Sequence[str] = ()) -> None:
    for id_col, extra in (("participant_id", ["wave", *extra_keys]), ("client_id", ["session", *extra_keys])):
        if id_col not in data.columns:
            continue
        keys = [id_col] + [c for c in dict.fromkeys(extra) if c in data.columns]
        if id_col == "client_id" and "session" not in data.columns:
            continue
        empty = data[id_col].isna()
        for row in data.index[empty]:
            problems.append(
                Problem(f"{id_col} is empty; every row needs one", row=row_label(row), column=id_col)
            )
        key_frame = data.loc[~empty, keys]
        dup = key_frame.duplicated(keep=False)
        first_seen: dict[tuple[Any, ...], Any] = {}
        for row, key in zip(
            key_frame.index[dup], key_frame[dup].itertuples(index=False, name=None), strict=True
        ):
            if key not in first_seen:
                first_seen[key] = row
                continue
            what = " and ".join(f"{k} {fmt_value(v)}" for k, v in zip(keys, key, strict=True))
            rule = "participant has one row per wave" if id_col == "participant_id" else "session has one row"
            problems.append(
                Problem(
                    f"{what} appears again (first on row {first_seen[key]}); each {rule}",
                    row=row_label(row),
                    column=id_col,
                )
            )


def _instrument_codebook(matcher: NameMatcher, columns: Iterable[str]) -> Codebook:
    labels: dict[str, str] = {}
    values: dict[str, dict[Any, str]] = {}
    items = matcher.item_columns()
    for col in columns:
        inst = items.get(col)
        if inst is None:
            continue
        item = inst.item(col)
        text = item.text_in("en")
        labels[col] = text if text else f"{inst.name}, item {item.number}"
        if item.options:
            values[col] = {o.code: o.label.get("en", str(o.code)) for o in item.options}
        elif item.scale is not None and item.scale.labels:
            values[col] = {k: v.get("en", str(k)) for k, v in item.scale.labels.items()}
    return Codebook(labels, values)


def prepare_table(
    raw: pd.DataFrame, ctx: Context, codebook: Codebook, problems: list[Problem]
) -> tuple[pd.DataFrame, Codebook]:
    """Turn a raw source table into a contract table; every problem found is added to ``problems``."""
    matcher = NameMatcher(ctx.instruments)
    names = _rename(raw, ctx, matcher, problems)
    items = matcher.item_columns()
    columns: dict[str, pd.Series] = {}
    sentinel_hits = 0
    for source, target in names.items():
        values = raw[source]
        values, hits = _apply_sentinels(values, ctx.missing)
        sentinel_hits += hits
        values, hits = _apply_sentinels(values, ctx.mapping.missing_by_column.get(target, ()))
        sentinel_hits += hits
        if target in ctx.mapping.recodes:
            values = _apply_recode(values, ctx.mapping.recodes[target])
        inst = items.get(target)
        if inst is not None:
            columns[target] = _check_item(values, inst.item(target), inst, target, source, problems)
        else:
            as_text = target in ID_COLUMNS or source in ctx.text_columns or target in ctx.text_columns
            columns[target] = _infer_column(values, as_text)
    if sentinel_hits:
        codes = [*ctx.missing, *(v for vals in ctx.mapping.missing_by_column.values() for v in vals)]
        shown = ", ".join(dict.fromkeys(fmt_value(s) for s in codes))
        ctx.notes.append(f"set {sentinel_hits} answers coded as missing ({shown}) to NaN")
    data = pd.DataFrame(columns, index=raw.index)
    _check_ids(data, problems, ctx.extra_keys)
    if "client_id" in data.columns and "participant_id" not in data.columns:
        order = [*SESSION_COLUMNS, *STANDARD_COLUMNS]
    else:
        order = ["participant_id", "wave", *STANDARD_COLUMNS]
    standard = [c for c in dict.fromkeys(order) if c in data.columns]
    item_order = [c for c in items if c in data.columns and c not in standard]
    rest = [c for c in data.columns if c not in standard and c not in item_order]
    data = data[[*standard, *item_order, *rest]]
    book = (
        codebook.renamed(names).restricted(data.columns).merged(_instrument_codebook(matcher, data.columns))
    )
    return data, book
