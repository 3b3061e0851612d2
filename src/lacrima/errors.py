"""Exceptions and typed warnings raised by lacrima.

Every problem with a user's data is a :class:`DataError` (a ``ValueError``) whose message says what was
wrong and what to do. Statistical trouble that does not stop a computation is a typed warning whose text
says the consequence and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "InvarianceWarning",
    "LacrimaWarning",
    "MissingDataWarning",
    "Problem",
    "SingularDataWarning",
    "SingularFitWarning",
    "SmallSampleWarning",
]


@dataclass(frozen=True)
class Problem:
    """One problem found in input data: where it is and what is wrong."""

    message: str
    row: int | str | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class DataError(ValueError):
    """Input data (or a plan, mapping or file) is not usable as given.

    Carries every problem found, not just the first, in :attr:`problems`, so that a researcher can fix a
    file in one pass.
    """

    def __init__(self, message: str, problems: Iterable[Problem | str] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(
            p if isinstance(p, Problem) else Problem(str(p)) for p in problems
        )
        self.summary = message
        if self.problems:
            shown = self.problems[:50]
            lines = [message] + [f"  - {p}" for p in shown]
            if len(self.problems) > len(shown):
                lines.append(f"  ... and {len(self.problems) - len(shown)} more problems")
            message = "\n".join(lines)
        super().__init__(message)


class LacrimaWarning(UserWarning):
    """Base class of lacrima's warnings."""


class MissingDataWarning(LacrimaWarning):
    """Answers were treated as missing (absent columns, invalid values under ``strict=False``)."""


class ConvergenceWarning(LacrimaWarning):
    """An optimiser stopped without meeting its convergence criterion."""


class SingularFitWarning(LacrimaWarning):
    """A mixed model's random-effects covariance is on the boundary (a variance of 0 or a correlation of
    +-1)."""


class SingularDataWarning(LacrimaWarning):
    """A matrix an estimate needs is singular (fewer complete cases than items, an item that is a linear
    combination of others), so that estimate is NaN while the rest of the result stands."""


class SmallSampleWarning(LacrimaWarning):
    """An estimate rests on so few cases that its interval and p value are unreliable."""


class InvarianceWarning(LacrimaWarning):
    """A measurement-invariance model is doubtful (Heywood case, non-positive-definite matrix, poor fit)."""
