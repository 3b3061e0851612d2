"""The longitudinal plan's derived variables, model L2 and the crying-by-style bands against R
(tests/reference/long_plan.R -> long_plan.json, data/long_plan.csv)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.longitudinal.plan import DEFAULT_LONGITUDINAL_PLAN, LongitudinalResults, analyze_sessions

REF = Path(__file__).resolve().parents[1] / "reference"
GOLDEN: dict[str, Any] = json.loads((REF / "long_plan.json").read_text())
L2 = next(h for h in DEFAULT_LONGITUDINAL_PLAN if h["id"] == "L2")


@pytest.fixture(scope="module")
def result() -> LongitudinalResults:
    data = pd.read_csv(REF / "data" / "long_plan.csv")
    return analyze_sessions(data, plan=[L2])


def test_it_matches_lmer_on_the_lagged_alliance_model(result: LongitudinalResults) -> None:
    ref = GOLDEN["l2"]
    m = result["L2"]
    assert m.formula == m.planned_formula  # the planned random structure was kept
    assert m.n_sessions == ref["nobs"]
    assert list(m.fixed.index) == ref["term"]
    np.testing.assert_allclose(m.fixed["estimate"], ref["estimate"], rtol=1e-4)
    np.testing.assert_allclose(m.fixed["se"], ref["se"], rtol=1e-3)
    np.testing.assert_allclose(m.fixed["df"], ref["df"], rtol=1e-2)
    np.testing.assert_allclose(m.varcomp["vcov"], ref["vcov"], rtol=1e-3, atol=1e-6)


def test_it_matches_glmer_delta_method_bands_by_attachment_style(result: LongitudinalResults) -> None:
    bands = result.crying_by_style
    assert sorted(bands["group"].unique()) == sorted(GOLDEN["styles_kept"])
    for style, ref in GOLDEN["bands"].items():
        part = bands[bands["group"] == style].sort_values("session")
        np.testing.assert_array_equal(part["session"], ref["session"])
        for col in ("p", "ci_low", "ci_high"):
            np.testing.assert_allclose(part[col], ref[col], rtol=2e-3, err_msg=f"{style} {col}")
    assert any("fearful" in n for n in result.notes)  # the style of too few clients is reported
