"""The moment path of bootstrap_ci (replicates from resampling frequencies) against the gather path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.analysis import bootstrap_ci
from lacrima.analysis._bootstrap import (
    _FUNCS,
    _draw,
    _evaluate,
    _frequencies,
    _moment_replicates,
    _solve_spd,
    _sscp,
    _strata_codes,
    influence_regression,
)

TOL = 1e-12


def same(actual: Any, expected: Any, tol: float = TOL) -> None:
    # equal_nan: a failed replicate must fail on both paths
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=tol, atol=tol, equal_nan=True)


def correlated(n: int, p: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = np.eye(p) + 0.4
    return (rng.standard_normal((n, p)) @ mix) * [1.0, 10.0, 0.1, 3.0][:p] + [0.0, 50.0, -2.0, 7.0][:p]


def groups_data(n: int, seed: int, n2: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = np.zeros(n)
    g[rng.permutation(n)[: n // 2 if n2 is None else n2]] = 1.0
    return np.column_stack([3.5 + rng.standard_normal(n) + 0.6 * g, g])


CASES = [
    ("pearson", "corr2", False),
    ("partial", "corr2", False),
    ("partial", "corr3", False),
    ("partial", "corr4", False),
    ("partial", "corr4", True),
    ("mean_difference", "groups", True),
    ("mean_difference", "groups", False),
    ("hedges_g", "groups", True),
    ("hedges_g", "groups", False),
]


def case_data(kind: str, seed: int) -> np.ndarray:
    return groups_data(60, seed) if kind == "groups" else correlated(60, int(kind[-1]), seed)


@pytest.mark.parametrize(("name", "kind", "stratified"), CASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_gives_the_replicates_of_the_gather_path(
    name: str, kind: str, stratified: bool, seed: int
) -> None:
    data = case_data(kind, seed)
    strata = data[:, 1] if stratified and kind == "groups" else None
    if stratified and strata is None:
        strata = np.arange(data.shape[0]) % 3
    codes = _strata_codes(strata, data.shape[0])
    idx = _draw(np.random.default_rng(seed), codes, 3000)
    gathered = _evaluate(_FUNCS[name], data, idx, True)
    same(_moment_replicates(name, data, idx, _frequencies(idx), True), gathered)
    same(_moment_replicates(name, data, idx, None, True), gathered)  # frequencies computed in chunks


def frame(data: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(data, columns=[f"v{i}" for i in range(data.shape[1])])


def gather(name: str) -> Any:
    def statistic(data: np.ndarray) -> np.ndarray:  # a callable takes the gather path
        return _FUNCS[name](data)

    return statistic


def both_paths(df: pd.DataFrame, name: str, **kw: Any) -> None:
    fast = bootstrap_ci(df, name, **kw)
    slow = bootstrap_ci(df, gather(name), **kw)
    same(fast.replicates, slow.replicates)
    assert fast.n_failed == slow.n_failed
    same(
        [fast.estimate, fast.se, fast.bias, fast.z0, fast.acceleration],
        [slow.estimate, slow.se, slow.bias, slow.z0, slow.acceleration],
    )
    same(fast.ci, slow.ci)


@pytest.mark.parametrize(("name", "kind", "stratified"), CASES)
@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_it_gives_the_interval_of_the_gather_path(
    name: str, kind: str, stratified: bool, method: str
) -> None:
    df = frame(case_data(kind, 11))
    df["s"] = np.arange(len(df)) % 3
    strata = ("v1" if kind == "groups" else "s") if stratified else None
    both_paths(df, name, columns=list(df.columns[:-1]), seed=5, n_boot=1500, method=method, strata=strata)


def test_it_fails_the_same_resamples_as_the_gather_path() -> None:
    # a binary variable with two 1s is constant in about e^-2 of the resamples: NaN r, counted as failed
    rng = np.random.default_rng(7)
    n = 30
    rare = np.zeros(n)
    rare[[4, 17]] = 1.0
    df = pd.DataFrame({"rare": rare, "y": rng.standard_normal(n), "z": rng.standard_normal(n)})
    for name, cols in (
        ("pearson", ["rare", "y"]),
        ("partial", ["y", "rare", "z"]),
        ("partial", ["y", "z", "rare"]),
    ):
        res = bootstrap_ci(df, name, columns=cols, seed=3, n_boot=2000, method="percentile")
        assert 150 < res.n_failed < 400
        both_paths(df, name, columns=cols, seed=3, n_boot=2000, method="percentile")
        both_paths(df, name, columns=cols, seed=3, n_boot=2000)


def test_it_does_not_trust_a_tiny_sum_of_squares_from_the_moment_formula() -> None:
    # a 0/1 variable with two 1s, centred on its full-sample mean 1/15 (not exact in binary): in a resample
    # without the 1s the moment formula's sum of squares is rounding noise, not 0, and r from it would be
    # finite; the gather path (and so the moment path, which gathers such resamples) gives NaN
    n = 30
    x = np.zeros(n)
    x[[3, 21]] = 1.0
    data = np.column_stack([x, np.random.default_rng(8).standard_normal(n)])
    idx = _draw(np.random.default_rng(9), np.zeros(n, dtype=int), 4000)
    constant = ~np.isin(idx, [3, 21]).any(axis=1)
    c = data - data.mean(axis=0)
    z = np.column_stack([c, c[:, [0]] * c[:, [0, 1]], c[:, [1]] ** 2])
    sscp, share = _sscp(_frequencies(idx) @ z, n, 2)
    naive = sscp[:, 0, 1] / np.sqrt(sscp[:, 0, 0] * sscp[:, 1, 1])
    assert constant.sum() > 300 and np.all(sscp[constant, 0, 0] != 0) and np.all(np.isfinite(naive[constant]))
    assert np.all(share[constant] < 1e-12)
    t = _moment_replicates("pearson", data, idx, _frequencies(idx), True)
    assert np.all(np.isnan(t[constant])) and np.all(np.isfinite(t[~constant]))
    same(t, _evaluate(_FUNCS["pearson"], data, idx, True))


def test_it_fails_empty_and_constant_groups_as_the_gather_path() -> None:
    # unstratified with a group of two: resamples without it give NaN
    df = frame(groups_data(24, 4, n2=2))
    for name in ("mean_difference", "hedges_g"):
        res = bootstrap_ci(df, name, columns=["v0", "v1"], seed=2, n_boot=2000, method="percentile")
        assert res.n_failed > 100
        both_paths(df, name, columns=["v0", "v1"], seed=2, n_boot=2000, method="percentile")
    # stratified, each group repeating one value in some resamples: zero pooled SD, an infinite g
    tiny = pd.DataFrame({"y": [1.0, 1.0, 2.0, 5.0, 5.0, 6.0], "g": [0, 0, 0, 1, 1, 1]})
    res = bootstrap_ci(
        tiny, "hedges_g", columns=["y", "g"], seed=1, n_boot=3000, strata="g", method="percentile"
    )
    assert np.isinf(res.replicates).sum() == res.n_failed > 100
    both_paths(tiny, "hedges_g", columns=["y", "g"], seed=1, n_boot=3000, strata="g", method="percentile")


def test_it_gathers_resamples_with_collinear_columns() -> None:
    rng = np.random.default_rng(12)
    n = 50
    z1 = rng.standard_normal(n)
    df = pd.DataFrame(
        {
            "x": rng.standard_normal(n) + z1,
            "y": rng.standard_normal(n),
            "z1": z1,
            "z2": z1 + 1e-3 * rng.standard_normal(n),
        }
    )
    both_paths(df, "partial", columns=["x", "y", "z1", "z2"], seed=4, n_boot=1000, method="percentile")


def reference_draw(rng: np.random.Generator, codes: np.ndarray, n_boot: int) -> np.ndarray:
    idx = np.empty((n_boot, codes.size), dtype=np.int64)
    for s in np.unique(codes):
        pos = np.flatnonzero(codes == s)
        idx[:, pos] = pos[rng.integers(0, pos.size, size=(n_boot, pos.size))]
    return idx


@pytest.mark.parametrize("layout", ["one", "runs", "shuffled"])
def test_it_draws_the_same_resamples_from_a_seed(layout: str) -> None:
    codes = {"one": np.zeros(40, dtype=int), "runs": np.repeat([0, 1, 2], [10, 25, 5])}.get(
        layout, np.random.default_rng(0).permutation(np.arange(40) % 3)
    )
    new = _draw(np.random.default_rng(42), codes, 500)
    assert new.dtype == np.int64
    np.testing.assert_array_equal(new, reference_draw(np.random.default_rng(42), codes, 500))


def reference_influence(t: np.ndarray, idx: np.ndarray, codes: np.ndarray) -> np.ndarray:
    fin = np.isfinite(t)
    idx = idx[fin]
    b, n = idx.shape
    ns = np.bincount(codes)
    freq = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)
    x = freq / ns[codes]
    first = [np.flatnonzero(codes == s)[0] for s in range(ns.size)]
    inc = np.setdiff1d(np.arange(n), first)
    design = np.column_stack([np.ones(b), x[:, inc]])
    beta = np.linalg.lstsq(design, t[fin], rcond=None)[0][1:]
    lv = np.zeros(n)
    lv[inc] = beta
    return lv - (np.bincount(codes, weights=lv) / ns)[codes]


@pytest.mark.parametrize("heavy", [False, True])
def test_it_estimates_influence_as_a_least_squares_regression(heavy: bool) -> None:
    rng = np.random.default_rng(3)
    n, b = 130, 900
    strata = np.arange(n) % 2
    idx = _draw(rng, strata, b)
    if heavy:  # counts too large for exact float32 cross-products: the float64 branch
        idx[:20] = np.flatnonzero(strata == 0)[0]
    # replicates away from 0, like correlations: their centred sum is rounding noise of ~1e-14; left in the
    # right-hand side of the normal equations it shows here as errors of ~1e-13
    t = 0.4 + 0.05 * rng.standard_normal(b) + idx.mean(axis=1) / n
    t[[5, 50]] = np.nan
    np.testing.assert_allclose(
        influence_regression(t, idx, strata), reference_influence(t, idx, strata), rtol=0, atol=3e-14
    )


@pytest.mark.parametrize("n", [40, 123, 250])
def test_it_solves_positive_definite_systems_in_blocks(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.standard_normal((3 * n, n))
    spd = a.T @ a
    for rhs in (rng.standard_normal(n), rng.standard_normal((n, 3))):
        expected = np.linalg.solve(spd, rhs)
        np.testing.assert_allclose(_solve_spd(spd, rhs), expected, rtol=1e-10, atol=1e-12)
