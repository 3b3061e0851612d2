"""Declarative analysis plans: hypotheses as data (YAML), checked against the data before anything runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from lacrima._results import FrozenDict
from lacrima.errors import DataError, Problem

__all__ = ["AnalysisPlan", "Hypothesis", "PublishedSample", "load_plan"]

TestName = Literal["correlate", "compare_groups", "mann_whitney", "crosstab", "moderation"]
Expectation = Literal["positive", "negative", "any"]

_TESTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # test -> (required keys naming columns, optional keys naming columns)
    "correlate": (("x", "y"), ("covar",)),
    "compare_groups": (("dv", "group"), ()),
    "mann_whitney": (("dv", "group"), ()),
    "crosstab": (("a", "b"), ()),
    "moderation": (("y", "x", "m"), ("covar",)),
}
_KNOWN_KEYS = {
    "id", "family", "confirmatory", "title", "test", "x", "y", "covar", "dv", "group", "groups", "a", "b",
    "levels", "m", "subset", "expect", "published", "method", "bootstrap",
}  # fmt: skip


@dataclass(frozen=True)
class PublishedSample:
    key: str
    label: str
    n: int | None


@dataclass(frozen=True)
class Hypothesis:
    """One planned test. Column roles depend on ``test`` (see :data:`_TESTS`)."""

    id: str
    title: str
    test: TestName
    family: str
    confirmatory: bool
    expect: Expectation
    columns: Mapping[str, Any]
    subset: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[Any, ...] | None = None
    levels: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    method: str = "pearson"
    bootstrap: bool = True
    published: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("columns", "subset", "levels", "published"):
            object.__setattr__(self, name, FrozenDict(getattr(self, name)))

    def variables(self) -> list[str]:
        """Every data column this hypothesis needs (including subset columns)."""
        out: list[str] = []
        for value in self.columns.values():
            out.extend([value] if isinstance(value, str) else list(value))
        out.extend(self.subset)
        return list(dict.fromkeys(out))

    def select(self, data: pd.DataFrame) -> pd.DataFrame:
        """Rows this hypothesis is about (its ``subset``), before listwise deletion."""
        mask = pd.Series(True, index=data.index)
        for col, value in self.subset.items():
            allowed = value if isinstance(value, list | tuple) else [value]
            mask &= data[col].isin(allowed)
        return data.loc[mask]


@dataclass(frozen=True)
class AnalysisPlan:
    name: str
    version: int
    alpha: float
    correction: str
    n_boot: int
    boot_method: str
    hypotheses: tuple[Hypothesis, ...]
    published: Mapping[str, PublishedSample]
    source: str = "<dict>"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hypotheses", tuple(self.hypotheses))
        object.__setattr__(self, "published", FrozenDict(self.published))

    def check(self, data: pd.DataFrame) -> None:
        """Raise one DataError listing every column the plan names that the data lacks."""
        problems: list[Problem] = []
        available = set(map(str, data.columns))
        for h in self.hypotheses:
            for col in h.variables():
                if col not in available:
                    problems.append(Problem(f"hypothesis {h.id} needs column {col!r}, which the data lacks"))
        if problems:
            cols = ", ".join(sorted(available))
            raise DataError(
                f"the analysis plan {self.name!r} names columns the data does not have "
                f"(score the instruments first, or map your columns); available columns: {cols}",
                problems,
            )

    def families(self) -> dict[str, list[Hypothesis]]:
        out: dict[str, list[Hypothesis]] = {}
        for h in self.hypotheses:
            out.setdefault(h.family, []).append(h)
        return out


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def plan_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> AnalysisPlan:
    """Build and validate a plan; every problem is listed in one DataError."""
    problems: list[Problem] = []
    if not isinstance(raw, Mapping):
        raise DataError(f"analysis plan {source} must be a mapping with a 'hypotheses' list")
    hyps_raw = raw.get("hypotheses")
    if not isinstance(hyps_raw, Sequence) or not hyps_raw:
        raise DataError(f"analysis plan {source} has no 'hypotheses' list")
    published = {
        str(k): PublishedSample(str(k), str(v.get("label", k)), v.get("n"))
        for k, v in (raw.get("published") or {}).items()
    }
    hyps: list[Hypothesis] = []
    seen: set[str] = set()
    for i, h in enumerate(hyps_raw, start=1):
        where = f"hypothesis {h.get('id', i) if isinstance(h, Mapping) else i}"
        if not isinstance(h, Mapping):
            problems.append(Problem(f"{where} is not a mapping"))
            continue
        unknown = set(h) - _KNOWN_KEYS
        if unknown:
            problems.append(Problem(f"{where} has unknown keys {sorted(unknown)}"))
        hid = str(h.get("id", f"H{i}"))
        if hid in seen:
            problems.append(Problem(f"{where}: id {hid!r} is used twice"))
        seen.add(hid)
        test = h.get("test")
        if test not in _TESTS:
            problems.append(Problem(f"{where}: test {test!r} is not one of {sorted(_TESTS)}"))
            continue
        required, optional = _TESTS[test]
        columns: dict[str, Any] = {}
        for key in required:
            if not h.get(key):
                problems.append(Problem(f"{where}: a {test} test needs {key!r}"))
            else:
                columns[key] = str(h[key])
        for key in optional:
            if h.get(key):
                columns[key] = tuple(_as_list(h[key]))
        expect = h.get("expect", "any")
        if expect not in ("positive", "negative", "any"):
            problems.append(Problem(f"{where}: expect must be positive, negative or any, not {expect!r}"))
        for key in h.get("published") or {}:
            if key not in published:
                problems.append(Problem(f"{where}: published sample {key!r} is not declared in 'published'"))
        groups = h.get("groups")
        if groups is not None and (not isinstance(groups, list) or len(groups) != 2):
            problems.append(Problem(f"{where}: groups must list exactly two levels (first is the reference)"))
        hyps.append(
            Hypothesis(
                id=hid,
                title=str(h.get("title", hid)),
                test=test,
                family=str(h.get("family", hid)),
                confirmatory=bool(h.get("confirmatory", False)),
                expect=expect,
                columns=columns,
                subset=dict(h.get("subset") or {}),
                groups=tuple(groups) if isinstance(groups, list) else None,
                levels={k: tuple(v) for k, v in (h.get("levels") or {}).items()},
                method=str(h.get("method", "pearson")),
                bootstrap=bool(h.get("bootstrap", True)),
                published=dict(h.get("published") or {}),
            )
        )
    boot = raw.get("bootstrap") or {}
    correction = str(raw.get("correction", "holm"))
    if correction not in ("holm", "BH", "bonferroni", "hochberg", "hommel", "BY", "fdr", "none"):
        problems.append(Problem(f"correction {correction!r} is not a p.adjust method"))
    if problems:
        raise DataError(f"analysis plan {source} is not valid", problems)
    return AnalysisPlan(
        name=str(raw.get("name", "analysis plan")),
        version=int(raw.get("version", 1)),
        alpha=float(raw.get("alpha", 0.05)),
        correction=correction,
        n_boot=int(boot.get("n", 2000)),
        boot_method=str(boot.get("method", "bca")),
        hypotheses=tuple(hyps),
        published=published,
        source=source,
    )


def load_plan(plan: str | Path | Mapping[str, Any] | AnalysisPlan | None = None) -> AnalysisPlan:
    """The default published battery (``None``), a YAML path, a parsed mapping or a plan."""
    if isinstance(plan, AnalysisPlan):
        return plan
    if plan is None:
        text = resources.files("lacrima.analysis").joinpath("default_plan.yaml").read_text(encoding="utf-8")
        return plan_from_dict(
            yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), source="default plan"
        )
    if isinstance(plan, Mapping):
        return plan_from_dict(plan)
    path = Path(plan)
    if not path.exists():
        raise DataError(f"analysis plan {path} does not exist")
    try:
        raw = yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except yaml.YAMLError as exc:
        raise DataError(f"analysis plan {path} is not valid YAML: {exc}") from exc
    return plan_from_dict(raw, source=str(path))
