"""One validation convention: every public validator returns a check (lacrima._results.Check) with ``ok``,
``problems``, ``table()`` and ``raise_if_invalid()``; none returns None or raises for bad data."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import lacrima as lc
from lacrima._results import Check
from lacrima.errors import DataError


def _cases() -> dict[str, tuple[Any, Any]]:
    study = lc.simulate_study(seed=2, n=30).data
    sessions = lc.simulate_sessions(20, 3, sessions=(3, 5), seed=1).data
    summary = lc.site_summary(study, ["wai_01", "wai_02", "wai_03"], site="a")
    broken = summary.to_dict()
    broken["n"] = 1
    return {
        "validate": ((study, "wai_sr"), (study.assign(wai_01=99), "wai_sr")),
        "validate_sessions": ((sessions,), (pd.concat([sessions, sessions.iloc[:2]]),)),
        "validate_site_summary": ((summary,), (broken,)),
    }


def test_every_public_validator_is_covered() -> None:
    assert {n for n in lc.__all__ if n.startswith("validate")} == set(_cases())


@pytest.mark.parametrize("name", sorted(_cases()))
def test_it_returns_a_check_for_good_and_bad_data(name: str) -> None:
    good, bad = _cases()[name]
    validator = getattr(lc, name)
    passed, failed = validator(*good), validator(*bad)
    assert isinstance(passed, Check) and isinstance(failed, Check)
    assert passed.ok and not failed.ok
    assert failed.problems and len(failed.table()) >= 1
    passed.raise_if_invalid()
    with pytest.raises(DataError) as info:
        failed.raise_if_invalid()
    assert info.value.problems
