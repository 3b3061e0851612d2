"""Mapping source columns to lacrima's columns: explicit YAML mappings and matching by name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from lacrima.errors import DataError, Problem
from lacrima.instruments import Instrument, load_instrument

__all__ = ["ColumnMapping", "load_mapping", "resolve_instruments"]

#: Columns of the respondent and session tables, in contract order.
RESPONDENT_COLUMNS = ("participant_id", "site", "country", "language", "gender", "age", "cried_in_therapy")
SESSION_COLUMNS = ("client_id", "therapist_id", "site", "session", "date", "cried")
STANDARD_COLUMNS = tuple(dict.fromkeys([*RESPONDENT_COLUMNS, *SESSION_COLUMNS, "wave"]))
#: Columns that identify people or groups: never turned into numbers.
ID_COLUMNS = frozenset({"participant_id", "client_id", "therapist_id", "site"})

_TOP_KEYS = {"columns", "recodes", "missing", "drop", "keep_unmapped"}


@dataclass(frozen=True)
class ColumnMapping:
    """How the columns of a source file become lacrima columns.

    Attributes
    ----------
    columns
        ``{source_column: target_column}``.
    recodes
        ``{target_column: {source_value: code}}``, e.g. ``{"wai_01": {"Seldom": 1, "Always": 5}}``.
    missing
        Values that mean "no answer" in every column (e.g. ``[-99, "Don't know"]``): they become NaN.
    missing_by_column
        ``{target_column: [values]}``: sentinels of one column only.
    drop
        Source columns to leave out.
    keep_unmapped
        Keep source columns that are neither mapped nor matched to an instrument item (default ``True``).
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    recodes: Mapping[str, Mapping[Any, Any]] = field(default_factory=dict)
    missing: tuple[Any, ...] = ()
    missing_by_column: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    keep_unmapped: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(
            self, "recodes", MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.recodes.items()})
        )
        object.__setattr__(
            self,
            "missing_by_column",
            MappingProxyType({k: tuple(v) for k, v in self.missing_by_column.items()}),
        )
        object.__setattr__(self, "missing", tuple(self.missing))
        object.__setattr__(self, "drop", tuple(self.drop))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _parse_mapping(data: Mapping[str, Any], origin: str) -> ColumnMapping:
    problems: list[Problem] = []
    if "columns" not in data:
        # A flat file {source: target} is a mapping of columns only.
        data = {"columns": data}
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        problems.append(
            Problem(f"unknown keys {unknown}; a mapping has {sorted(_TOP_KEYS)}", column=None, row=None)
        )
    named_recodes = data.get("recodes") or {}
    if not isinstance(named_recodes, Mapping):
        problems.append(Problem("'recodes' must map a recode name to {value: code}"))
        named_recodes = {}
    columns: dict[str, str] = {}
    recodes: dict[str, Mapping[Any, Any]] = {}
    missing_by_column: dict[str, tuple[Any, ...]] = {}
    raw_columns = data.get("columns") or {}
    if not isinstance(raw_columns, Mapping):
        raise DataError(f"mapping {origin}: 'columns' must map source columns to target columns")
    for source, spec in raw_columns.items():
        source = str(source)
        if isinstance(spec, str):
            columns[source] = spec
            continue
        if not isinstance(spec, Mapping) or "to" not in spec:
            problems.append(
                Problem(
                    "give a target column name, or {to: target, recode: ..., missing: [...]}", column=source
                )
            )
            continue
        target = str(spec["to"])
        columns[source] = target
        recode = spec.get("recode")
        if isinstance(recode, str):
            if recode not in named_recodes:
                problems.append(Problem(f"recode {recode!r} is not defined under 'recodes'", column=source))
            else:
                recodes[target] = named_recodes[recode]
        elif isinstance(recode, Mapping):
            recodes[target] = recode
        elif recode is not None:
            problems.append(Problem("'recode' must be a {value: code} mapping or a name", column=source))
        if "missing" in spec:
            missing_by_column[target] = tuple(_as_list(spec["missing"]))
    targets = list(columns.values())
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        sources = [s for s, t in columns.items() if t == target]
        problems.append(
            Problem(f"columns {sources} are all mapped to {target!r}; map only one", column=target)
        )
    if problems:
        raise DataError(f"mapping {origin} is not usable", problems)
    return ColumnMapping(
        columns=columns,
        recodes=recodes,
        missing=tuple(_as_list(data.get("missing"))),
        missing_by_column=missing_by_column,
        drop=tuple(str(c) for c in _as_list(data.get("drop"))),
        keep_unmapped=bool(data.get("keep_unmapped", True)),
    )


