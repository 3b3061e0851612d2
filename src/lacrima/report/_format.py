"""APA-style number formatting. The report package is the only place in lacrima that rounds numbers."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_ci", "fmt_int", "fmt_num", "fmt_p", "fmt_r", "is_missing"]

MINUS = "\u2212"


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def fmt_num(value: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals and a typographic minus; an em dash for missing values."""
    if is_missing(value):
        return "\u2014"
    v = float(value)
    if math.isinf(v):
        return "\u221e" if v > 0 else MINUS + "\u221e"
    text = f"{v:.{digits}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")
    return _signed(text)


def fmt_int(value: Any) -> str:
    if is_missing(value):
        return "\u2014"
    return f"{round(float(value)):,}"


def fmt_r(value: Any, digits: int = 2) -> str:
    """A statistic bounded by 1 in APA style: no leading zero (``.43``, ``-.07``)."""
    if is_missing(value):
        return "\u2014"
    text = fmt_num(value, digits)
    return text.replace("0.", ".", 1) if text.lstrip(MINUS).startswith("0.") else text


def fmt_p(value: Any) -> str:
    """APA p value: three decimals, no leading zero, ``< .001`` for small values."""
    if is_missing(value):
        return "\u2014"
    p = float(value)
    if p < 0.001:
        return "< .001"
    if p > 0.999:
        return "> .999"
    return f"{p:.3f}".replace("0.", ".", 1)


def fmt_ci(low: Any, high: Any, digits: int = 2, bounded: bool = False) -> str:
    """A confidence interval as ``[low, high]``."""
    f = fmt_r if bounded else fmt_num
    return f"[{f(low, digits)}, {f(high, digits)}]"
