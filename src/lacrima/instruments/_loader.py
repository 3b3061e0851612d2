"""Load and validate instrument YAML files and users' item-text files."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lacrima.errors import DataError, Problem
from lacrima.instruments._model import (
    Band,
    Instrument,
    Item,
    Norms,
    Option,
    Scale,
    Subscale,
    _freeze,
)

__all__ = ["instrument_from_dict", "list_instruments", "load_instrument", "load_texts"]

Texts = Mapping[int | str, Mapping[str, str]]

if TYPE_CHECKING:
    import jsonschema

_SCORED_TYPES = ("likert", "numeric", "boolean")


@functools.cache
def _schema(name: str = "schema.json") -> dict[str, Any]:
    text = resources.files("lacrima.instruments").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    # Imported here: jsonschema is slow to import, and only files and dicts from users need it.
    import jsonschema

    return jsonschema.Draft202012Validator(_schema(name))


def _json_ready(obj: Any) -> Any:
    """Mapping keys as strings (YAML turns ``1:`` into an int key, which JSON Schema cannot match)."""
    if isinstance(obj, Mapping):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_ready(v) for v in obj]
    return obj


def _schema_problems(data: Any, schema_name: str) -> list[Problem]:
    validator = _validator(schema_name)
    errors = sorted(validator.iter_errors(_json_ready(data)), key=lambda e: list(map(str, e.absolute_path)))
    return [Problem(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}") for e in errors]


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _scale(d: Mapping[str, Any]) -> Scale:
    labels = {int(k): _freeze(v) for k, v in (d.get("labels") or {}).items()}
    return Scale(
        min=float(d["min"]),
        max=float(d["max"]),
        step=float(d.get("step", 1)),
        labels=_freeze(labels),  # type: ignore[arg-type]
    )


def _scale_or_none(d: Any, where: str, problems: list[Problem]) -> Scale | None:
    """Build a scale if its fields are usable; schema problems are reported elsewhere."""
    if not isinstance(d, Mapping) or not _is_number(d.get("min")) or not _is_number(d.get("max")):
        return None
    step = d.get("step", 1)
    if not _is_number(step) or step <= 0:
        return None
    if d["max"] <= d["min"]:
        problems.append(Problem(f"{where}: max ({d['max']}) must be above min ({d['min']})"))
        return None
    n_steps = (d["max"] - d["min"]) / step
    if abs(n_steps - round(n_steps)) > 1e-9:
        problems.append(Problem(f"{where}: step {step} does not divide the range {d['min']}-{d['max']}"))
    labels = d.get("labels") or {}
    if not isinstance(labels, Mapping):
        return None
    for key in labels:
        try:
            value = int(key)
        except (TypeError, ValueError):
            return None
        if not d["min"] <= value <= d["max"]:
            problems.append(Problem(f"{where}: a label is given for {value}, outside {d['min']}-{d['max']}"))
    try:
        return _scale(d)
    except (TypeError, ValueError, AttributeError):
        return None


def _check_items(
    data: Mapping[str, Any], prefix: str, default_scale: Scale | None, problems: list[Problem]
) -> list[Item]:
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        return []
    items: list[Item] = []
    seen_numbers: set[int] = set()
    seen_columns: set[str] = set()
    for pos, raw in enumerate(raw_items):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("number"), int):
            continue
        number = int(raw["number"])
        given = raw.get("column")
        column: str = given if isinstance(given, str) else f"{prefix}_{number:02d}"
        if number in seen_numbers:
            problems.append(Problem(f"item number {number} appears twice"))
        if column in seen_columns:
            problems.append(Problem(f"item column {column!r} appears twice"))
        seen_numbers.add(number)
        seen_columns.add(column)
        itype = raw.get("type", "likert")
        if itype not in ("likert", "choice", "multi_choice", "numeric", "boolean", "text"):
            continue
        own_scale = _scale_or_none(raw["scale"], f"items/{pos} scale", problems) if "scale" in raw else None
        item_scale: Scale | None = own_scale if own_scale is not None else default_scale
        if itype in ("choice", "multi_choice", "text"):
            item_scale = own_scale
        if itype == "boolean":
            item_scale = Scale(0.0, 1.0)
        raw_options = raw.get("options") or []
        if not isinstance(raw_options, list):
            raw_options = []
        options = tuple(
            Option(o["code"], _freeze(o["label"]))
            for o in raw_options
            if isinstance(o, Mapping) and "code" in o and isinstance(o.get("label"), Mapping)
        )
        if itype in ("choice", "multi_choice") and not options:
            problems.append(Problem(f"item {column} is a {itype} item without options"))
        if itype not in ("choice", "multi_choice", "boolean") and options:
            problems.append(Problem(f"item {column} is a {itype} item and cannot have options"))
        if itype == "boolean" and options and {o.code for o in options} != {0, 1}:
            problems.append(Problem(f"item {column} is a yes/no item; its option codes must be 0 and 1"))
        codes = [o.code for o in options]
        if len(set(codes)) != len(codes):
            problems.append(Problem(f"item {column} has duplicate option codes"))
        if raw.get("reverse") and itype not in ("likert", "numeric"):
            problems.append(Problem(f"item {column} is reverse-keyed but is not on a numeric scale"))
        show_if = None
        cond = raw.get("show_if")
        if (
            isinstance(cond, Mapping)
            and isinstance(cond.get("column"), str)
            and isinstance(cond.get("in"), list)
        ):
            show_if = (cond["column"], tuple(cond["in"]))
        items.append(
            Item(
                number=number,
                column=column,
                type=itype,
                scale=item_scale,
                reverse=bool(raw.get("reverse", False)),
                required=bool(raw.get("required", False)),
                text=_freeze(raw.get("text") if isinstance(raw.get("text"), Mapping) else None),
                options=options,
                show_if=show_if,
                topic=raw.get("topic") if isinstance(raw.get("topic"), str) else None,
            )
        )
    by_column = {it.column: it for it in items}
    for it in items:
        if it.show_if is None:
            continue
        gate_column, values = it.show_if
        gate = by_column.get(gate_column)
        if gate is None:
            problems.append(
                Problem(f"item {it.column} is shown only if {gate_column!r} has some value; no item has it")
            )
        elif gate is it:
            problems.append(Problem(f"item {it.column} cannot be shown on a condition on itself"))
        else:
            allowed = gate.allowed_codes()
            if gate.type == "boolean":
                allowed = {0, 1}
            if allowed is not None:
                odd = [v for v in values if v not in allowed]
                if odd:
                    problems.append(
                        Problem(
                            f"item {it.column} is shown only if {gate_column} is in {odd}, which it never is"
                        )
                    )
    return items


def _check_subscales(
    data: Mapping[str, Any], items: list[Item], problems: list[Problem]
) -> dict[str, Subscale]:
    raw_subscales = data.get("subscales") or {}
    if not isinstance(raw_subscales, Mapping):
        return {}
    by_number = {it.number: it for it in items}
    subscales: dict[str, Subscale] = {}
    for name, sub in raw_subscales.items():
        if not isinstance(sub, Mapping) or not isinstance(sub.get("items"), list):
            continue
        numbers = [n for n in sub["items"] if isinstance(n, int)]
        absent = [n for n in numbers if n not in by_number]
        if absent and by_number:
            problems.append(Problem(f"subscale {name!r} names items {absent} that the instrument lacks"))
        unscored = [
            by_number[n].column for n in numbers if n in by_number and by_number[n].type not in _SCORED_TYPES
        ]
        if unscored:
            problems.append(
                Problem(f"subscale {name!r} includes {unscored}, which have no numeric answers to score")
            )
        scales = {
            (it.scale.min, it.scale.max) for n in numbers if (it := by_number.get(n)) and it.scale is not None
        }
        if sub.get("method") == "sum" and len(scales) > 1:
            problems.append(
                Problem(f"subscale {name!r} sums items on different response scales {sorted(scales)}")
            )
        method = sub.get("method", "mean")
        subscales[str(name)] = Subscale(
            name=str(name),
            items=tuple(numbers),
            method=method if method in ("mean", "sum") else "mean",
            label=_freeze(sub.get("label") if isinstance(sub.get("label"), Mapping) else None),
            description=str(sub.get("description", "")),
        )
    return subscales


def _check_bands_and_norms(
    data: Mapping[str, Any], subscales: Mapping[str, Subscale], problems: list[Problem]
) -> tuple[dict[str, tuple[Band, ...]], dict[str, Norms]]:
    bands: dict[str, tuple[Band, ...]] = {}
    raw_bands = data.get("bands") or {}
    for name, spec in raw_bands.items() if isinstance(raw_bands, Mapping) else ():
        if name not in subscales:
            problems.append(Problem(f"bands are given for {name!r}, which is not a subscale"))
        usable = isinstance(spec, list) and all(
            isinstance(b, Mapping) and _is_number(b.get("min")) for b in spec
        )
        if not usable:
            continue
        lows = [b["min"] for b in spec]
        if lows != sorted(lows) or len(set(lows)) != len(lows):
            problems.append(
                Problem(f"the bands of {name!r} must have strictly ascending lower bounds, not {lows}")
            )
        bands[str(name)] = tuple(Band(float(b["min"]), str(b.get("label", ""))) for b in spec)
    norms: dict[str, Norms] = {}
    raw_norms = data.get("norms") or {}
    fields = set(Norms.__dataclass_fields__)
    for name, spec in raw_norms.items() if isinstance(raw_norms, Mapping) else ():
        if name not in subscales:
            problems.append(Problem(f"norms are given for {name!r}, which is not a subscale"))
        if isinstance(spec, Mapping) and set(spec) <= fields:
            values: dict[str, Any] = {k: float(v) if _is_number(v) else v for k, v in spec.items()}
            norms[str(name)] = Norms(**values)
    return bands, norms


def instrument_from_dict(data: Mapping[str, Any], origin: str = "<dict>") -> Instrument:
    """Validate a parsed instrument definition against the schema and build an :class:`Instrument`.

    Raises :class:`~lacrima.errors.DataError` listing every schema and consistency problem at once
    (unknown fields, a missing scale, duplicate items, subscales naming missing items, item text in an
    instrument whose licence forbids shipping it, ...), so that a file can be fixed in one pass.
    """
    return _build(data, origin, check_schema=True)


def _build(data: Mapping[str, Any], origin: str, check_schema: bool) -> Instrument:
    """An :class:`Instrument` from a parsed definition; the schema is checked only if ``check_schema``.

    The checks that the schema cannot express (duplicate items, subscales naming missing items, gates,
    bands, licences) always run.
    """
    if not isinstance(data, Mapping):
        raise DataError(f"instrument definition {origin} is not a mapping of fields")
    problems = _schema_problems(data, "schema.json") if check_schema else []
    raw_prefix = data.get("prefix")
    prefix: str = raw_prefix if isinstance(raw_prefix, str) else "item"
    scale = _scale_or_none(data.get("scale"), "scale", problems)
    items = _check_items(data, prefix, scale, problems)
    subscales = _check_subscales(data, items, problems)
    bands, norms = _check_bands_and_norms(data, subscales, problems)

    raw_missing = data.get("missing")
    missing_spec: Mapping[str, Any] = raw_missing if isinstance(raw_missing, Mapping) else {}
    min_answered = missing_spec.get("min_answered", 0.8)
    if _is_number(min_answered) and min_answered > 1 and min_answered != int(min_answered):
        problems.append(
            Problem(
                f"missing/min_answered is {min_answered}: give a fraction up to 1 or a whole count of items"
            )
        )

    raw_licence = data.get("licence")
    licence: Mapping[str, Any] = raw_licence if isinstance(raw_licence, Mapping) else {}
    raw_list = data.get("items")
    raw_items: list[Any] = raw_list if isinstance(raw_list, list) else []
    if licence.get("redistribute_text") is False:
        with_text = [
            it.get("column") or f"{prefix}_{it['number']:02d}"
            for it in raw_items
            if isinstance(it, Mapping) and it.get("text") and isinstance(it.get("number"), int)
        ]
        if with_text:
            problems.append(
                Problem(
                    f"the licence of {data.get('id')!r} does not allow shipping item text, yet items "
                    f"{with_text} carry text; leave the text out and let users supply it with "
                    "Instrument.with_texts() or load_instrument(..., texts=path)"
                )
            )
    if problems:
        raise DataError(f"instrument definition {origin} has {len(problems)} problem(s)", problems)
    if scale is None:  # pragma: no cover - the schema reports an unusable scale above
        raise DataError(f"instrument definition {origin} has no usable response scale")

    return Instrument(
        id=data["id"],
        name=data["name"],
        version=str(data["version"]),
        prefix=prefix,
        source=data["source"],
        licence=licence["name"],
        redistribute_text=licence["redistribute_text"],
        licence_notes=licence.get("notes", ""),
        scoring_source=data.get("scoring_source", ""),
        languages=tuple(data["languages"]),
        scale=scale,
        items=tuple(items),
        subscales=_freeze(subscales),  # type: ignore[arg-type]
        kind=data.get("kind", "survey"),
        construct=data.get("construct", ""),
        description=data.get("description", ""),
        title=_freeze(data.get("title")),
        instructions=_freeze(data.get("instructions")),
        missing_rule=missing_spec.get("rule", "prorate"),
        min_answered=float(min_answered),
        bands=_freeze(bands),  # type: ignore[arg-type]
        norms=_freeze(norms),  # type: ignore[arg-type]
    )


def _builtin_dir() -> Path:
    return Path(str(resources.files("lacrima.instruments")))


def list_instruments() -> list[str]:
    """Ids of the instruments shipped with lacrima."""
    return list(_builtin_ids())


@functools.cache
def _builtin_ids() -> tuple[str, ...]:
    # the package's own folder does not change while it runs; every check-in asks (load_instrument)
    return tuple(sorted(p.stem for p in _builtin_dir().glob("*.yaml")))


def _read_yaml(path: Path, what: str) -> Any:
    if not path.exists():
        raise DataError(f"{what} file {path} does not exist")
    try:
        return yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except yaml.YAMLError as exc:
        raise DataError(f"{what} file {path} is not valid YAML: {exc}") from exc


@functools.cache
def _load_builtin(instrument_id: str) -> Instrument:
    # The shipped files skip the JSON Schema at run time: validating them took longer than parsing them
    # (and importing jsonschema longer still), in every process, for files that do not change after
    # release. The test-suite validates every shipped file against the schema instead
    # (tests/instruments/test_shipped.py); the checks the schema cannot express still run here, and files
    # and dicts from users are always validated.
    return _load_path(_builtin_dir() / f"{instrument_id}.yaml", check_schema=False)


def _load_path(path: Path, check_schema: bool = True) -> Instrument:
    data = _read_yaml(path, "instrument")
    if not isinstance(data, dict):
        raise DataError(f"instrument file {path} does not hold a mapping of fields")
    return _build(data, str(path), check_schema)


def _read_texts(path: Path) -> tuple[str | None, dict[int | str, dict[str, str]]]:
    data = _read_yaml(path, "texts")
    if not isinstance(data, dict):
        raise DataError(f"texts file {path} does not hold a mapping with an 'items' field")
    problems = _schema_problems(data, "texts_schema.json")
    if problems:
        raise DataError(f"texts file {path} does not follow the texts format", problems)
    texts: dict[int | str, dict[str, str]] = {
        (int(k) if isinstance(k, int) or str(k).isdigit() else str(k)): dict(v)
        for k, v in data["items"].items()
    }
    return data.get("instrument"), texts


def load_texts(path: str | Path) -> dict[int | str, dict[str, str]]:
    """Read a YAML file of item texts, e.g. the text of your licensed copy of an instrument.

    The file maps item numbers (or item columns) to text per language, optionally naming the
    instrument it belongs to::

        instrument: wai_sr
        items:
          1: {en: "...", it: "..."}
          wai_02: {en: "..."}

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    dict
        Item number or column -> {language: text}, ready for :meth:`Instrument.with_texts`.

    Raises
    ------
    DataError
        If the file is missing, is not valid YAML or does not follow the format.
    """
    return _read_texts(Path(path))[1]


def _attach(inst: Instrument, texts: str | Path | Texts) -> Instrument:
    if isinstance(texts, str | Path):
        declared, mapping = _read_texts(Path(texts))
        if declared is not None and declared != inst.id:
            raise DataError(f"texts file {texts} is for instrument {declared!r}, not {inst.id!r}")
        return inst.with_texts(mapping)
    return inst.with_texts(texts)


def load_instrument(name: str | Path, texts: str | Path | Texts | None = None) -> Instrument:
    """Load a shipped instrument by id (``"wai_sr"``) or a user's own definition by path.

    Parameters
    ----------
    name : str or Path
        Id of a shipped instrument (see :func:`list_instruments`) or the path of a YAML definition.
    texts : str, Path or mapping, optional
        Item texts to attach, e.g. from your licensed copy of an instrument whose text lacrima may not
        ship: a texts YAML file (see :func:`load_texts`) or a mapping of item number/column to
        ``{language: text}``.

    Returns
    -------
    Instrument

    Raises
    ------
    DataError
        If the instrument is unknown, the definition or the texts are broken.

    Examples
    --------
    >>> import lacrima as lc
    >>> wai = lc.load_instrument("wai_sr")
    >>> wai.subscales["bond"].items
    (3, 5, 7, 9)
    >>> lc.load_instrument("wai_sr", texts={3: {"en": "My own wording"}}).item_text(3, "en")
    'My own wording'
    """
    if isinstance(name, Path) or str(name).endswith((".yaml", ".yml")):
        inst = _load_path(Path(name))
    elif name in list_instruments():
        inst = _load_builtin(str(name))
    else:
        raise DataError(
            f"no shipped instrument is called {name!r}; choose one of {', '.join(list_instruments())} "
            "or pass the path of your own YAML definition"
        )
    return inst if texts is None else _attach(inst, texts)
