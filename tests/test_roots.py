"""lacrima._roots.brent_root against scipy.optimize.brentq (which it replaces on the analysis path)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import optimize

from lacrima import _dist
from lacrima._roots import brent_root
from lacrima.analysis._groups import _ncp_interval
from lacrima.errors import DataError

Fn = Callable[[float], float]


def counted(f: Fn) -> tuple[Fn, list[float]]:
    calls: list[float] = []

    def g(x: float) -> float:
        calls.append(x)
        return f(x)

    return g, calls


# (name, f, lo, hi): smooth, steep, flat (a root of multiplicity 9), a jump, and the noncentral t inversion
# that compare_groups does.
CASES: list[tuple[str, Fn, float, float]] = [
    ("cubic", lambda x: x**3 - 2 * x - 5, 2.0, 3.0),
    ("cos", lambda x: math.cos(x) - x, 0.0, 1.0),
    ("steep_exp", lambda x: math.exp(x) - 1e6, 0.0, 40.0),
    ("steep_tanh", lambda x: math.tanh(200 * (x - 0.3)), -5.0, 5.0),
    ("flat_ninth_power", lambda x: (x - 1.0) ** 9, 0.0, 3.5),
    ("flat_then_steep", lambda x: math.expm1(x - 10.0) if x > 10 else -1e-12 * (10.0 - x), 0.0, 11.0),
    ("jump", lambda x: 1.0 if x > 0.7 else -1.0, 0.0, 1.0),
    ("tiny_root", lambda x: x - 1e-9, -1.0, 1.0),
    ("large_root", lambda x: x - 1234567.891, 0.0, 1e7),
    ("nct_cdf", lambda x: float(_dist.nct_cdf(2.4, 122.0, x)) - 0.975, -4.0, 8.0),
    ("nct_cdf_far", lambda x: float(_dist.nct_cdf(-31.0, 18.0, x)) - 0.025, -60.0, -10.0),
]


@pytest.mark.parametrize(("name", "f", "lo", "hi"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize(("xtol", "rtol"), [(2e-12, 8.881784197001252e-16), (1e-13, 1e-14), (1e-6, 1e-8)])
def test_it_finds_the_root_that_scipy_brentq_finds(
    name: str, f: Fn, lo: float, hi: float, xtol: float, rtol: float
) -> None:
    ours_f, ours_calls = counted(f)
    theirs_f, theirs_calls = counted(f)
    ours = brent_root(ours_f, lo, hi, xtol=xtol, rtol=rtol, maxiter=500)
    theirs = optimize.brentq(theirs_f, lo, hi, xtol=xtol, rtol=rtol, maxiter=500)
    # each is within xtol + rtol |x| of a root, so they are within twice that of each other
    assert abs(ours - theirs) <= 2 * (xtol + rtol * abs(theirs))
    assert lo <= ours <= hi
    # and it is no slower: interpolation is working, not just bisection
    assert len(ours_calls) <= len(theirs_calls) + 3


def test_it_brackets_the_sign_change_to_the_tolerance() -> None:
    f = CASES[0][1]
    x = brent_root(f, 2.0, 3.0, xtol=1e-13, rtol=1e-14)
    tol = 1e-13 + 1e-14 * abs(x)
    assert f(x - tol) * f(x + tol) <= 0


def test_it_takes_the_bracket_either_way_round() -> None:
    f = CASES[1][1]
    assert brent_root(f, 1.0, 0.0) == pytest.approx(brent_root(f, 0.0, 1.0), abs=4e-12)
    assert brent_root(f, 1.0, 0.0) == pytest.approx(optimize.brentq(f, 0.0, 1.0), abs=4e-12)


def test_it_returns_an_end_that_is_a_root() -> None:
    assert brent_root(lambda x: x - 2.0, 2.0, 5.0) == 2.0
    assert brent_root(lambda x: x - 5.0, 2.0, 5.0) == 5.0


def test_it_gives_compare_groups_the_interval_that_brentq_gives() -> None:
    # each limit solves nct_cdf(t_obs, df, ncp) = tail; brentq, bracketed around our limit, finds the same
    rng = np.random.default_rng(4)
    for t_obs, df in zip(rng.uniform(-12, 12, 20), rng.uniform(3, 400, 20), strict=True):
        for level in (0.9, 0.95):
            ours = _ncp_interval(float(t_obs), float(df), level)
            for limit, tail in zip(ours, (0.5 + level / 2, 0.5 - level / 2), strict=True):

                def f(ncp: float, t: float = float(t_obs), d: float = float(df), q: float = tail) -> float:
                    return float(_dist.nct_cdf(t, d, ncp)) - q

                theirs = optimize.brentq(f, limit - 1.0, limit + 1.0, xtol=1e-13, rtol=1e-14, maxiter=500)
                assert limit == pytest.approx(theirs, rel=0, abs=2 * (1e-13 + 1e-14 * 25))


def test_it_says_when_the_bracket_does_not_change_sign() -> None:
    with pytest.raises(DataError, match=r"have the same sign, so \[2, 3\] does not bracket a root") as info:
        brent_root(lambda x: x * x + 1.0, 2.0, 3.0)
    assert "widen the interval" in str(info.value)
    with pytest.raises(ValueError, match="does not bracket"):  # a DataError is a ValueError
        brent_root(lambda x: -1.0, -1e6, 1e6)


def test_it_says_when_the_function_is_nan() -> None:
    with pytest.raises(DataError, match=r"NaN at x = 1\.0"):
        brent_root(lambda x: math.nan if x > 0.5 else -1.0, 0.0, 1.0)
    with pytest.raises(DataError, match="NaN at x"):
        brent_root(lambda x: math.sqrt(x) - 0.5 if x >= 0.25 else math.nan, 0.3, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lo": math.nan}, "finite ends"),
        ({"hi": math.inf}, "finite ends"),
        ({"xtol": 0.0}, "xtol must be positive"),
        ({"rtol": 1e-17}, "rtol must be at least 4 machine epsilons"),
        ({"maxiter": 0}, "maxiter must be a positive"),
    ],
)
def test_it_rejects_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    args: dict[str, float] = {"lo": 0.0, "hi": 2.0} | kwargs
    with pytest.raises(ValueError, match=message):
        brent_root(lambda x: x - 1.0, args.pop("lo"), args.pop("hi"), **args)  # type: ignore[arg-type]


def test_it_says_when_it_runs_out_of_iterations() -> None:
    with pytest.raises(RuntimeError, match="did not reach the tolerance in 3 iterations; the root lies"):
        brent_root(CASES[5][1], 0.0, 11.0, maxiter=3)
