"""No fallback hides what was left out: the simple-slope lines come from the analysis (not the renderer),
and the alliance curve finds its model by what it is, saying so when there is none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import lacrima as lc
from lacrima.longitudinal.plan import DEFAULT_LONGITUDINAL_PLAN, analyze_sessions

PLAN = {h["id"]: h for h in DEFAULT_LONGITUDINAL_PLAN}


@pytest.mark.parametrize("center", [True, False])
def test_simple_slope_intercepts_are_the_models_predictions(center: bool) -> None:
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"x": rng.normal(2, 1, 120), "m": rng.normal(5, 2, 120), "z": rng.normal(size=120)})
    df["y"] = 1 + 0.4 * df["x"] - 0.2 * df["m"] + 0.3 * df["x"] * df["m"] + df["z"] + rng.normal(size=120)
    res = lc.moderation(df, "y", "x", "m", covar=["z"], center=center)
    work = df.assign(
        xs=df["x"] - df["x"].mean() if center else df["x"], ms=df["m"] - df["m"].mean() if center else df["m"]
    )
    fit = smf.ols("y ~ xs * ms + z", data=work).fit()
    shift = df["m"].mean() if center else 0.0
    at = pd.DataFrame({"xs": 0.0, "ms": res.simple_slopes["m_value"] - shift, "z": 0.0})
    np.testing.assert_allclose(res.simple_slopes["intercept"], fit.predict(at), rtol=1e-10)


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return lc.simulate_sessions(60, 6, sessions=(5, 9), seed=2).data


def test_the_alliance_curve_finds_its_model_by_its_terms(sessions: pd.DataFrame) -> None:
    renamed = {**PLAN["L2"], "id": "growth_and_lagged_crying"}
    out = analyze_sessions(sessions, plan=[PLAN["L1"], renamed])
    assert len(out.alliance_curve) > 0
    assert set(out.alliance_curve["model"]) == {"growth_and_lagged_crying"}


def test_without_such_a_model_it_says_the_curve_was_left_out(sessions: pd.DataFrame) -> None:
    out = analyze_sessions(sessions, plan=[PLAN["L1"]])
    assert out.alliance_curve.empty
    assert any("population alliance curve not drawn" in n for n in out.notes)
