"""Shared fixtures of the io tests: the fixture folder and small instruments built in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lacrima.instruments import Instrument, instrument_from_dict

FIXTURES = Path(__file__).parent / "fixtures"


def _instrument(**fields: Any) -> Instrument:
    base: dict[str, Any] = {
        "version": "test",
        "source": "built in the test",
        "licence": {"name": "test", "redistribute_text": False},
        "languages": ["en"],
    }
    return instrument_from_dict({**base, **fields}, origin="<test>")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def ecr() -> Instrument:
    """An ECR-R-like instrument: 8 items on 1-7."""
    return _instrument(
        id="ecr_r",
        name="ECR-R (test copy)",
        prefix="ecr",
        scale={"min": 1, "max": 7},
        items=[{"number": n} for n in range(1, 9)],
        subscales={"anxiety": {"items": [1, 2, 3, 4]}, "avoidance": {"items": [5, 6, 7, 8]}},
    )


@pytest.fixture
def checkin() -> Instrument:
    """A session check-in: crying gate, intensity 1-5 shown if cried, three alliance items 1-7."""
    return _instrument(
        id="checkin_test",
        name="Session check-in (test copy)",
        prefix="chk",
        kind="checkin",
        scale={"min": 1, "max": 7},
        items=[
            {"number": 1, "column": "cried", "type": "boolean"},
            {"number": 2, "scale": {"min": 1, "max": 5}, "show_if": {"column": "cried", "in": [1]}},
            {"number": 3},
            {"number": 4},
            {"number": 5},
        ],
        subscales={"intensity": {"items": [2]}, "alliance": {"items": [3, 4, 5]}},
    )


@pytest.fixture
def demographics() -> Instrument:
    """Demographics with a choice item coded by text and a numeric age 16-100."""
    return _instrument(
        id="demo_test",
        name="Demographics (test copy)",
        prefix="dem",
        kind="demographics",
        scale={"min": 0, "max": 1},
        items=[
            {
                "number": 1,
                "column": "gender",
                "type": "choice",
                "options": [
                    {"code": "woman", "label": {"en": "Woman"}},
                    {"code": "man", "label": {"en": "Man"}},
                    {"code": "non_binary", "label": {"en": "Non-binary"}},
                ],
            },
            {"number": 2, "column": "age", "type": "numeric", "scale": {"min": 16, "max": 100}},
        ],
    )
