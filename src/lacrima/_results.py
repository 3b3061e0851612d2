"""Shared behaviour of lacrima's frozen result objects.

A result is a frozen dataclass. It offers ``.table()`` (a tidy DataFrame), ``to_dict()`` (plain Python
types, JSON-ready) and ``_repr_html_`` for notebooks. Numbers are never rounded here: only
:mod:`lacrima.report` rounds.

What "frozen" promises, for every subclass of :class:`Result` (``tests/test_result_semantics.py`` checks
each one, found by walking the subclasses, so a new class cannot escape):

- **Deeply immutable.** When a result is made, its DataFrame and Series fields are copied (pandas'
  copy-on-write makes that cheap), its arrays are copied and made read-only, its dicts become
  :class:`FrozenDict` and its lists and sets tuples and frozensets, all the way down. Reading a DataFrame
  or Series field hands out a fresh copy-on-write view, so ``res.coefficients.loc[0, "estimate"] = 99``
  changes that view and never the result or its ``table()``.
- **Equal by value.** Two results are equal when they are of the same class and every compared field is
  equal: DataFrames by :meth:`pandas.DataFrame.equals`, arrays element by element, and NaN equals NaN
  (two identical bootstrap runs with a NaN field compare equal).
- **Hashable**, consistently with equality, unless the class says why not in
  ``unhashable_reason`` (then :func:`hash` raises a ``TypeError`` carrying that reason).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lacrima.errors import DataError

__all__ = ["Check", "FrozenDict", "Result", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Turn numpy/pandas values and containers into JSON-ready Python objects (NaN becomes None)."""
    if isinstance(value, Result):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if not isinstance(value.index, pd.RangeIndex) else value
        return [{str(k): to_jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (int, str)):
        return value
    return str(value)


_PANDAS = (pd.DataFrame, pd.Series)


def _own_pandas(value: pd.DataFrame | pd.Series) -> Any:
    """A copy-on-write copy with its own axis objects: writes to either side never reach the other."""
    out = value.copy(deep=False)
    out.index = value.index.copy()
    if isinstance(value, pd.DataFrame) and isinstance(out, pd.DataFrame):
        out.columns = value.columns.copy()
    return out


def _frozen_array(value: np.ndarray) -> np.ndarray:
    if not value.flags.writeable and value.flags.owndata:
        return value
    out = np.array(value, copy=True)
    if out.dtype == object:
        out = np.array([_freeze(v) for v in out.ravel().tolist()] or [], dtype=object).reshape(value.shape)
    out.flags.writeable = False
    return out


def _freeze(value: Any) -> Any:
    """``value`` made deeply immutable (see the module's docstring)."""
    if isinstance(value, _PANDAS):
        return _own_pandas(value)
    if isinstance(value, np.ndarray):
        return _frozen_array(value)
    if isinstance(value, (FrozenDict, Result)):
        return value
    if isinstance(value, Mapping):
        return FrozenDict(value)
    if isinstance(value, tuple):
        items = [_freeze(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)._make(items) if hasattr(value, "_make") else tuple(items)
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v) for v in value)
    return value


def _hand_out(value: Any) -> Any:
    """What reading a stored value gives: pandas objects as fresh copy-on-write views."""
    if isinstance(value, _PANDAS):
        return _own_pandas(value)
    if type(value) is tuple and value and isinstance(value[0], _PANDAS):
        return tuple(_hand_out(v) for v in value)
    return value


