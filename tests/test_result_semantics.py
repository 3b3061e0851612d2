"""What "frozen result" promises, pinned for every result class (lacrima._results).

The classes are found by walking the subclasses of :class:`lacrima._results.Result` after importing every
library module, and the instances by running the public functions and walking everything they return. A
new result class that no public function here produces fails :func:`test_it_covers_every_result_class`,
so none escapes the checks: deep immutability, value equality (NaN equal to NaN), a hash consistent with
equality (or a stated reason why not), pickling and ``dataclasses.replace``.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import pickle
import pkgutil
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import lacrima
import lacrima as lc
from lacrima._results import Check, FrozenDict, Result
from lacrima.crosscultural import pool_plan as pooled_report
from lacrima.crosscultural import pool_summaries, site_summary
from lacrima.crosscultural.federated import PooledSummary
from lacrima.crosscultural.invariance import InvarianceResult
from lacrima.longitudinal.plan import DEFAULT_LONGITUDINAL_PLAN, analyze_sessions

REF = Path(__file__).parent / "reference"
STAMP = datetime(2026, 12, 2, tzinfo=UTC)
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
POOL_PLAN: dict[str, Any] = {
    "name": "semantics",
    "hypotheses": [{"id": "P1", "title": "x with y", "test": "correlate", "x": "x", "y": "y"}],
}


BASES: set[type[Result]] = {Check}  # shared behaviour, never instantiated themselves


def _result_classes() -> set[type[Result]]:
    for mod in pkgutil.walk_packages(lacrima.__path__, "lacrima."):
        if not mod.name.startswith("lacrima.web"):
            importlib.import_module(mod.name)
    found: set[type[Result]] = set()
    todo: list[type[Result]] = [Result]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found - BASES


def _build(tmp: Path) -> list[Result]:
    """Everything the public API returns on small data, computed from scratch."""
    study = lc.simulate_study(seed=3, n=60).data
    all_scores = lc.score_all(study)
    scored = study.join(all_scores.scores)
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=80),
            "y": rng.normal(size=80),
            "m": rng.normal(size=80),
            "g": np.repeat(["a", "b", "c", "d"], 20),
            "h": np.tile(["u", "v"], 40),
            "flag": np.tile([0, 1, 1, 0, 1], 16),
        }
    )
    frame["y"] += 0.5 * frame["x"] * frame["m"]
    frame["constant"] = 1.0
    roots: list[Result] = [
        lc.analyze(study, seed=5, bootstrap=False),
        lc.descriptives(frame, ["x", "y"], by="h"),
        lc.prevalence(frame, "flag", by="h"),
        lc.correlation_matrix(frame, ["x", "y", "m"], p_adjust="holm"),
        lc.mann_whitney(frame, "x", "h"),
        lc.welch_anova(frame, "x", "g"),
        lc.kruskal(frame, "x", "g"),
        lc.crosstab_test(frame, "h", "flag"),
        lc.moderation(frame, "y", "x", "m"),
        lc.bootstrap_ci(frame, "pearson", columns=["x", "y"], n_boot=200, seed=1),
        lc.bootstrap_ci(frame, "pearson", columns=["x", "y"], n_boot=200, seed=1, method="percentile"),
        lc.meta([0.1, 0.3, 0.25, 0.4], n=[40, 60, 80, 50]),
        lc.meta([0.1, 0.3, 0.25, 0.4, 0.2], n=[40, 60, 80, 50, 70], moderators=[1.0, 2.0, 3.0, 2.5, 1.5]),
        lc.reliability(scored, [f"wai_{i:02d}" for i in range(1, 13)]),
        lc.reliable_change(
            [10, 12, 20, 15, 9], [6, 13, 10, 15, 2], reliability=0.8, sd_pre=5.0, cutoff_criterion=12.0
        ),
        lc.validate(study, "wai_sr"),
        all_scores,
        lc.power_by_simulation("correlation", 0.3, [30, 60], seed=4, n_sims=50),
    ]
    hs = pd.read_csv(REF / "data" / "holzinger.csv")
    inv = lc.invariance(hs, HS_MODEL, "school", steps=("configural", "metric", "scalar"))
    assert isinstance(inv, InvarianceResult)
    roots += [inv, inv.partial("scalar", max_free=1)]
    roots.append(lc.multisite(study, invariance_models={}, by_gender=False))

    raw = pd.read_csv(REF / "data" / "pooled_partial.csv")
    summaries = [
        site_summary(raw[raw["site"] == s], ["x", "y", "c1", "c2"], site=s, created=STAMP)
        for s in raw["site"].unique()
    ]
    pooled = pool_summaries(summaries)
    assert isinstance(pooled, PooledSummary)
    roots += [pooled, pooled.correlation("x", "y"), pooled.regression("y", ["x", "c1"])]
    roots.append(pooled_report(summaries, POOL_PLAN))
    broken = summaries[0].to_dict()
    broken["n"] = 1
    roots += [lc.validate_site_summary(summaries[0]), lc.validate_site_summary(broken)]

    sessions = lc.simulate_sessions(60, 6, sessions=(5, 9), seed=2).data
    roots.append(analyze_sessions(sessions, plan=[DEFAULT_LONGITUDINAL_PLAN[0]]))
    small = lc.mixed("alliance ~ session + (1 | client_id)", sessions, reml=False)
    big = lc.mixed("alliance ~ session + cried + (1 | client_id)", sessions, reml=False)
    roots += [small, small.lrt(big)]
    roots += [
        lc.lag(sessions, "alliance"),
        lc.episodes(sessions),
        lc.summarize_sessions(sessions, means=("alliance",)),
        lc.validate_sessions(sessions),
    ]
    from lacrima import feedback as fb

    planted = lc.simulate_sessions(30, 3, (8, 14), seed=8, plant={"rupture": 0.3, "risk": 0.2})
    roots.append(fb.rule_performance(planted))
    one = planted.data[planted.data["client_id"] == planted.data["client_id"].iloc[0]]
    roots += [fb.evaluate(one), fb.default_expected_recovery("phq9")]
    path = tmp / "study.csv"
    study.to_csv(path, index=False)
    roots.append(lc.read_table(path))
    return roots


def _walk(value: Any, path: str, seen: set[int]) -> Iterator[tuple[str, Any]]:
    """Every value reachable from ``value`` through result fields and containers, with its path."""
    if id(value) in seen:
        return
    seen.add(id(value))
    yield path, value
    if isinstance(value, Result) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        for f in dataclasses.fields(value):
            if not f.name.startswith("_"):
                yield from _walk(getattr(value, f.name), f"{path}.{f.name}", seen)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, f"{path}[{k!r}]", seen)
    elif isinstance(value, (tuple, list, frozenset, set)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]", seen)


def _results(roots: list[Result]) -> dict[str, Result]:
    seen: set[int] = set()
    out: dict[str, Result] = {}
    for i, root in enumerate(roots):
        for path, value in _walk(root, f"{type(root).__name__}#{i}", seen):
            if isinstance(value, Result):
                out[path] = value
    return out


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Result, Result]]:
    """Each result reachable from the public API, beside the same result computed a second time."""
    tmp = tmp_path_factory.mktemp("results")
    first = _results(_build(tmp))
    second = _results(_build(tmp))
    assert first.keys() == second.keys()
    return [(path, first[path], second[path]) for path in first]


def _by_class(twins: list[tuple[str, Result, Result]]) -> dict[type, tuple[str, Result, Result]]:
    """One (the first found) instance per class: the checks below run once per class."""
    out: dict[type, tuple[str, Result, Result]] = {}
    for path, a, b in twins:
        out.setdefault(type(a), (path, a, b))
    return out


def test_it_covers_every_result_class(twins: list[tuple[str, Result, Result]]) -> None:
    missing = {c.__qualname__ for c in _result_classes()} - {c.__qualname__ for c in _by_class(twins)}
    assert not missing, f"no public call in _build produces {sorted(missing)}: add one"


def test_every_result_class_is_a_frozen_dataclass_that_keeps_the_base_semantics() -> None:
    for cls in _result_classes():
        assert dataclasses.is_dataclass(cls), cls
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, f"{cls.__qualname__} is not frozen"
        assert cls.__eq__ is Result.__eq__, f"{cls.__qualname__} overrides __eq__ (use eq=False)"
        assert cls.__hash__ is Result.__hash__, f"{cls.__qualname__} overrides __hash__"


def _poke(obj: pd.DataFrame | pd.Series) -> None:
    """Write into the first cell of ``obj`` a value its column accepts."""
    column = obj.iloc[:, 0] if isinstance(obj, pd.DataFrame) else obj
    if pd.api.types.is_bool_dtype(column):
        new: Any = not bool(column.iloc[0])
    elif pd.api.types.is_numeric_dtype(column):
        new = 99
    elif pd.api.types.is_datetime64_any_dtype(column):
        new = pd.Timestamp("1999-01-01")
    else:
        new = "changed"
    if isinstance(obj, pd.DataFrame):
        obj.iloc[0, 0] = new
    else:
        obj.iloc[0] = new


def _check_frame_cannot_change(result: Result, name: str) -> None:
    before = getattr(result, name)
    table = result.table()
    out = getattr(result, name)
    if out.size:
        _poke(out)
    if isinstance(out, pd.DataFrame):
        if out.shape[1]:
            del out[out.columns[0]]
        out.columns.name = "changed"
    out.index.name = "changed"
    after = getattr(result, name)
    assert after.equals(before) and after.index.name == before.index.name, name
    assert result.table().equals(table), f"changing {name} changed table()"


def _check_deep(value: Any, where: str) -> None:
    if isinstance(value, np.ndarray):
        assert not value.flags.writeable, f"{where} is a writeable array"
        if value.size:
            with pytest.raises(ValueError, match="read-only"):
                value.flat[0] = value.flat[0]
    elif isinstance(value, Mapping) and not isinstance(value, (FrozenDict, MappingProxyType, Result)):
        pytest.fail(f"{where} is a mutable mapping ({type(value).__name__})")
    elif isinstance(value, FrozenDict):
        with pytest.raises(TypeError):
            value["__new__"] = 1  # type: ignore[index]
    elif isinstance(value, (list, set)):
        pytest.fail(f"{where} is a mutable {type(value).__name__}")


def test_no_result_can_be_changed_in_place(twins: list[tuple[str, Result, Result]]) -> None:
    for cls, (path, res, _) in _by_class(twins).items():
        table = res.table()
        for f in dataclasses.fields(res):
            if f.name.startswith("_"):
                continue
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(res, f.name, None)
            value = getattr(res, f.name)
            if isinstance(value, (pd.DataFrame, pd.Series)):
                _check_frame_cannot_change(res, f.name)
        for where, value in _walk(res, path, set()):
            if not isinstance(value, (pd.DataFrame, pd.Series)):
                _check_deep(value, where)
        changed = res.table()
        if changed.size:
            _poke(changed)
        assert res.table().equals(table), f"{cls.__qualname__}.table() hands out its own storage"


def test_frames_inside_containers_cannot_be_changed_through_the_container(
    twins: list[tuple[str, Result, Result]],
) -> None:
    checked = 0
    for _, res, twin in twins:
        for where, value in _walk(res, "", set()):
            if isinstance(value, (pd.DataFrame, pd.Series)) and value.size and "]" in where:
                checked += 1
                _poke(value)
        assert res == twin
    assert checked, "no DataFrame inside a container was reached: the check checked nothing"


def test_identical_results_are_equal_and_hash_alike(twins: list[tuple[str, Result, Result]]) -> None:
    for path, a, b in twins:
        assert a is not b
        assert a == b, f"{path}: two identical computations compare unequal"
        assert not a != b  # noqa: SIM202 (__ne__ must agree)
        reason = type(a).unhashable_reason
        if reason:
            with pytest.raises(TypeError, match="not hashable"):
                hash(a)
        else:
            assert hash(a) == hash(b), path
            assert len({a, b}) == 1


def test_results_with_nan_fields_compare_equal(twins: list[tuple[str, Result, Result]]) -> None:
    def has_nan(res: Result) -> bool:
        values = [getattr(res, f.name) for f in dataclasses.fields(res)]
        return any(isinstance(v, float) and np.isnan(v) for v in values)

    with_nan = [(p, a, b) for p, a, b in twins if has_nan(a)]
    assert with_nan, "no result with a NaN field was built: the check checked nothing"
    for path, a, b in with_nan:
        assert a == b, path


def test_a_result_survives_pickling_and_copying_with_its_semantics(
    twins: list[tuple[str, Result, Result]],
) -> None:
    for cls, (path, res, _) in _by_class(twins).items():
        for other in (pickle.loads(pickle.dumps(res)), copy.deepcopy(res), copy.copy(res)):
            assert type(other) is cls
            assert other == res, path
            if not cls.unhashable_reason:
                assert hash(other) == hash(res), path
            for where, value in _walk(other, path, set()):
                if not isinstance(value, (pd.DataFrame, pd.Series)):
                    _check_deep(value, where)


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1 if np.isfinite(value) else 0.0
    if isinstance(value, str):
        return value + "!"
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return (*value, "!")
    return None


def test_a_result_with_one_field_changed_is_unequal(twins: list[tuple[str, Result, Result]]) -> None:
    for cls, (path, res, _) in _by_class(twins).items():
        for f in dataclasses.fields(res):
            new = _changed(getattr(res, f.name))
            if new is None or not f.compare or f.name.startswith("_"):
                continue
            other = dataclasses.replace(res, **{f.name: new})
            assert other != res, f"{path}: changing {f.name} left it equal"
            break
        else:
            pytest.fail(f"{cls.__qualname__} has no scalar field to change")


def test_it_makes_inputs_its_own() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=30), "y": rng.normal(size=30), "m": rng.normal(size=30)})
    res = lc.moderation(frame, "y", "x", "m")
    before = res.coefficients
    coefficients = res.coefficients
    coefficients.loc[coefficients.index[0], "estimate"] = 99
    assert res.coefficients.equals(before)
    arr = np.arange(5.0)
    boot = lc.bootstrap_ci(frame, "pearson", columns=["x", "y"], n_boot=200, seed=1)
    boot = dataclasses.replace(boot, replicates=arr)
    arr[0] = 42.0
    assert boot.replicates[0] == 0.0
    assert arr.flags.writeable, "the caller's own array stays writeable"


def test_frozen_dict_is_read_only_and_hashes_by_value() -> None:
    d = FrozenDict({"a": 1, "b": {"c": [1, 2]}})
    assert d == {"a": 1, "b": {"c": (1, 2)}}
    assert hash(d) == hash(FrozenDict({"b": {"c": [1, 2]}, "a": 1}))
    assert isinstance(d["b"], FrozenDict)
    with pytest.raises(TypeError):
        d["a"] = 2  # type: ignore[index]
    assert pickle.loads(pickle.dumps(d)) == d
    assert dict(d)["a"] == 1
