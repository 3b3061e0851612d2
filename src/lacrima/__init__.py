"""lacrima: study and use client crying in psychotherapy.

Collect, score, analyse and report crying, working alliance, attachment and change. The public API is the
names in ``__all__``; they load lazily so that ``import lacrima`` stays fast (no matplotlib or Django until
needed).

>>> import lacrima as lc
>>> lc.load_instrument("wai_sr").subscales["bond"].items
(3, 5, 7, 9)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lacrima.errors import (
    ConvergenceWarning,
    DataError,
    InvarianceWarning,
    LacrimaWarning,
    SingularFitWarning,
    SmallSampleWarning,
)

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Instrument": "lacrima.instruments",
    "list_instruments": "lacrima.instruments",
    "load_instrument": "lacrima.instruments",
}

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "Instrument",
    "InvarianceWarning",
    "LacrimaWarning",
    "SingularFitWarning",
    "SmallSampleWarning",
    "__version__",
    "list_instruments",
    "load_instrument",
]

if TYPE_CHECKING:
    from lacrima.instruments import Instrument as Instrument
    from lacrima.instruments import list_instruments as list_instruments
    from lacrima.instruments import load_instrument as load_instrument


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lacrima' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
