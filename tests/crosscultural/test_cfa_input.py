"""Model syntax, bad input and statistical-trouble warnings of the CFA."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lacrima.crosscultural import _cfa_engine
from lacrima.crosscultural._cfa_syntax import parse_model
from lacrima.crosscultural.cfa import cfa
from lacrima.errors import ConvergenceWarning, DataError, InvarianceWarning

REF_DIR = Path(__file__).resolve().parents[1] / "reference"
MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


@functools.cache
def holzinger() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / "holzinger.csv")


def exact_sample(cov: np.ndarray, n: int, names: list[str], seed: int) -> pd.DataFrame:
    """Normal data whose sample covariance (divisor n) is exactly ``cov``."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(names)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T
    return pd.DataFrame(z @ np.linalg.cholesky(cov).T, columns=names)


def test_it_parses_comments_lines_semicolons_and_residual_covariances() -> None:
    m = parse_model(
        """
        # abilities
        visual =~ x1 + x2   # first two
        visual =~ x3
        textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9
        x1 ~~ x4
        x4 ~~ x1
        x7 ~~ x8 + x9
        visual ~~ textual
        x2 ~~ x2
        """
    )
    assert m.factor_names == ("visual", "textual", "speed")
    assert m.indicators("visual") == ("x1", "x2", "x3")
    assert m.observed == tuple(f"x{i}" for i in range(1, 10))
    assert m.residual_covariances == (("x1", "x4"), ("x7", "x8"), ("x7", "x9"))


@pytest.mark.parametrize(
    ("syntax", "message"),
    [
        ("", "empty"),
        ("# only a comment", "defines no factor"),
        ("f =~ x1", "only 1 indicator"),
        ("f =~ x1 + x2 + x1", "listed twice"),
        ("f =~ x1 + 0.5*x2 + x3", "modifier"),
        ("f =~ x1 + + x2", "empty term"),
        ("f =~ x1 + x2 + x3\ny ~ f", "not supported"),
        ("f =~ x1 + x2 + x3\nf ~~ x1", "mixes a factor and an observed variable"),
        ("f =~ x1 + x2 + x3\nx1 ~~ x9", "not an indicator"),
        ("f x1 x2", "cannot read"),
        ("f =~ x1 + x2\ng =~ f + x3 + x4", "higher-order"),
    ],
)
def test_it_rejects_bad_syntax_with_a_clear_message(syntax: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_model(syntax)


def test_it_names_every_unknown_variable() -> None:
    with pytest.raises(DataError) as err:
        cfa(holzinger(), "visual =~ x1 + x2 + y3\ntextual =~ x4 + x5 + y6")
    assert [p.column for p in err.value.problems] == ["y3", "y6"]
    with pytest.raises(DataError, match="group column"):
        cfa(holzinger(), MODEL, group="country")


def test_it_rejects_non_numeric_indicators_and_non_frames() -> None:
    df = holzinger().copy()
    df["x2"] = df["x2"].astype(object)
    df.loc[3, "x2"] = "n/a"
    with pytest.raises(DataError) as err:
        cfa(df, MODEL)
    assert err.value.problems[0].column == "x2"
    assert err.value.problems[0].row == 3
    with pytest.raises(DataError, match="DataFrame"):
        cfa(holzinger().to_numpy(), MODEL)  # type: ignore[arg-type]


def test_it_rejects_models_with_negative_degrees_of_freedom() -> None:
    with pytest.raises(DataError, match="df < 0"):
        cfa(holzinger(), "f =~ x1 + x2")


def test_it_rejects_models_that_are_not_identified() -> None:
    # f1's variance and its indicators' residual covariance are interchangeable: df = 3 but not identified
    with pytest.raises(DataError, match="not identified"):
        cfa(holzinger(), "f1 =~ x1 + x2\nf2 =~ x4 + x5 + x6\nx1 ~~ x2")


def test_it_rejects_linearly_dependent_indicators() -> None:
    df = holzinger().assign(x3=lambda d: d["x1"] + d["x2"])
    with pytest.raises(DataError, match="linearly dependent"):
        cfa(df, MODEL)


def test_it_warns_about_heywood_cases() -> None:
    corr = np.array([[1.0, 0.75, 0.75], [0.75, 1.0, 0.4], [0.75, 0.4, 1.0]])
    df = exact_sample(corr, 200, ["a", "b", "c"], seed=11)
    with pytest.warns(InvarianceWarning, match="Heywood case: negative residual variance for a"):
        res = cfa(df, "f =~ a + b + c")
    est = res.table()
    assert est.loc[(est["lhs"] == "a") & (est["rhs"] == "a"), "estimate"].iloc[0] < 0


def test_it_warns_about_a_non_positive_definite_latent_covariance() -> None:
    corr = np.full((6, 6), 0.5)
    corr[:3, :3] = corr[3:, 3:] = 0.3
    np.fill_diagonal(corr, 1.0)
    df = exact_sample(corr, 300, list("abcdef"), seed=5)
    with pytest.warns(
        InvarianceWarning, match="latent covariance matrix in group 'all' is not positive definite"
    ):
        cfa(df, "f1 =~ a + b + c\nf2 =~ d + e + f")


def test_it_warns_when_the_optimiser_stops_early(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cfa_engine, "fit_structure", functools.partial(_cfa_engine.fit_structure, maxiter=1))
    monkeypatch.setattr(
        _cfa_engine, "_lbfgs", lambda x, *a, **k: (x, _cfa_engine.evaluate(x, *a[:3]), False, "stop")
    )
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = cfa(holzinger(), MODEL)
    assert not res.converged


def test_it_has_no_score_tests_without_equality_constraints() -> None:
    with pytest.raises(DataError, match="no equality constraints"):
        cfa(holzinger(), MODEL, group="school").score_tests()


def test_it_has_an_analytic_hessian_that_matches_finite_differences() -> None:
    from lacrima.crosscultural.cfa import prepare_data

    prepared = prepare_data(holzinger(), MODEL + "\nx1 ~~ x4", "school")
    structure = _cfa_engine.build_structure(prepared.model, 2, ("loadings", "intercepts"))
    indices = [_cfa_engine.index_group(structure, g) for g in range(2)]
    rng = np.random.default_rng(3)
    x = _cfa_engine.start_values(structure, prepared.moments) + 0.01 * rng.standard_normal(structure.npar)
    exact = _cfa_engine.evaluate(x, indices, prepared.moments, structure.npar, exact=True)
    assert exact is not None and exact.hess is not None
    numeric = np.zeros_like(exact.hess)
    h = 1e-6
    for i in range(structure.npar):
        step = np.zeros(structure.npar)
        step[i] = h
        up = _cfa_engine.evaluate(x + step, indices, prepared.moments, structure.npar)
        down = _cfa_engine.evaluate(x - step, indices, prepared.moments, structure.npar)
        assert up is not None and down is not None
        numeric[:, i] = (up.grad - down.grad) / (2 * h)
    np.testing.assert_allclose(exact.hess, numeric, atol=1e-6)
