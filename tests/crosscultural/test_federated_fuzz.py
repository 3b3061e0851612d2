"""Fuzzing the site-summary reader (a file from another institution is untrusted input): whatever the
file holds, read_site_summary returns a valid summary or raises DataError with reasons, nothing else."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lacrima.crosscultural.federated import pool_summaries, read_site_summary, site_summary
from lacrima.errors import DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    n = 60
    latent = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "a": latent + rng.normal(size=n),
            "b": latent + rng.normal(size=n),
            "c": rng.normal(size=n),
            "gender": rng.choice(["woman", "man"], size=n),
        }
    )
    return site_summary(
        df, ["a", "b", "c"], site="rome", categorical=["gender"], created=datetime(2026, 11, 1, tzinfo=UTC)
    )


VALID = _valid()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


def _paths(obj: Any) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += [(k, *p) for p in _paths(v)]
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += [(i, *p) for p in _paths(v)]
    return out


PATHS = [p for p in _paths(VALID) if p]


def _read(tmp_path: Path, text: str | bytes) -> dict[str, Any] | None:
    path = tmp_path / "summary.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    try:
        return read_site_summary(path)
    except DataError as exc:
        assert str(exc)
        return None


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(PATHS), json_values | st.just("<delete>")), min_size=1, max_size=4
    )
)
def test_it_reads_a_tampered_summary_or_says_why_not(tmp_path: Path, edits: list[tuple[Any, Any]]) -> None:
    obj = copy.deepcopy(VALID)
    for path, value in edits:
        holder = obj
        try:
            for step in path[:-1]:
                holder = holder[step]
            if value == "<delete>" and isinstance(holder, dict):
                holder.pop(path[-1], None)
            else:
                holder[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    back = _read(tmp_path, json.dumps(obj, allow_nan=True))
    if back is not None:  # accepted: then it pools like any valid summary
        pool_summaries([back])


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_it_refuses_arbitrary_bytes_with_a_data_error(tmp_path: Path, raw: bytes) -> None:
    assert _read(tmp_path, raw) is None or isinstance(json.loads(raw), dict)


@FUZZ
@given(value=json_values)
def test_it_refuses_any_json_that_is_not_a_summary(tmp_path: Path, value: Any) -> None:
    assert _read(tmp_path, json.dumps(value)) is None


def test_it_still_reads_the_untouched_summary(tmp_path: Path) -> None:
    back = _read(tmp_path, json.dumps(VALID))
    assert back == VALID