class FrozenDict(Mapping[Any, Any]):
    """A read-only mapping that compares and hashes by value (what a result's dict fields become).

    It is a :class:`collections.abc.Mapping`, not a ``dict``: ``dict(res.field)`` gives a mutable copy.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[Any, Any] | None = None) -> None:
        self._data = {k: _freeze(v) for k, v in (data or {}).items()}
        self._hash: int | None = None

    def __getitem__(self, key: Any) -> Any:
        return _hand_out(self._data[key])

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return _equal(self, other)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(_key(self))
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (self._data,))


def _is_nan(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _equal(a: Any, b: Any) -> bool:
    """Value equality with NaN equal to NaN, through pandas, numpy, mappings, sequences and dataclasses."""
    if a is b:
        return True
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return (
            isinstance(a, pd.DataFrame)
            and isinstance(b, pd.DataFrame)
            and list(a.index.names) == list(b.index.names)
            and list(a.columns.names) == list(b.columns.names)
            and a.equals(b)
        )
    if isinstance(a, pd.Series) or isinstance(b, pd.Series):
        return (
            isinstance(a, pd.Series)
            and isinstance(b, pd.Series)
            and _equal(a.name, b.name)
            and list(a.index.names) == list(b.index.names)
            and a.equals(b)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
            return bool(np.array_equal(a, b, equal_nan=True))
        return all(_equal(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (
            ((isinstance(a, tuple) and isinstance(b, tuple)) or (isinstance(a, list) and isinstance(b, list)))
            and len(a) == len(b)
            and all(_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, Result) or isinstance(b, Result):
        return type(a) is type(b) and a == b
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            _equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a) if f.compare
        )
    if _is_nan(a) or _is_nan(b):
        return _is_nan(a) and _is_nan(b)
    if a is pd.NA or b is pd.NA or a is pd.NaT or b is pd.NaT:
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


_NAN_KEY = ("<nan>",)


def _array_key(values: Any) -> Any:
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        canon = arr.astype(np.float64)
        canon[np.isnan(canon)] = np.nan
        canon[canon == 0] = 0.0
        return (arr.shape, hash(np.ascontiguousarray(canon).tobytes()))
    return (arr.shape, tuple(_key(v) for v in arr.ravel().tolist()))


def _key(value: Any) -> Any:
    """A hashable stand-in for ``value``: equal values (in the sense of :func:`_equal`) get equal keys."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, (float, np.floating)):
        return _NAN_KEY if math.isnan(value) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, pd.DataFrame):
        return (
            "DataFrame",
            tuple(_key(c) for c in value.columns),
            tuple(_key(i) for i in value.index),
            tuple((str(value[c].dtype), _array_key(value[c].to_numpy())) for c in value.columns)
            if value.columns.is_unique
            else _array_key(value.to_numpy()),
        )
    if isinstance(value, pd.Series):
        return ("Series", tuple(_key(i) for i in value.index), str(value.dtype), _array_key(value.to_numpy()))
    if isinstance(value, np.ndarray):
        return ("ndarray", _array_key(value))
    if isinstance(value, Mapping):
        return ("Mapping", frozenset((_key(k), _key(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return tuple(_key(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_key(v) for v in value)
    if isinstance(value, Result):
        return hash(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f for f in dataclasses.fields(value) if f.compare]
        return (type(value).__qualname__, *(_key(getattr(value, f.name)) for f in fields))
    if value is pd.NA or value is pd.NaT:
        return "<NA>"
    hash(value)
    return value


class Result:
    """Base of lacrima's frozen result dataclasses: deeply immutable, equal by value, hashable.

    Subclasses are ``@dataclass(frozen=True, eq=False)`` (``eq=False`` so that this class's value
    equality and hash are kept) and override :meth:`table` when a better tidy layout than the default (one
    row of scalar fields) exists. A class whose results cannot be hashed sets ``unhashable_reason``.
    """

    #: Why this class's results cannot be hashed (``None``: they can).
    unhashable_reason: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")
        if own is not None and not getattr(own, "_lacrima_freezes", False):

            def __post_init__(self: Result, *args: Any) -> None:
                own(self, *args)
                self._freeze_fields()

            __post_init__._lacrima_freezes = True  # type: ignore[attr-defined]
            __post_init__.__doc__ = own.__doc__
            cls.__post_init__ = __post_init__  # type: ignore[method-assign]

    def __post_init__(self) -> None:
        self._freeze_fields()

    def _freeze_fields(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if not f.name.startswith("_"):
                value = object.__getattribute__(self, f.name)
                object.__setattr__(self, f.name, _freeze(value))

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name[:1] == "_":
            return value
        return _hand_out(value)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(
            _equal(object.__getattribute__(self, f.name), object.__getattribute__(other, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.compare
        )

    def __hash__(self) -> int:
        reason = type(self).unhashable_reason
        if reason:
            raise TypeError(f"{type(self).__name__} results are not hashable: {reason}")
        cached = self.__dict__.get("_lacrima_hash")
        if cached is None:
            parts = []
            for f in dataclasses.fields(self):  # type: ignore[arg-type]
                if f.compare:
                    try:
                        parts.append(_key(object.__getattribute__(self, f.name)))
                    except TypeError as exc:
                        raise TypeError(
                            f"{type(self).__name__}.{f.name} cannot be hashed ({exc}); a result class that "
                            "holds such a field sets unhashable_reason"
                        ) from exc
            cached = hash((type(self).__qualname__, *parts))
            object.__setattr__(self, "_lacrima_hash", cached)
        return int(cached)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lacrima_hash", None)  # str hashes differ between processes
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self._freeze_fields()

    def table(self) -> pd.DataFrame:
        """The result as a tidy DataFrame (default: one row with every scalar field)."""
        row: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, (int, float, str, bool, np.integer, np.floating)) or v is None:
                row[f.name] = v
            elif isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
                row[f"{f.name}_low"], row[f"{f.name}_high"] = v
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-ready Python values."""
        out = {"type": type(self).__name__}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = to_jsonable(getattr(self, f.name))
        return out

    def _repr_html_(self) -> str:
        frame = self.table()
        return f"<strong>{type(self).__name__}</strong>" + frame.to_html(
            index=not isinstance(frame.index, pd.RangeIndex)
        )


class Check(Result):
    """What every validator of the library returns (the one validation convention).

    A validator (``validate``, ``validate_sessions``, ``validate_site_summary``) never raises for bad data
    and never returns ``None``: it returns a check, a frozen result with

    - ``problems``: every problem found, as :class:`~lacrima.errors.Problem` (row, column, message);
    - ``ok``: True when nothing stops the data from being used;
    - ``raise_if_invalid()``: one :class:`~lacrima.errors.DataError` listing every problem, or nothing;
    - ``table()``: one row per problem or finding.

    Subclasses provide ``problems`` (a field or a property) and may override :meth:`headline`.
    """

    problems: tuple[Any, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def headline(self) -> str:
        """The first line of the :class:`~lacrima.errors.DataError` that :meth:`raise_if_invalid` raises."""
        return f"{len(self.problems)} problem(s) found; fix them and check again"

    def raise_if_invalid(self) -> None:
        """Raise one :class:`~lacrima.errors.DataError` listing every problem; do nothing when ``ok``."""
        if not self.ok:
            raise DataError(self.headline(), list(self.problems))
