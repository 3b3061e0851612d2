"""The random-effects structure (lme4's theta, Lambda and Z) of lacrima's mixed-model engine."""

from __future__ import annotations

import numpy as np
import pytest

from lacrima.longitudinal._structure import (
    Block,
    lambda_blocks,
    lambda_sparse,
    n_theta,
    relative_covariances,
    term_offsets,
    theta_lower,
    theta_slices,
    theta_start,
    z_sparse,
)


def _blocks() -> list[Block]:
    rng = np.random.default_rng(1)
    n = 12
    x = rng.normal(size=n)
    slope = Block(np.column_stack([np.ones(n), x, x**2]), True, np.array([0, 1, 2, 3] * 3), 4)
    scalar = Block(np.ones((n, 1)), True, np.repeat([0, 1], 6), 2)
    return [slope, scalar]


def test_it_counts_theta_as_lower_triangles() -> None:
    assert n_theta(_blocks()) == 6 + 1
    assert [(s.start, s.stop) for s in theta_slices(_blocks())] == [(0, 6), (6, 7)]


def test_it_starts_at_the_identity_as_lme4() -> None:
    np.testing.assert_array_equal(theta_start(_blocks()), [1, 0, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(theta_lower(_blocks()), [0, -np.inf, -np.inf, 0, -np.inf, 0, 0])


def test_it_fills_lambda_column_major_as_lme4() -> None:
    lam, scalar = lambda_blocks(np.arange(1.0, 8.0), _blocks())
    np.testing.assert_array_equal(lam, [[1, 0, 0], [2, 4, 0], [3, 5, 6]])
    np.testing.assert_array_equal(scalar, [[7]])
    cov = relative_covariances(np.arange(1.0, 8.0), _blocks())
    np.testing.assert_array_equal(cov[0], lam @ lam.T)
    np.testing.assert_array_equal(cov[1], [[49]])


def test_it_rejects_a_theta_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="need 7 values"):
        lambda_blocks(np.ones(3), _blocks())


def test_it_orders_z_columns_level_major_within_term() -> None:
    blocks = _blocks()
    z = z_sparse(blocks).toarray()
    assert z.shape == (12, 3 * 4 + 2)
    np.testing.assert_array_equal(term_offsets(blocks), [0, 12, 14])
    # Row 5 is level 1 of the first term (columns 3..5) and level 0 of the second (column 12).
    np.testing.assert_array_equal(np.nonzero(z[5])[0], [3, 4, 5, 12])
    np.testing.assert_allclose(z[5, 3:6], blocks[0].z[5])
    # Z b is the sum over terms of each row's z times its level's effects.
    rng = np.random.default_rng(2)
    b1 = rng.normal(size=(4, 3))
    b2 = rng.normal(size=(2, 1))
    zb = z @ np.concatenate([b1.ravel(), b2.ravel()])
    expected = np.sum(blocks[0].z * b1[blocks[0].codes], axis=1) + blocks[1].z[:, 0] * b2[blocks[1].codes, 0]
    np.testing.assert_allclose(zb, expected, rtol=1e-14)


def test_it_builds_lambda_as_a_block_diagonal_in_z_order() -> None:
    theta = np.array([1.5, -0.2, 0.3, 0.8, 0.1, 0.4, 2.0])
    big = lambda_sparse(theta, _blocks()).toarray()
    lam = lambda_blocks(theta, _blocks())[0]
    assert big.shape == (14, 14)
    for level in range(4):
        sl = slice(3 * level, 3 * level + 3)
        np.testing.assert_array_equal(big[sl, sl], lam)
    np.testing.assert_array_equal(big[12:, 12:], np.diag([2.0, 2.0]))
    assert np.count_nonzero(big) == 4 * 6 + 2
