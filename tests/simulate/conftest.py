"""Instruments shaped like the shared contract, built here so the simulation can be tested before (and
independently of) the shipped YAML files."""

from __future__ import annotations

from typing import Any

import pytest

from lacrima.instruments import Instrument, instrument_from_dict, list_instruments, load_instrument

GATE_SHOW = {"column": "cried_in_therapy", "in": [1]}


def _base(inst_id: str, prefix: str, lo: int, hi: int) -> dict[str, Any]:
    return {
        "id": inst_id,
        "name": f"test {inst_id}",
        "version": "test",
        "prefix": prefix,
        "source": "built in tests/simulate/conftest.py",
        "licence": {"name": "test", "redistribute_text": False},
        "languages": ["en"],
        "scale": {"min": lo, "max": hi},
    }


def _items(groups: dict[str, list[int]], reverse: set[int], extra: dict[str, Any] | None = None) -> Any:
    numbers = sorted(n for ns in groups.values() for n in ns)
    return [{"number": n, **({"reverse": True} if n in reverse else {}), **(extra or {})} for n in numbers]


def crying_in_therapy() -> Instrument:
    subs = {
        "frequency": [2],
        "intensity": [3, 4],
        "positive_feelings": [5, 6, 7, 8],
        "negative_feelings": [9, 10, 11, 12],
        "cognitive_change": [13, 14, 15],
        "felt_understood": [16, 17],
        "therapist_response": [18, 19, 20],
        "holding_back": [21, 22],
    }
    d = _base("crying_in_therapy", "cry", 1, 5)
    gate = {"number": 1, "column": "cried_in_therapy", "type": "boolean", "required": True}
    d["items"] = [gate, *_items(subs, {12, 20}, {"show_if": GATE_SHOW})]
    d["subscales"] = {k: {"items": v} for k, v in subs.items()}
    return instrument_from_dict(d)


def crying_attitudes() -> Instrument:
    subs = {"healing": [1, 2, 3], "weakness": [4, 5, 6], "acceptability": [7, 8, 9], "gendered": [10, 11, 12]}
    d = _base("crying_attitudes", "cat", 1, 5)
    d["items"] = _items(subs, {3, 9})
    d["subscales"] = {k: {"items": v} for k, v in subs.items()}
    return instrument_from_dict(d)


def ecr_r() -> Instrument:
    subs = {"anxiety": list(range(1, 19)), "avoidance": list(range(19, 37))}
    d = _base("ecr_r", "ecr", 1, 7)
    d["items"] = _items(subs, {9, 11, 20, 22, 26, 27, 28, 29, 30, 31, 33, 34, 35, 36})
    d["subscales"] = {k: {"items": v} for k, v in subs.items()}
    return instrument_from_dict(d)


def change() -> Instrument:
    d = _base("change", "chg", 1, 7)
    d["items"] = _items({"improvement": [1, 2, 3, 4, 5, 6]}, {2, 5})
    d["subscales"] = {"improvement": {"items": [1, 2, 3, 4, 5, 6]}}
    return instrument_from_dict(d)


def session_checkin() -> Instrument:
    show = {"column": "cried", "in": [1]}
    d = _base("session_checkin", "chk", 1, 5)
    d["kind"] = "checkin"
    d["items"] = [
        {"number": 1, "column": "cried", "type": "boolean", "required": True},
        *({"number": n, "show_if": show} for n in range(2, 8)),
        *({"number": n, "scale": {"min": 1, "max": 7}} for n in range(8, 12)),
    ]
    d["items"][6]["reverse"] = True
    d["subscales"] = {
        "intensity": {"items": [2, 3]},
        "positive_feelings": {"items": [4, 5]},
        "negative_feelings": {"items": [6, 7]},
        "alliance": {"items": [8, 9, 10, 11]},
    }
    return instrument_from_dict(d)


BUILT = {
    "crying_in_therapy": crying_in_therapy,
    "crying_attitudes": crying_attitudes,
    "ecr_r": ecr_r,
    "change": change,
    "session_checkin": session_checkin,
}


@pytest.fixture(scope="session")
def built_instruments() -> dict[str, Instrument]:
    """Contract-shaped instruments built in the tests (wai_sr is the shipped one)."""
    out = {k: f() for k, f in BUILT.items()}
    out["wai_sr"] = load_instrument("wai_sr")
    return out


@pytest.fixture(scope="session")
def instruments(built_instruments: dict[str, Instrument]) -> dict[str, Instrument]:
    """The shipped instruments where they exist, else the contract-shaped ones built here."""
    shipped = set(list_instruments())
    return {k: load_instrument(k) if k in shipped else v for k, v in built_instruments.items()}