def load_mapping(source: str | Path | Mapping[str, Any] | ColumnMapping) -> ColumnMapping:
    """Read a column mapping from a YAML file or a dict.

    The file either maps source columns to target columns directly (``Q5_1: wai_01``) or has the keys
    ``columns`` (each value a target name or ``{to: target, recode: ..., missing: [...]}``), ``recodes``
    (named ``{value: code}`` tables), ``missing`` (sentinels for every column), ``drop`` and
    ``keep_unmapped``. See ``docs/importing.md`` for an example.
    """
    if isinstance(source, ColumnMapping):
        return source
    if isinstance(source, Mapping):
        return _parse_mapping(source, "<dict>")
    path = Path(source)
    if not path.exists():
        raise DataError(f"mapping file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"mapping file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise DataError(f"mapping file {path} must hold a mapping of source columns to target columns")
    return _parse_mapping(data, str(path))


def resolve_instruments(
    instruments: Iterable[str | Instrument] | str | Instrument | None,
) -> list[Instrument]:
    """Instrument objects from ids, paths or objects."""
    if instruments is None:
        return []
    if isinstance(instruments, (str, Instrument)):
        instruments = [instruments]
    return [i if isinstance(i, Instrument) else load_instrument(i) for i in instruments]


def squash(name: str) -> str:
    """A column name with case, spaces and punctuation removed (``"Participant ID"`` -> ``participantid``)."""
    return re.sub(r"[^0-9a-z]", "", name.strip().lower())


@dataclass(frozen=True)
class NameMatch:
    """Where a source column name points: a target column, or an item number an instrument lacks."""

    target: str | None
    instrument: Instrument | None = None
    bad_number: int | None = None


class NameMatcher:
    """Matches source column names to instrument item columns (``WAI_1``, ``wai1``, ``wai_01`` -> ``wai_01``)
    and to the standard respondent and session columns."""

    def __init__(self, instruments: Sequence[Instrument]) -> None:
        self.instruments = list(instruments)
        self._exact: dict[str, tuple[str, Instrument | None]] = {}
        for col in STANDARD_COLUMNS:
            self._exact[squash(col)] = (col, None)
        for inst in self.instruments:
            for item in inst.items:
                self._exact.setdefault(squash(item.column), (item.column, inst))
        keys: list[tuple[str, Instrument]] = []
        for inst in self.instruments:
            for key in {inst.prefix, squash(inst.id), inst.id}:
                keys.append((key, inst))
        # Longest first, so that "ecrs" wins over "ecr" and "phq9" over "phq".
        self._prefixes = sorted(keys, key=lambda k: -len(k[0]))

    def item_columns(self) -> dict[str, Instrument]:
        return {item.column: inst for inst in self.instruments for item in inst.items}

    def match(self, name: str) -> NameMatch | None:
        norm = re.sub(r"[\s.\-]+", "_", name.strip().lower())
        exact = self._exact.get(squash(name))
        if exact is not None:
            return NameMatch(exact[0], exact[1])
        if any(squash(name) == squash(inst.id) for inst in self.instruments):
            return None  # "PHQ9" names the instrument (often a total score), not its item 9
        for key, inst in self._prefixes:
            if not norm.startswith(key):
                continue
            m = re.fullmatch(r"_?0*(\d+)", norm[len(key) :])
            if m is None:
                continue
            number = int(m.group(1))
            for item in inst.items:
                if item.number == number:
                    return NameMatch(item.column, inst)
            return NameMatch(None, inst, bad_number=number)
        return None
