"""Old spellings of public names, kept for one release as aliases that warn.

The public API spells words the American way (``analyze``, ``summarize_sessions``, ``pseudonymize``) and
calls every confidence level ``level``. The names it had before still work until lacrima 0.3 and emit a
:class:`DeprecationWarning` that names the replacement.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["REMOVED_IN", "deprecated_alias", "warn_renamed"]

REMOVED_IN = "0.3"
F = TypeVar("F", bound=Callable[..., Any])


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is now spelled ``new``."""
    warnings.warn(
        f"{old} is deprecated and will be removed in lacrima {REMOVED_IN}; use {new} instead",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def deprecated_alias(func: F, old_name: str) -> F:
    """``func`` under its old name: the same function, warning on every call."""

    @functools.wraps(func)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warn_renamed(old_name, func.__name__)
        return func(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = (
        f"Deprecated alias of :func:`{func.__module__}.{func.__name__}` (removed in lacrima {REMOVED_IN})."
    )
    return alias  # type: ignore[return-value]
