"""Load and validate instrument YAML files."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
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

__all__ = ["instrument_from_dict", "list_instruments", "load_instrument"]


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("lacrima.instruments").joinpath("schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _scale(d: Mapping[str, Any]) -> Scale:
    labels = {int(k): _freeze(v) for k, v in (d.get("labels") or {}).items()}
    return Scale(
        min=float(d["min"]),
        max=float(d["max"]),
        step=float(d.get("step", 1)),
        labels=_freeze(labels),  # type: ignore[arg-type]
    )


def instrument_from_dict(data: Mapping[str, Any], origin: str = "<dict>") -> Instrument:
    """Validate a parsed instrument definition against the schema and build an :class:`Instrument`.

    Raises :class:`~lacrima.errors.DataError` listing every schema and consistency problem.
    """
    validator = jsonschema.Draft202012Validator(_schema())
    problems = [
        Problem(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
        for e in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        raise DataError(f"instrument definition {origin} does not follow the schema", problems)

    prefix = data["prefix"]
    scale = _scale(data["scale"])
    items: list[Item] = []
    seen_numbers: set[int] = set()
    seen_columns: set[str] = set()
    for raw in data["items"]:
        number = int(raw["number"])
        column = raw.get("column") or f"{prefix}_{number:02d}"
        if number in seen_numbers:
            problems.append(Problem(f"item number {number} appears twice"))
        if column in seen_columns:
            problems.append(Problem(f"item column {column!r} appears twice"))
        seen_numbers.add(number)
        seen_columns.add(column)
        itype = raw.get("type", "likert")
        item_scale: Scale | None = _scale(raw["scale"]) if "scale" in raw else scale
        if itype in ("choice", "multi_choice", "text"):
            item_scale = _scale(raw["scale"]) if "scale" in raw else None
        if itype == "boolean":
            item_scale = Scale(0.0, 1.0)
        if itype in ("choice", "multi_choice") and not raw.get("options"):
            problems.append(Problem(f"item {column} is a {itype} item without options"))
        show_if = None
        if "show_if" in raw:
            show_if = (raw["show_if"]["column"], tuple(raw["show_if"]["in"]))
        items.append(
            Item(
                number=number,
                column=column,
                type=itype,
                scale=item_scale,
                reverse=bool(raw.get("reverse", False)),
                required=bool(raw.get("required", False)),
                text=_freeze(raw.get("text")),
                options=tuple(Option(o["code"], _freeze(o["label"])) for o in raw.get("options", [])),
                show_if=show_if,
                topic=raw.get("topic"),
            )
        )
        if raw.get("reverse") and itype not in ("likert", "numeric"):
            problems.append(Problem(f"item {column} is reverse-keyed but is not on a numeric scale"))

    subscales: dict[str, Subscale] = {}
    for name, sub in (data.get("subscales") or {}).items():
        absent = [n for n in sub["items"] if n not in seen_numbers]
        if absent:
            problems.append(Problem(f"subscale {name!r} names items {absent} that the instrument lacks"))
        subscales[name] = Subscale(
            name=name,
            items=tuple(sub["items"]),
            method=sub.get("method", "mean"),
            label=_freeze(sub.get("label")),
            description=sub.get("description", ""),
        )
    for name in data.get("bands") or {}:
        if name not in subscales:
            problems.append(Problem(f"bands are given for {name!r}, which is not a subscale"))
    for name in data.get("norms") or {}:
        if name not in subscales:
            problems.append(Problem(f"norms are given for {name!r}, which is not a subscale"))

    licence = data["licence"]
    if licence["redistribute_text"] is False and any(raw.get("text") for raw in data["items"]):
        problems.append(
            Problem(
                f"the licence of {data['id']!r} does not allow shipping item text, yet items carry text; "
                "leave the text out and let users supply it with Instrument.with_texts()"
            )
        )
    languages = tuple(data["languages"])
    if licence["redistribute_text"]:
        for it in items:
            for lang in languages:
                if it.type != "text" and lang not in it.text:
                    problems.append(Problem(f"item {it.column} has no {lang!r} text"))
    if problems:
        raise DataError(f"instrument definition {origin} is inconsistent", problems)

    missing_spec = data.get("missing") or {}
    bands = {
        k: tuple(Band(float(b["min"]), b["label"]) for b in v) for k, v in (data.get("bands") or {}).items()
    }
    norms = {k: Norms(**v) for k, v in (data.get("norms") or {}).items()}
    return Instrument(
        id=data["id"],
        name=data["name"],
        version=str(data["version"]),
        prefix=prefix,
        source=data["source"],
        licence=licence["name"],
        redistribute_text=licence["redistribute_text"],
        licence_notes=licence.get("notes", ""),
        languages=languages,
        scale=scale,
        items=tuple(items),
        subscales=_freeze(subscales),  # type: ignore[arg-type]
        kind=data.get("kind", "survey"),
        construct=data.get("construct", ""),
        description=data.get("description", ""),
        title=_freeze(data.get("title")),
        instructions=_freeze(data.get("instructions")),
        missing_rule=missing_spec.get("rule", "prorate"),
        min_answered=float(missing_spec.get("min_answered", 0.8)),
        bands=_freeze(bands),  # type: ignore[arg-type]
        norms=_freeze(norms),  # type: ignore[arg-type]
    )


def _builtin_dir() -> Path:
    return Path(str(resources.files("lacrima.instruments")))


def list_instruments() -> list[str]:
    """Ids of the instruments shipped with lacrima."""
    return sorted(p.stem for p in _builtin_dir().glob("*.yaml"))


@functools.cache
def _load_builtin(instrument_id: str) -> Instrument:
    path = _builtin_dir() / f"{instrument_id}.yaml"
    return _load_path(path)


def _load_path(path: Path) -> Instrument:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"instrument file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DataError(f"instrument file {path} does not hold a mapping of fields")
    return instrument_from_dict(data, origin=str(path))


def load_instrument(name: str | Path) -> Instrument:
    """Load a shipped instrument by id (``"wai_sr"``) or a user's own definition by path.

    Examples
    --------
    >>> import lacrima as lc
    >>> wai = lc.load_instrument("wai_sr")
    >>> wai.subscales["bond"].items
    (3, 5, 7, 9)
    """
    if isinstance(name, Path) or str(name).endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.exists():
            raise DataError(f"instrument file {path} does not exist")
        return _load_path(path)
    if name not in list_instruments():
        raise DataError(
            f"no shipped instrument is called {name!r}; choose one of {', '.join(list_instruments())} "
            "or pass the path of your own YAML definition"
        )
    return _load_builtin(str(name))
