"""Parse lavaan-style measurement models.

Supported syntax (a subset of lavaan's model syntax that covers measurement models)::

    # a comment
    visual  =~ x1 + x2 + x3     # factor defined by its indicators; the first one is the marker
    textual =~ x4 + x5
    textual =~ x6               # a factor may be continued on a later line
    x1 ~~ x4                    # residual covariance between two observed variables
    visual ~~ textual           # accepted, but factors covary freely anyway (as do x1 ~~ x1 variances)

Factors covary freely, every residual variance is free and the first loading of each factor is fixed to 1
(lavaan's default marker-variable identification). Semicolons separate statements like newlines do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lacrima.errors import DataError, Problem

__all__ = ["MeasurementModel", "parse_model"]

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class MeasurementModel:
    """A parsed measurement model: factors with their indicators and residual covariances."""

    factors: tuple[tuple[str, tuple[str, ...]], ...]
    residual_covariances: tuple[tuple[str, str], ...]
    syntax: str

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.factors)

    @property
    def observed(self) -> tuple[str, ...]:
        """Observed variables in order of first appearance."""
        seen: dict[str, None] = {}
        for _, indicators in self.factors:
            for ind in indicators:
                seen.setdefault(ind, None)
        return tuple(seen)

    def indicators(self, factor: str) -> tuple[str, ...]:
        return dict(self.factors)[factor]


def _split_terms(text: str, lineno: int, problems: list[Problem]) -> list[str]:
    terms = [t.strip() for t in text.split("+")]
    out: list[str] = []
    for t in terms:
        if not t:
            problems.append(Problem(f"line {lineno}: empty term in {text.strip()!r} (a stray '+'?)"))
        elif "*" in t:
            problems.append(
                Problem(
                    f"line {lineno}: {t!r} uses a modifier ('*'); fixed values and labels are not "
                    "supported, write plain variable names"
                )
            )
        elif not _NAME.match(t):
            problems.append(Problem(f"line {lineno}: {t!r} is not a valid variable name"))
        else:
            out.append(t)
    return out


def parse_model(syntax: str) -> MeasurementModel:
    """Parse lavaan-style measurement syntax into a :class:`MeasurementModel`.

    Raises
    ------
    DataError
        For empty models, unsupported operators, bad names, duplicate indicators and factors with fewer
        than two indicators.
    """
    if not isinstance(syntax, str) or not syntax.strip():
        raise DataError("the model syntax is empty; write e.g. 'visual =~ x1 + x2 + x3'")
    problems: list[Problem] = []
    factors: dict[str, list[str]] = {}
    rescov: list[tuple[str, str]] = []
    statements: list[tuple[int, str]] = []
    for lineno, raw in enumerate(syntax.splitlines(), start=1):
        line = raw.split("#", 1)[0].split("!", 1)[0]
        statements.extend((lineno, part) for part in line.split(";") if part.strip())
    for lineno, stmt in statements:
        if "=~" in stmt:
            lhs, rhs = stmt.split("=~", 1)
            name = lhs.strip()
            if not _NAME.match(name):
                problems.append(Problem(f"line {lineno}: {name!r} is not a valid factor name"))
                continue
            for ind in _split_terms(rhs, lineno, problems):
                bucket = factors.setdefault(name, [])
                if ind in bucket:
                    problems.append(Problem(f"line {lineno}: {ind!r} is listed twice for factor {name!r}"))
                else:
                    bucket.append(ind)
        elif "~~" in stmt:
            lhs, rhs = stmt.split("~~", 1)
            left = _split_terms(lhs, lineno, problems)
            right = _split_terms(rhs, lineno, problems)
            if len(left) != 1:
                problems.append(
                    Problem(f"line {lineno}: write one variable left of '~~' in {stmt.strip()!r}")
                )
                continue
            for r in right:
                if r != left[0]:
                    rescov.append((left[0], r))
        elif re.search(r"~1\b|~|:=|==|<|>", stmt):
            problems.append(
                Problem(
                    f"line {lineno}: {stmt.strip()!r} is not supported; only measurement ('=~') and "
                    "residual covariance ('~~') statements are"
                )
            )
        else:
            problems.append(
                Problem(f"line {lineno}: cannot read {stmt.strip()!r}; expected 'factor =~ x1 + x2 + x3'")
            )
    if not factors and not problems:
        problems.append(Problem("the model defines no factor; write e.g. 'visual =~ x1 + x2 + x3'"))
    factor_names = set(factors)
    for name, inds in factors.items():
        for ind in inds:
            if ind in factor_names:
                problems.append(
                    Problem(
                        f"factor {name!r} has factor {ind!r} as an indicator; higher-order models are not "
                        "supported"
                    )
                )
        if len(inds) < 2:
            problems.append(
                Problem(
                    f"factor {name!r} has only {len(inds)} indicator ({', '.join(inds)}); a factor needs at "
                    "least 2 indicators (3 or more to be identified on its own)"
                )
            )
    observed = {ind for inds in factors.values() for ind in inds}
    seen_pairs: set[frozenset[str]] = set()
    clean_rescov: list[tuple[str, str]] = []
    for a, b in rescov:
        kinds = {"factor" if v in factor_names else "observed" for v in (a, b)}
        if kinds == {"factor"}:
            continue  # factor (co)variances are free already: accepted as in lavaan, nothing to add
        if kinds == {"factor", "observed"}:
            problems.append(
                Problem(f"'{a} ~~ {b}' mixes a factor and an observed variable; '~~' relates two indicators")
            )
            continue
        unknown = [v for v in (a, b) if v not in observed]
        if unknown:
            problems.append(
                Problem(f"'{a} ~~ {b}': {unknown[0]!r} is not an indicator of any factor in the model")
            )
            continue
        pair = frozenset((a, b))
        if pair not in seen_pairs:
            seen_pairs.add(pair)
            clean_rescov.append((a, b))
    if problems:
        raise DataError("the model syntax has problems", problems)
    return MeasurementModel(
        factors=tuple((name, tuple(inds)) for name, inds in factors.items()),
        residual_covariances=tuple(clean_rescov),
        syntax=syntax,
    )
