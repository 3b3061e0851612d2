"""lme4-style model formulas: parsing, and model matrices with R's names and treatment contrasts.

Supported: ``y ~ a + b + a:b + a*b``, ``0 +`` / ``- 1`` to drop the intercept, random terms ``(1 | g)``,
``(1 + x | g)``, ``(0 + x | g)``, ``(x || g)`` (uncorrelated, expanded as lme4's ``expandDoubleVerts``),
``(1 | a/b)`` (nested: ``(1 | a) + (1 | b:a)``) and ``(1 | a:b)``. Numeric and boolean columns enter as
they are; string, object and categorical columns become treatment-contrast dummies named ``<var><level>``
with the first level (category order, else sorted) as reference, as R's ``model.matrix`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lacrima.errors import DataError

__all__ = ["Encoding", "ParsedFormula", "RandomTerm", "parse_formula"]

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")

Term = tuple[str, ...]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects block ``(lhs | group)`` after expansion of ``||`` and ``/``."""

    intercept: bool
    terms: tuple[Term, ...]
    group_vars: tuple[str, ...]

    @property
    def group(self) -> str:
        """lme4's name of the grouping factor (``client:therapist`` for nested terms)."""
        return ":".join(self.group_vars)


@dataclass(frozen=True)
class ParsedFormula:
    """A parsed lme4-style formula."""

    text: str
    response: str
    intercept: bool
    fixed: tuple[Term, ...]
    random: tuple[RandomTerm, ...]

    def variables(self) -> list[str]:
        """Every column the formula names, response first, without duplicates."""
        out: list[str] = [self.response]
        for t in self.fixed:
            out.extend(t)
        for r in self.random:
            for t in r.terms:
                out.extend(t)
            out.extend(r.group_vars)
        return list(dict.fromkeys(out))


def _split_top(text: str, seps: str) -> list[tuple[str, str]]:
    """Split at top-level separators (outside parentheses); returns (separator before, piece) pairs."""
    parts: list[tuple[str, str]] = []
    depth = 0
    current = ""
    sep = "+"
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise DataError(f"formula {text!r} has an unmatched ')'")
        if ch in seps and depth == 0:
            parts.append((sep, current.strip()))
            sep = ch
            current = ""
        else:
            current += ch
    if depth != 0:
        raise DataError(f"formula {text!r} has an unmatched '('")
    parts.append((sep, current.strip()))
    return parts


def _check_name(name: str, formula: str) -> str:
    if not _NAME.match(name):
        raise DataError(
            f"formula {formula!r}: cannot read {name!r} as a column name; lacrima's formulas take plain "
            "column names, '+', ':', '*', '0 +' / '- 1' and random terms like (1 + session | client_id). "
            "Compute transformed variables as new columns first."
        )
    return name


def _expand_terms(parts: list[tuple[str, str]], formula: str) -> tuple[bool | None, list[Term]]:
    """Fixed-style terms of one side: returns (intercept flag if stated, terms in R's order)."""
    intercept: bool | None = None
    terms: list[Term] = []
    order: dict[str, int] = {}
    for sep, piece in parts:
        if piece == "":
            if sep == "-" or len(parts) > 1:
                raise DataError(f"formula {formula!r} has an empty term")
            continue
        if piece in ("1", "0"):
            intercept = (piece == "1") if sep == "+" else (piece == "0")
            continue
        if sep == "-":
            raise DataError(f"formula {formula!r}: only '- 1' may be subtracted, not {piece!r}")
        factors = [f.strip() for f in piece.split("*")]
        expanded: list[Term] = [()]
        for f in factors:
            vars_ = tuple(_check_name(v.strip(), formula) for v in f.split(":"))
            for v in vars_:
                order.setdefault(v, len(order))
            expanded = expanded + [e + vars_ for e in expanded]
        for e in expanded[1:]:
            # R names an interaction by its variables in order of first appearance in the formula.
            key = tuple(sorted(set(e), key=order.__getitem__))
            if all(set(key) != set(t) for t in terms):
                terms.append(key)
    # R's terms() puts main effects first, then two-way interactions, and so on (stable within an order).
    terms.sort(key=len)
    return intercept, terms


def parse_formula(formula: str) -> ParsedFormula:
    """Parse an lme4-style formula into response, fixed terms and expanded random terms."""
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise DataError(f"formula {formula!r} must be a string with one '~', like 'y ~ x + (1 | client_id)'")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    response = _check_name(lhs, formula)
    fixed_parts: list[tuple[str, str]] = []
    random: list[RandomTerm] = []
    for sep, piece in _split_top(rhs, "+-"):
        if piece.startswith("(") and piece.endswith(")") and "|" in piece:
            if sep == "-":
                raise DataError(f"formula {formula!r}: a random term cannot be subtracted")
            random.extend(_parse_random(piece[1:-1], formula))
        else:
            fixed_parts.append((sep, piece))
    intercept, fixed = _expand_terms(fixed_parts, formula)
    return ParsedFormula(
        text=formula,
        response=response,
        intercept=True if intercept is None else intercept,
        fixed=tuple(fixed),
        random=tuple(random),
    )


