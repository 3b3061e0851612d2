from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lacrima.errors import DataError
from lacrima.simulate import power_by_simulation

REF = json.loads((Path(__file__).parents[1] / "reference" / "simulate_power.json").read_text())


def test_it_matches_r_power_t_test_within_monte_carlo_error() -> None:
    curve = power_by_simulation("difference", REF["delta"], REF["n_total"], seed=12, n_sims=4000)
    for got, se, want in zip(curve.power, curve.se, REF["power"], strict=True):
        assert abs(got - want) < 4 * max(se, 0.005)
    table = curve.table()
    assert list(table.columns) == ["n", "power", "se", "n_sims"]
    assert list(table["n"]) == REF["n_total"]


def test_it_holds_the_type_one_error_rate_for_a_null_correlation() -> None:
    curve = power_by_simulation("correlation", 0.0, [30, 120], seed=3, n_sims=4000, alpha=0.05)
    for p, se in zip(curve.power, curve.se, strict=True):
        assert abs(p - 0.05) < 4 * se


def test_it_gains_power_with_sample_size_and_repeats_with_a_seed() -> None:
    a = power_by_simulation("correlation", 0.3, [30, 80, 200], seed=9, n_sims=1000)
    b = power_by_simulation("correlation", 0.3, [30, 80, 200], seed=9, n_sims=1000)
    assert a == b
    assert np.all(np.diff(a.power) > 0)
    assert a.power[-1] > 0.95


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("correlation", 1.5, [50]), "impossible"),
        (("difference", 0.3, [3]), "fewer than 2"),
        (("ratio", 0.3, [50]), "choose"),
        (("correlation", 0.3, []), "empty"),
    ],
)
def test_it_rejects_unusable_settings(args, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=words):
        power_by_simulation(*args, seed=1)
