"""The site-summary schema (``lacrima.site-summary``, version 1) and its validation.

A site summary holds aggregates only: n, means, the covariance matrix (n - 1 denominator), category counts
with small cells suppressed, optional named correlations, and provenance. Validation collects every problem
it finds so that a coordinator can send one complete message back to a site.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from lacrima._results import Check, Result
from lacrima.errors import DataError, Problem

SCHEMA = "lacrima.site-summary"
VERSION = 1
MISSING_LEVEL = "(missing)"
IDENTIFIER_COLUMNS = frozenset({"participant_id", "client_id", "therapist_id"})

REQUIRED = (
    "schema",
    "version",
    "site",
    "n",
    "n_excluded",
    "variables",
    "means",
    "cov",
    "counts",
    "suppressed",
    "min_cell",
    "effects",
    "created",
    "lacrima_version",
)

# r from the covariance matrix and a stored r for the same rows must agree to rounding error.
_R_TOL = 1e-9


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_matrix(cov: Any, p: int, problems: list[Problem]) -> np.ndarray | None:
    if not isinstance(cov, list) or len(cov) != p:
        problems.append(Problem(f"cov must be a list of {p} rows (one per variable)", column="cov"))
        return None
    for i, row in enumerate(cov):
        if not isinstance(row, list) or len(row) != p:
            problems.append(Problem(f"cov row {i} must hold {p} numbers", column="cov"))
            return None
        if not all(_is_number(v) for v in row):
            problems.append(Problem(f"cov row {i} holds a missing or non-numeric value", column="cov"))
            return None
    C = np.asarray(cov, dtype=float)
    scale = max(1.0, float(np.max(np.abs(C)))) if C.size else 1.0
    if not np.allclose(C, C.T, rtol=0.0, atol=1e-12 * scale):
        problems.append(Problem("cov is not symmetric; send the covariance matrix unchanged", column="cov"))
        return None
    eig = np.linalg.eigvalsh(C) if C.size else np.zeros(0)
    if eig.size and eig.min() < -1e-10 * max(1.0, float(eig.max())):
        problems.append(
            Problem(
                f"cov is not positive semi-definite (smallest eigenvalue {eig.min()!r}); it cannot be a "
                "covariance matrix of real data",
                column="cov",
            )
        )
        return None
    for i in range(p):
        if C[i, i] < 0:
            problems.append(Problem(f"variance of variable {i} is negative", column="cov"))
    return C


def _check_counts(obj: Mapping[str, Any], n: int | None, problems: list[Problem]) -> None:
    counts = obj.get("counts")
    min_cell = obj.get("min_cell")
    if not isinstance(counts, dict):
        problems.append(Problem("counts must be an object {variable: {level: count}}", column="counts"))
        return
    for var, cells in counts.items():
        if not isinstance(cells, dict):
            problems.append(
                Problem(f"counts for {var!r} must be an object {{level: count}}", column="counts")
            )
            continue
        known = 0
        any_suppressed = False
        for level, count in cells.items():
            if count is None:
                any_suppressed = True
                continue
            if not _is_int(count) or count < 0:
                problems.append(
                    Problem(f"count of {var}={level} is not a whole number >= 0", column="counts")
                )
                continue
            if _is_int(min_cell) and 0 < count < min_cell:
                problems.append(
                    Problem(
                        f"count of {var}={level} is {count}, below min_cell {min_cell}, and was not "
                        "suppressed; re-create the summary with site_summary()",
                        column="counts",
                    )
                )
            known += count
        if n is not None:
            if known > n:
                problems.append(
                    Problem(f"counts for {var!r} add up to {known}, more than n = {n}", column="counts")
                )
            elif not any_suppressed and known != n:
                problems.append(Problem(f"counts for {var!r} add up to {known} but n = {n}", column="counts"))
    suppressed = obj.get("suppressed")
    if not isinstance(suppressed, list) or not all(
        isinstance(s, dict) and set(s) == {"variable", "level"} for s in suppressed
    ):
        problems.append(
            Problem("suppressed must be a list of {variable, level} objects", column="suppressed")
        )


def _check_effects(
    obj: Mapping[str, Any], variables: list[str], C: np.ndarray | None, n: int | None, problems: list[Problem]
) -> None:
    effects = obj.get("effects")
    if not isinstance(effects, dict):
        problems.append(Problem("effects must be an object {name: {x, y, r, n}}", column="effects"))
        return
    for name, eff in effects.items():
        if not isinstance(eff, dict) or set(eff) != {"x", "y", "r", "n"}:
            problems.append(Problem(f"effect {name!r} must have exactly x, y, r and n", column="effects"))
            continue
        x, y, r, en = eff["x"], eff["y"], eff["r"], eff["n"]
        if x not in variables or y not in variables:
            problems.append(Problem(f"effect {name!r} names variables not in the summary", column="effects"))
            continue
        if not _is_number(r) or not -1.0 <= r <= 1.0:
            problems.append(
                Problem(f"effect {name!r} has r = {r!r}; a correlation lies in [-1, 1]", column="effects")
            )
            continue
        if not _is_int(en) or (n is not None and en != n):
            problems.append(
                Problem(f"effect {name!r} has n = {en!r} but the summary's n is {n}", column="effects")
            )
            continue
        if C is not None:
            i, j = variables.index(x), variables.index(y)
            denom = math.sqrt(C[i, i] * C[j, j])
            if denom > 0 and abs(C[i, j] / denom - r) > _R_TOL:
                problems.append(
                    Problem(
                        f"effect {name!r} has r = {r!r} but the covariance matrix gives {C[i, j] / denom!r}",
                        column="effects",
                    )
                )


def check_site_summary(obj: Any) -> None:
    """Raise one :class:`DataError` with every problem of ``obj`` as a site summary (see
    :func:`validate_site_summary`, which returns them instead)."""
    if isinstance(obj, Result):  # a SiteSummary: check the JSON object it stands for
        obj = obj.to_dict()
    if not isinstance(obj, Mapping):
        raise DataError(f"a site summary must be a JSON object; got {type(obj).__name__}")
    site = obj.get("site")
    where = f"site summary {site!r}" if isinstance(site, str) else "site summary"
    problems: list[Problem] = []
    if obj.get("schema") != SCHEMA:
        raise DataError(
            f"{where} is not a lacrima site summary: schema is {obj.get('schema')!r}, expected {SCHEMA!r}"
        )
    version = obj.get("version")
    if not _is_int(version) or version != VERSION:
        hint = "upgrade lacrima to read it" if _is_int(version) and version > VERSION else "re-create it"
        raise DataError(
            f"{where} has schema version {version!r}; this lacrima reads version {VERSION} ({hint})"
        )
    missing = [f for f in REQUIRED if f not in obj]
    if missing:
        problems.extend(Problem(f"field {f!r} is missing") for f in missing)
    unexpected = sorted(set(obj) - set(REQUIRED))
    problems.extend(
        Problem(f"unexpected field {f!r}; a site summary holds only the documented aggregates")
        for f in unexpected
    )
    if not isinstance(site, str) or not site.strip():
        problems.append(Problem("site must be a non-empty text label", column="site"))
    n = obj.get("n")
    if not _is_int(n) or n < 1:
        problems.append(Problem(f"n must be a whole number >= 1; got {n!r}", column="n"))
        n = None
    excluded = obj.get("n_excluded")
    if "n_excluded" in obj and (not _is_int(excluded) or excluded < 0):
        problems.append(
            Problem(f"n_excluded must be a whole number >= 0; got {excluded!r}", column="n_excluded")
        )
    min_cell = obj.get("min_cell")
    if "min_cell" in obj and (not _is_int(min_cell) or min_cell < 1):
        problems.append(Problem(f"min_cell must be a whole number >= 1; got {min_cell!r}", column="min_cell"))
    variables = obj.get("variables")
    C = None
    if (
        not isinstance(variables, list)
        or not variables
        or not all(isinstance(v, str) and v for v in variables)
    ):
        problems.append(Problem("variables must be a non-empty list of column names", column="variables"))
    elif len(set(variables)) != len(variables):
        problems.append(Problem("variables lists a name twice", column="variables"))
    else:
        p = len(variables)
        ids = sorted(IDENTIFIER_COLUMNS & set(variables))
        if ids:
            problems.append(Problem(f"variables include identifier columns {ids}", column="variables"))
        means = obj.get("means")
        if not isinstance(means, list) or len(means) != p:
            got = len(means) if isinstance(means, list) else type(means).__name__
            problems.append(
                Problem(f"means must hold {p} numbers (one per variable); got {got}", column="means")
            )
        elif not all(_is_number(m) for m in means):
            problems.append(Problem("means holds a missing or non-numeric value", column="means"))
        if "cov" in obj:
            C = _check_matrix(obj["cov"], p, problems)
        if n is not None and n < p + 1:
            problems.append(
                Problem(
                    f"n = {n} is smaller than the number of variables + 1 ({p + 1}); a "
                    "covariance matrix needs more rows than variables",
                    column="n",
                )
            )
        if n is not None and _is_int(min_cell) and n < min_cell:
            problems.append(Problem(f"n = {n} is below min_cell {min_cell}", column="n"))
        if "effects" in obj:
            _check_effects(obj, variables, C, n, problems)
    if "counts" in obj:
        _check_counts(obj, n, problems)
    created = obj.get("created")
    if "created" in obj:
        try:
            datetime.fromisoformat(str(created))
        except ValueError:
            problems.append(Problem(f"created must be an ISO 8601 time; got {created!r}", column="created"))
    if "lacrima_version" in obj and not isinstance(obj.get("lacrima_version"), str):
        problems.append(Problem("lacrima_version must be text", column="lacrima_version"))
    if problems:
        raise DataError(f"{where} is not valid", problems)


@dataclass(frozen=True, eq=False)
class SiteSummaryCheck(Check):
    """What :func:`validate_site_summary` found: ``ok``, every ``problem``, ``raise_if_invalid()``."""

    site: str | None
    message: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.message

    def headline(self) -> str:
        return self.message

    def table(self) -> pd.DataFrame:
        """One row per problem: ``message``."""
        return pd.DataFrame({"message": [p.message for p in self.problems]}, dtype=object)


def validate_site_summary(obj: Any) -> SiteSummaryCheck:
    """Check that ``obj`` is a valid site summary (schema ``lacrima.site-summary``, version 1).

    Parameters
    ----------
    obj : Any
        The parsed summary (a dict, e.g. from ``json.load``).

    Returns
    -------
    SiteSummaryCheck
        ``ok`` when the summary is valid; else ``problems`` lists every problem found (and
        ``raise_if_invalid()`` raises them as one DataError): wrong schema or version, missing or
        unexpected fields, inconsistent n, a covariance matrix that is not symmetric or not positive
        semi-definite, n smaller than the number of variables + 1, means of the wrong length,
        unsuppressed small cells, counts that do not add up.
    """
    site = obj.get("site") if isinstance(obj, Mapping) else None
    label = site if isinstance(site, str) else None
    try:
        check_site_summary(obj)
    except DataError as exc:
        problems = tuple(exc.problems) or (Problem(exc.summary),)
        return SiteSummaryCheck(site=label, message=exc.summary, problems=problems)
    return SiteSummaryCheck(site=label, message="", problems=())
