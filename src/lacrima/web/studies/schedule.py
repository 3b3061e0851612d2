"""What a client's one link asks, and when: a study's schedule, stored as data on the study.

::

    {"intake": ["demographics", "ecr_r", "crying_attitudes", "phq9", "gad7"],
     "repeated": [{"instruments": ["phq9", "gad7"], "first": 4, "every": 4},
                  {"instruments": ["wai_sr"], "first": 3, "every": 5}]}

``intake`` is asked once, before the first check-in, in the order given. Each ``repeated`` entry is asked
after the check-in of session ``first`` and then every ``every`` sessions (3, 8, 13, ... above); without
``every`` it is asked once. Instruments are asked in the order the entries list them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lacrima.errors import DataError, Problem
from lacrima.instruments import list_instruments, load_instrument

EXAMPLE: dict[str, Any] = {
    "intake": ["demographics", "ecr_r", "crying_attitudes", "phq9", "gad7"],
    "repeated": [
        {"instruments": ["phq9", "gad7"], "first": 4, "every": 4},
        {"instruments": ["wai_sr"], "first": 3, "every": 5},
    ],
}


def _instrument_problems(ids: Any, where: str) -> list[Problem]:
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return [Problem(f"{where}: give a non-empty list of instrument ids")]
    problems = []
    known = set(list_instruments())
    for iid in ids:
        if iid not in known:
            problems.append(Problem(f"{where}: {iid!r} is not an instrument ({', '.join(sorted(known))})"))
        elif load_instrument(iid).kind == "checkin":
            problems.append(Problem(f"{where}: {iid!r} is the check-in itself, not a scheduled measure"))
    if len(set(ids)) != len(ids):
        problems.append(Problem(f"{where}: an instrument is listed twice"))
    return problems


def schedule_problems(schedule: Any) -> list[Problem]:
    """Every problem with a schedule (an empty list when it is usable)."""
    if not isinstance(schedule, Mapping):
        return [Problem("the schedule must be a mapping with 'intake' and/or 'repeated'")]
    problems: list[Problem] = []
    extra = set(schedule) - {"intake", "repeated"}
    if extra:
        problems.append(Problem(f"unknown keys {sorted(extra)}; a schedule has 'intake' and 'repeated'"))
    if "intake" in schedule:
        problems += _instrument_problems(schedule["intake"], "intake")
    repeated = schedule.get("repeated", [])
    if not isinstance(repeated, list):
        return [*problems, Problem("repeated: give a list of entries")]
    for n, entry in enumerate(repeated, start=1):
        where = f"repeated entry {n}"
        if not isinstance(entry, Mapping):
            problems.append(Problem(f"{where}: give a mapping with instruments, first and every"))
            continue
        bad = set(entry) - {"instruments", "first", "every"}
        if bad:
            problems.append(Problem(f"{where}: unknown keys {sorted(bad)}"))
        problems += _instrument_problems(entry.get("instruments"), where)
        for key, required in (("first", True), ("every", False)):
            value = entry.get(key)
            if value is None and not required:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 500:
                problems.append(Problem(f"{where}: {key} must be a session number from 1 to 500"))
    return problems


def validate_schedule(schedule: Any) -> dict[str, Any]:
    """The schedule as given, or :class:`DataError` listing every problem."""
    problems = schedule_problems(schedule)
    if problems:
        raise DataError("the schedule cannot be used", problems)
    return dict(schedule)


def intake(schedule: Mapping[str, Any]) -> list[str]:
    return list(schedule.get("intake", []))


def due(schedule: Mapping[str, Any], session: int) -> list[str]:
    """Instrument ids the schedule asks after the check-in of ``session``, in order, each once."""
    out: list[str] = []
    for entry in schedule.get("repeated", []):
        first, every = int(entry["first"]), entry.get("every")
        hit = session == first or (every is not None and session > first and (session - first) % every == 0)
        if hit:
            out += [i for i in entry["instruments"] if i not in out]
    return out


def instruments(schedule: Mapping[str, Any]) -> list[str]:
    """Every instrument the schedule uses (intake first), each once."""
    out = intake(schedule)
    for entry in schedule.get("repeated", []):
        out += [i for i in entry["instruments"] if i not in out]
    return out
