"""The GIL-free Cholesky factorisation of the mixed-model engine (lacrima.longitudinal._lapack)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from lacrima.longitudinal import _lapack


@pytest.mark.parametrize("nogil", [True, False])
def test_it_factors_the_lower_triangle_in_place_as_lapack(
    nogil: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not nogil:
        monkeypatch.setattr(_lapack, "_NOGIL", None)  # the f2py wrapper, the fallback
    rng = np.random.default_rng(1)
    m = rng.normal(size=(40, 40))
    a = m @ m.T + 40.0 * np.eye(40)
    work = a.copy()
    work[np.triu_indices(40, 1)] = 7.0  # the upper triangle is neither read nor written
    assert _lapack.potrf_lower(work) == 0
    np.testing.assert_allclose(np.tril(work) @ np.tril(work).T, a, rtol=1e-12)
    assert np.all(work[np.triu_indices(40, 1)] == 7.0)
    np.testing.assert_allclose(np.tril(work), np.linalg.cholesky(a), rtol=1e-10)


def test_it_reports_a_matrix_that_is_not_positive_definite() -> None:
    a = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    assert _lapack.potrf_lower(a.copy()) == 2


def test_it_refuses_what_it_cannot_factor_in_place() -> None:
    with pytest.raises(ValueError, match="C-contiguous"):
        _lapack.potrf_lower(np.eye(3)[:, :2])
    with pytest.raises(ValueError, match="C-contiguous"):
        _lapack.potrf_lower(np.asfortranarray(np.eye(3) + 0.1))


def test_it_maps_in_order_on_threads_or_not() -> None:
    assert _lapack.map_parallel(lambda v: v * v, [1, 2, 3, 4, 5]) == [1, 4, 9, 16, 25]
    assert _lapack.map_parallel(lambda v: v, []) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    _lapack.map_parallel(lambda v: v, [1, 2])  # the parent's pool exists now (if threads are used)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports by its exit status
        ok = _lapack._POOL is None and _lapack.map_parallel(lambda v: v + 1, [1, 2]) == [2, 3]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_points_evaluated_together_on_threads_equal_points_evaluated_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crossed design large enough for the threads (a leading block of 320 columns)."""
    from lacrima.longitudinal import _lmm
    from lacrima.longitudinal._structure import Block

    rng = np.random.default_rng(2)
    n, students, lecturers, depts = 12000, 600, 320, 8
    s, d = rng.integers(0, students, n), rng.integers(0, lecturers, n)
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=students)[s] + rng.normal(size=lecturers)[d] + rng.normal(size=n)
    one = np.ones((n, 1))
    blocks = [
        Block(one, True, s, students),
        Block(one, True, d, lecturers),
        Block(one, True, d % depts, depts),
    ]
    thetas = [np.array([0.5, 0.7, 0.2]) * (1.0 + 0.01 * k) for k in range(5)]
    thetas += [t + np.array([0.0, 0.0, 0.05]) for t in thetas[:2]]
    monkeypatch.setattr(_lmm, "PARALLEL", True)
    together = _lmm._Cross(y, x, blocks).evaluate_many(thetas)
    alone = _lmm._Cross(y, x, blocks)
    for theta, a in zip(thetas, together, strict=True):
        b = alone.evaluate(theta)
        assert a is not None and b is not None
        assert (a.ld_l2, a.ld_rx2, a.pwrss) == (b.ld_l2, b.ld_rx2, b.pwrss)
