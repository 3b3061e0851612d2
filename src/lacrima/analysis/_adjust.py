"""Multiple-comparison adjustment of p values, as R's ``p.adjust``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

from lacrima.errors import DataError

__all__ = ["AdjustMethod", "adjust_p"]

AdjustMethod = Literal["holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none"]


def _hommel(p: np.ndarray) -> np.ndarray:
    n = p.size
    order = np.argsort(p, kind="stable")
    ps = p[order]
    i = np.arange(1, n + 1)
    q = np.full(n, np.min(n * ps / i))
    pa = q.copy()
    for j in range(n - 1, 1, -1):
        head = np.arange(n - j + 1)
        tail = np.arange(n - j + 1, n)
        q1 = np.min(j * ps[tail] / np.arange(2, j + 1))
        q[head] = np.minimum(j * ps[head], q1)
        q[tail] = q[n - j]
        pa = np.maximum(pa, q)
    out = np.empty(n)
    out[order] = np.maximum(pa, ps)
    return out


def _step(p: np.ndarray, method: str) -> np.ndarray:
    n = p.size
    if method == "bonferroni":
        return np.minimum(1.0, n * p)
    if method == "holm":
        order = np.argsort(p, kind="stable")
        out = np.empty(n)
        out[order] = np.minimum(1.0, np.maximum.accumulate((n - np.arange(n)) * p[order]))
        return out
    if method == "hommel":
        return _hommel(p) if n > 2 else _step(p, "hochberg")
    order = np.argsort(-p, kind="stable")
    i = np.arange(n, 0, -1)
    if method == "hochberg":
        scaled = (n + 1 - i) * p[order]
    elif method == "BH":
        scaled = n / i * p[order]
    else:  # BY
        scaled = np.sum(1.0 / np.arange(1, n + 1)) * n / i * p[order]
    out = np.empty(n)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled))
    return out


def adjust_p(pvalues: Sequence[float] | np.ndarray, method: AdjustMethod = "holm") -> np.ndarray:
    """Adjust p values for multiple comparisons.

    Parameters
    ----------
    pvalues : sequence of float
        Unadjusted p values; NaN entries stay NaN and do not count towards the number of tests.
    method : {"holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none"}
        As in R (``"fdr"`` is ``"BH"``).

    Returns
    -------
    numpy.ndarray
        Adjusted p values in the input order.

    Notes
    -----
    Checked against ``p.adjust(p, method)`` for every method in ``tests/reference/battery.R``.
    """
    if method not in get_args(AdjustMethod):
        raise DataError(f"unknown p-adjustment method {method!r}; use one of {list(get_args(AdjustMethod))}")
    p = np.asarray(pvalues, dtype=float).ravel()
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise DataError("p values must lie between 0 and 1")
    out = p.copy()
    if method == "none" or ok.sum() <= 1:
        return out
    out[ok] = _step(p[ok], "BH" if method == "fdr" else method)
    return out
