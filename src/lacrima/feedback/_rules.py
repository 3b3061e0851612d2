"""Alert rules as data: the shipped YAML files, their JSON Schema, and per-study overrides."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from lacrima.errors import DataError, Problem

__all__ = [
    "ALERT_KINDS",
    "EVIDENCE_LEVELS",
    "PRIORITIES",
    "Parameter",
    "Rule",
    "RuleSet",
    "load_rules",
    "rule_from_dict",
]

ALERT_KINDS = ("risk-item", "alliance-rupture", "not-on-track", "difficult-crying", "missed-checkins")
PRIORITIES = ("high", "medium", "low")
EVIDENCE_LEVELS = ("tested", "correlational", "derived")


@dataclass(frozen=True)
class Parameter:
    """One documented parameter of a rule."""

    name: str
    default: float | int | bool
    type: str
    description: str
    min: float | None = None
    max: float | None = None
    unit: str = ""

    def check(self, value: Any, where: str) -> list[Problem]:
        """Problems with ``value`` as a setting of this parameter (empty when it is usable)."""
        if self.type == "boolean":
            if not isinstance(value, bool):
                return [Problem(f"{where} must be true or false, not {value!r}")]
            return []
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return [Problem(f"{where} must be a number, not {value!r}")]
        if self.type == "integer" and float(value) != int(value):
            return [Problem(f"{where} must be a whole number, not {value!r}")]
        out = []
        if self.min is not None and value < self.min:
            out.append(Problem(f"{where} is {value}; it must be at least {self.min:g}"))
        if self.max is not None and value > self.max:
            out.append(Problem(f"{where} is {value}; it must be at most {self.max:g}"))
        return out


@dataclass(frozen=True)
class Rule:
    """An alert rule: documented parameters (``params`` holds the values in force), sources, evidence."""

    id: str
    version: str
    kind: str
    title: str
    description: str
    priority: str
    enabled: bool
    evidence: str
    evidence_note: str
    formula: str
    parameters: Mapping[str, Parameter]
    params: Mapping[str, Any]
    sources: tuple[str, ...]
    notes: str = ""
    overridden: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class RuleSet:
    """The rules in force, by id (``rules["alliance-rupture"]``); iteration gives them in file order."""

    rules: Mapping[str, Rule] = field(default_factory=dict)

    def __getitem__(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise KeyError(f"no rule {rule_id!r}; the rules are {', '.join(self.rules)}") from None

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules.values())

    def __len__(self) -> int:
        return len(self.rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self.rules

    def by_kind(self, kind: str) -> Rule | None:
        """The enabled rule of an alert kind, or None."""
        for rule in self.rules.values():
            if rule.kind == kind and rule.enabled:
                return rule
        return None

    def table(self) -> list[dict[str, Any]]:
        """One plain dict per rule (id, version, kind, enabled, priority, evidence, params): for display."""
        return [
            {
                "id": r.id,
                "version": r.version,
                "kind": r.kind,
                "enabled": r.enabled,
                "priority": r.priority,
                "evidence": r.evidence,
                "params": dict(r.params),
                "overridden": list(r.overridden),
            }
            for r in self
        ]


@functools.cache
def _validator() -> Any:
    import jsonschema

    text = resources.files("lacrima.feedback").joinpath("rules_schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def schema_problems(validator: Any, data: Any) -> list[Problem]:
    """Every JSON Schema violation of ``data``, sorted by path, as :class:`Problem` s."""
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [Problem(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}") for e in errors]


def rule_from_dict(data: Mapping[str, Any], origin: str = "<dict>") -> Rule:
    """Validate one parsed rule definition and build a :class:`Rule` (its defaults in force).

    Raises :class:`~lacrima.errors.DataError` listing every schema and consistency problem.
    """
    if not isinstance(data, Mapping):
        raise DataError(f"rule definition {origin} is not a mapping of fields")
    problems = schema_problems(_validator(), data)
    parameters: dict[str, Parameter] = {}
    raw_params = data.get("parameters")
    for name, spec in raw_params.items() if isinstance(raw_params, Mapping) else ():
        if not isinstance(spec, Mapping) or not {"default", "type", "description"} <= set(spec):
            continue
        par = Parameter(
            name=str(name),
            default=spec["default"],
            type=str(spec["type"]),
            description=str(spec["description"]),
            min=spec.get("min"),
            max=spec.get("max"),
            unit=str(spec.get("unit", "")),
        )
        if par.type in ("number", "integer", "boolean"):
            problems += par.check(par.default, f"parameters/{name}/default")
        parameters[str(name)] = par
    if problems:
        raise DataError(f"rule definition {origin} has {len(problems)} problem(s)", problems)
    return Rule(
        id=str(data["id"]),
        version=str(data["version"]),
        kind=str(data["kind"]),
        title=str(data["title"]),
        description=str(data["description"]).strip(),
        priority=str(data["priority"]),
        enabled=bool(data.get("enabled", True)),
        evidence=str(data["evidence"]),
        evidence_note=str(data.get("evidence_note", "")).strip(),
        formula=str(data.get("formula", "")).strip(),
        parameters=MappingProxyType(parameters),
        params=MappingProxyType({k: p.default for k, p in parameters.items()}),
        sources=tuple(" ".join(str(s).split()) for s in data["sources"]),
        notes=str(data.get("notes", "")).strip(),
    )


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file; a missing or broken file is a :class:`DataError` naming it."""
    if not path.exists():
        raise DataError(f"{what} file {path} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"{what} file {path} is not valid YAML: {exc}") from exc


def _rules_dir() -> Path:
    return Path(str(resources.files("lacrima.feedback").joinpath("rules")))


@functools.cache
def _shipped() -> tuple[Rule, ...]:
    rules = []
    problems: list[Problem] = []
    for path in sorted(_rules_dir().glob("*.yaml")):
        try:
            rules.append(rule_from_dict(read_yaml(path, "rule"), str(path.name)))
        except DataError as exc:
            problems += [Problem(f"{path.name}: {p}") for p in exc.problems] or [Problem(str(exc))]
    ids = [r.id for r in rules]
    problems += [
        Problem(f"rule id {i!r} is used by two files") for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    if problems:  # pragma: no cover - the shipped files are checked by tests/feedback
        raise DataError("the shipped alert rules are broken", problems)
    order = {k: n for n, k in enumerate(ALERT_KINDS)}
    return tuple(sorted(rules, key=lambda r: (order.get(r.kind, 99), r.id)))


def load_rules(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> RuleSet:
    """The shipped alert rules, validated, with a study's overrides applied.

    Parameters
    ----------
    overrides : mapping, optional
        ``{rule_id: {parameter: value, "enabled": bool, "priority": "high"|"medium"|"low"}}``, e.g. the
        per-study configuration the web app stores as JSON: ``{"alliance-rupture": {"k_sd": 1.0}}``.

    Returns
    -------
    RuleSet

    Raises
    ------
    DataError
        Listing every unknown rule id, unknown parameter and unusable value at once.

    Examples
    --------
    >>> from lacrima import feedback as fb
    >>> fb.load_rules({"alliance-rupture": {"k_sd": 1.0}})["alliance-rupture"]["k_sd"]
    1.0
    """
    rules = {r.id: r for r in _shipped()}
    if overrides is None:
        return RuleSet(MappingProxyType(rules))
    if not isinstance(overrides, Mapping):
        raise DataError(f"rule overrides must map rule ids to settings, not {type(overrides).__name__}")
    problems: list[Problem] = []
    for rule_id, settings in overrides.items():
        rule = rules.get(str(rule_id))
        if rule is None:
            problems.append(Problem(f"no alert rule is called {rule_id!r}; the rules are {', '.join(rules)}"))
            continue
        if not isinstance(settings, Mapping):
            problems.append(Problem(f"{rule_id}: the settings must be a mapping of parameter -> value"))
            continue
        params = dict(rule.params)
        enabled, priority = rule.enabled, rule.priority
        changed = []
        for name, value in settings.items():
            where = f"{rule_id}: {name}"
            if name == "enabled":
                if isinstance(value, bool):
                    enabled = value
                    changed.append(name)
                else:
                    problems.append(Problem(f"{where} must be true or false, not {value!r}"))
            elif name == "priority":
                if value in PRIORITIES and (rule.kind != "risk-item" or value == "high"):
                    priority = str(value)
                    changed.append(name)
                else:
                    allowed = "high (risk items are always high)" if rule.kind == "risk-item" else PRIORITIES
                    problems.append(Problem(f"{where} is {value!r}; choose {allowed}"))
            elif name in rule.parameters:
                found = rule.parameters[name].check(value, where)
                problems += found
                if not found:
                    par = rule.parameters[name]
                    params[name] = int(value) if par.type == "integer" else value
                    changed.append(name)
            else:
                problems.append(
                    Problem(
                        f"{where}: {rule_id} has no parameter {name!r}; its parameters are "
                        f"{', '.join(rule.parameters)} (and enabled, priority)"
                    )
                )
        rules[rule.id] = replace(
            rule,
            params=MappingProxyType(params),
            enabled=enabled,
            priority=priority,
            overridden=tuple(changed),
        )
    if problems:
        raise DataError(f"the alert rule overrides have {len(problems)} problem(s)", problems)
    return RuleSet(MappingProxyType(rules))
