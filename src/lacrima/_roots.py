"""A bracketed scalar root finder (Brent's method), so that the analysis path need not import scipy.optimize.

Importing ``scipy.optimize`` takes about a tenth of a second, a noticeable share of a ``lacrima analyze``
run that has to finish within a few seconds, and the battery needs it only to invert a distribution
function on a bracket. This module does that one job.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lacrima.errors import DataError

__all__ = ["brent_root"]

_EPS = 2.220446049250313e-16


def _value(f: Callable[[float], float], x: float) -> float:
    fx = float(f(x))
    if math.isnan(fx):
        raise DataError(f"the function whose root is sought is NaN at x = {x!r}; no root can be found there")
    return fx


def brent_root(
    f: Callable[[float], float],
    lo: float,
    hi: float,
    *,
    xtol: float = 2e-12,
    rtol: float = 4 * _EPS,
    maxiter: int = 100,
) -> float:
    """Find a zero of ``f`` between ``lo`` and ``hi``, where ``f`` changes sign, by Brent's method.

    Brent's method keeps a bracket ``[b, c]`` with ``f(b)`` and ``f(c)`` of opposite signs and ``|f(b)| <=
    |f(c)|``, tries inverse quadratic interpolation (or the secant when only two points are known), and
    falls back to bisection whenever the interpolated point would leave the bracket or the bracket is not
    shrinking fast enough, so it never needs more steps than bisection by more than a bounded factor.

    Parameters
    ----------
    f : callable
        A continuous function of one float returning a float.
    lo, hi : float
        Ends of the bracket, in either order; ``f(lo)`` and ``f(hi)`` must differ in sign (or one be 0).
    xtol, rtol : float
        The root is returned once the bracket is narrower than ``xtol + rtol * |x|``, the same stopping rule
        (and defaults) as ``scipy.optimize.brentq``. ``rtol`` must be at least four machine epsilons.
    maxiter : int
        Most iterations before giving up.

    Returns
    -------
    float
        A point within the tolerance of a zero of ``f``.

    Raises
    ------
    DataError
        If ``f(lo)`` and ``f(hi)`` have the same sign, or ``f`` is NaN at a point it is evaluated at.
    ValueError
        If the bracket ends are not finite or the tolerances are out of range.
    RuntimeError
        If the tolerance is not reached within ``maxiter`` iterations.

    Notes
    -----
    Checked against ``scipy.optimize.brentq`` in ``tests/test_roots.py``.
    """
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"the bracket must have finite ends, got [{lo!r}, {hi!r}]")
    if not xtol > 0:
        raise ValueError(f"xtol must be positive, got {xtol!r}")
    if not rtol >= 4 * _EPS:
        raise ValueError(f"rtol must be at least 4 machine epsilons ({4 * _EPS:.3g}), got {rtol!r}")
    if maxiter < 1:
        raise ValueError(f"maxiter must be a positive number of iterations, got {maxiter!r}")
    # a: the previous iterate; b: the best estimate; c: the point that brackets the root with b.
    a, b = lo, hi
    fa, fb = _value(f, a), _value(f, b)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0) == (fb > 0):
        raise DataError(
            f"f({a:.6g}) = {fa:.6g} and f({b:.6g}) = {fb:.6g} have the same sign, so [{a:.6g}, {b:.6g}] does "
            "not bracket a root; widen the interval until f changes sign between its ends"
        )
    c, fc = a, fa
    step = last_step = b - a
    for _ in range(maxiter):
        if (fb > 0) == (fc > 0):
            # the last step crossed the root on a's side: a becomes the bracketing point
            c, fc = a, fa
            step = last_step = b - a
        if abs(fc) < abs(fb):
            a, fa = b, fb
            b, fb = c, fc
            c, fc = a, fa
        tol = 0.5 * (xtol + rtol * abs(b))
        half = 0.5 * (c - b)
        if fb == 0.0 or abs(half) <= tol:
            return b
        use_bisection = True
        if abs(last_step) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                # two distinct points: secant
                num = 2.0 * half * s
                den = 1.0 - s
            else:
                # three points: inverse quadratic interpolation through (fa, a), (fb, b), (fc, c)
                q = fa / fc
                r = fb / fc
                num = s * (2.0 * half * q * (q - r) - (b - a) * (r - 1.0))
                den = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if num > 0:
                den = -den
            else:
                num = -num
            # accept the interpolation only if it falls well inside the bracket and shrinks the steps
            if 2.0 * num < min(3.0 * half * den - abs(tol * den), abs(last_step * den)):
                last_step = step
                step = num / den
                use_bisection = False
        if use_bisection:
            step = last_step = half
        a, fa = b, fb
        b += step if abs(step) > tol else math.copysign(tol, half)
        fb = _value(f, b)
    raise RuntimeError(
        f"the root finder did not reach the tolerance in {maxiter} iterations; the root lies between "
        f"{min(b, c)!r} and {max(b, c)!r}"
    )
