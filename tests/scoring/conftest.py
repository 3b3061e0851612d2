"""Small instruments built for the scoring tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lacrima.instruments import Instrument, instrument_from_dict


def toy_definition(**overrides: Any) -> dict[str, Any]:
    """A 6-item instrument: a yes/no gate, three gated items, one reverse-keyed item and a sum subscale."""
    data: dict[str, Any] = {
        "id": "toy",
        "name": "Toy scale",
        "version": "1",
        "prefix": "toy",
        "source": "made for lacrima's tests",
        "licence": {"name": "test", "redistribute_text": False},
        "languages": ["en"],
        "scale": {"min": 1, "max": 5},
        "items": [
            {"number": 1, "column": "cried", "type": "boolean"},
            {"number": 2, "show_if": {"column": "cried", "in": [1]}},
            {"number": 3, "show_if": {"column": "cried", "in": [1]}},
            {"number": 4, "show_if": {"column": "cried", "in": [1]}, "reverse": True},
            {"number": 5, "reverse": True},
            {"number": 6},
        ],
        "subscales": {
            "feel": {"items": [2, 3, 4]},
            "total": {"items": [5, 6], "method": "sum"},
        },
        "bands": {
            "total": [{"min": 2, "label": "low"}, {"min": 6, "label": "mid"}, {"min": 8, "label": "high"}]
        },
        "missing": {"rule": "prorate", "min_answered": 0.6},
    }
    data.update(overrides)
    return data


@pytest.fixture
def toy() -> Instrument:
    return instrument_from_dict(toy_definition())


@pytest.fixture
def make_toy() -> Callable[..., Instrument]:
    """Build the toy instrument with some top-level fields replaced."""

    def build(**overrides: Any) -> Instrument:
        return instrument_from_dict(toy_definition(**overrides))

    return build
