"""The command line runs with one BLAS thread (threadpoolctl), unless the user set a number."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info

from lacrima.cli import blas_threads


def _blas_threads() -> list[int]:
    return [int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_it_limits_blas_to_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    import numpy  # noqa: F401  (loads the BLAS library)

    before = _blas_threads()
    assert before, "numpy's BLAS is visible to threadpoolctl"
    with blas_threads():
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_it_leaves_a_users_choice_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    before = _blas_threads()
    with blas_threads():
        assert _blas_threads() == before