def _parse_random(inner: str, formula: str) -> list[RandomTerm]:
    double = "||" in inner
    lhs, _, grp = inner.partition("||" if double else "|")
    if "|" in grp or not lhs.strip() or not grp.strip():
        raise DataError(f"formula {formula!r}: cannot read random term ({inner})")
    intercept, terms = _expand_terms(_split_top(lhs.strip(), "+-"), formula)
    has_int = True if intercept is None else intercept
    nest = [_check_name(g.strip(), formula) for g in grp.split("/")]
    groups: list[tuple[str, ...]] = []
    for i in range(len(nest)):
        level = nest[: i + 1]
        parts = tuple(v for g in reversed(level) for v in g.split(":"))
        groups.append(tuple(_check_name(p.strip(), formula) for p in parts))
    out: list[RandomTerm] = []
    for g in groups:
        if double:
            if has_int:
                out.append(RandomTerm(True, (), g))
            out.extend(RandomTerm(False, (t,), g) for t in terms)
        else:
            if not has_int and not terms:
                raise DataError(f"formula {formula!r}: random term ({inner}) has no effects")
            out.append(RandomTerm(has_int, tuple(terms), g))
    return out


@dataclass(frozen=True)
class Encoding:
    """How each predictor column becomes model-matrix columns (fixed at fit time, reused by predict)."""

    levels: dict[str, tuple[object, ...]] = field(default_factory=dict)

    @staticmethod
    def from_frame(frame: pd.DataFrame, names: list[str]) -> Encoding:
        levels: dict[str, tuple[object, ...]] = {}
        for name in names:
            col = frame[name]
            if is_categorical(col):
                if isinstance(col.dtype, pd.CategoricalDtype):
                    present = set(col.dropna().unique())
                    levels[name] = tuple(c for c in col.cat.categories if c in present)
                else:
                    levels[name] = tuple(sorted(col.dropna().unique(), key=str))
        return Encoding(levels)

    def columns(
        self, frame: pd.DataFrame, term: Term, full: frozenset[str] = frozenset()
    ) -> tuple[np.ndarray, list[str]]:
        """Model-matrix columns of one term (R's column order: first factor varies fastest); factors in
        ``full`` are coded with every level, the others with treatment contrasts."""
        n = len(frame)
        cols: list[np.ndarray] = [np.ones(n)]
        names: list[str] = [""]
        for var in term:
            if var in self.levels:
                lv = self.levels[var]
                use = lv if var in full else lv[1:]
                values = frame[var].to_numpy(dtype=object)
                unknown = set(pd.unique(values[pd.notna(values)])) - set(lv)
                if unknown:
                    raise DataError(
                        f"column {var!r} has levels {sorted(map(str, unknown))} that the fitted model has "
                        f"not seen (it knows {[str(x) for x in lv]})"
                    )
                dummies = [(values == level).astype(float) for level in use]
                dnames = [f"{var}{level}" for level in use]
            else:
                dummies = [frame[var].to_numpy(dtype=float)]
                dnames = [var]
            cols = [c * d for d in dummies for c in cols]
            names = [f"{a}:{b}" if a else b for b in dnames for a in names]
        if not cols:
            return np.empty((n, 0)), []
        return np.column_stack(cols), names

    def matrix(
        self, frame: pd.DataFrame, intercept: bool, terms: tuple[Term, ...]
    ) -> tuple[np.ndarray, list[str]]:
        """The design matrix of an intercept flag and terms, with lme4's column names."""
        blocks: list[np.ndarray] = []
        names: list[str] = []
        if intercept:
            blocks.append(np.ones((len(frame), 1)))
            names.append("(Intercept)")
        # R's rule (terms.formula / model.matrix): a factor F in term T gets contrasts when the margin
        # T without F is an earlier term (the empty margin is the intercept), else one column per level.
        # Without an intercept the first factor main effect is coded fully and then stands in for it.
        present: set[frozenset[str]] = {frozenset()} if intercept else set()
        for term in terms:
            full = frozenset(v for v in term if v in self.levels and frozenset(term) - {v} not in present)
            x, nm = self.columns(frame, term, full=full)
            present.add(frozenset(term))
            if len(term) == 1 and full:
                present.add(frozenset())
            blocks.append(x)
            names.extend(nm)
        mat = np.column_stack(blocks) if blocks else np.empty((len(frame), 0))
        return mat, names


def is_categorical(col: pd.Series) -> bool:
    """True for columns that R would treat as factors (strings, objects, categories)."""
    return not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))
