"""lacrima.crosscultural starts without scipy.stats and scipy.optimize and gives the same numbers.

Importing scipy.stats took about half a second, more than a whole four-step ``lc.invariance`` run; the
distribution functions come from :mod:`lacrima._dist` and the roots from :func:`lacrima._roots.brent_root`
instead. scipy.optimize is imported only on the rare fallback paths that need it.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lacrima import _dist
from lacrima.crosscultural import _cfa_engine
from lacrima.crosscultural.cfa import cfa

REF_DIR = Path(__file__).resolve().parents[1] / "reference"
MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
SLOW = ("scipy.stats", "scipy.optimize")


def _loaded_after(code: str) -> list[str]:
    """Which of the slow scipy modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {SLOW!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import lacrima.crosscultural",
        "import lacrima.crosscultural.invariance",
        "import lacrima as lc\nlc.invariance, lc.meta, lc.pool_summaries, lc.multisite",
    ],
)
def test_it_imports_crosscultural_without_scipy_stats_or_optimize(code: str) -> None:
    assert _loaded_after(code) == []


def test_it_runs_invariance_and_meta_without_scipy_stats_or_optimize() -> None:
    code = (
        "import pandas as pd\n"
        "from lacrima.crosscultural import invariance, meta\n"
        f"invariance(pd.read_csv({str(REF_DIR / 'data' / 'holzinger.csv')!r}), {MODEL!r}, 'school')\n"
        "for method in ('REML', 'PM', 'DL'):\n"
        "    meta([0.1, 0.3, 0.25, 0.5], n=[40, 80, 120, 60], method=method, test='knha')"
    )
    assert _loaded_after(code) == []


# Arguments as meta(), federated's regression and the Q-profile interval pass them, edge cases included.
X = np.array([-np.inf, -3.0, -1e-300, -0.0, 0.0, 1e-300, 1e-8, 0.4, 1.0, 3.84, 25.0, 400.0, np.inf, np.nan])
Q = np.array([1e-300, 1e-10, 0.005, 0.025, 0.05, 0.5, 0.9, 0.95, 0.975, 0.995, 1 - 1e-10, 1.0, np.nan])
DF = [1, 2, 3, 4, 7, 12, 30, 117, 1000, 1e6]


def _same(ours: Any, theirs: Any) -> bool:
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("df", DF)
def test_it_computes_distribution_functions_bit_for_bit_as_scipy_stats(df: float) -> None:
    with np.errstate(all="ignore"):
        assert _same(_dist.chi2_ppf(Q, df), stats.chi2.ppf(Q, df))
        assert _same(_dist.chi2_sf(X, df), stats.chi2.sf(X, df))
        assert _same(_dist.t_sf(np.abs(X), df), stats.t.sf(np.abs(X), df))
        assert _same(_dist.t_ppf(Q, df), stats.t.ppf(Q, df))
        for dfd in DF:
            assert _same(_dist.f_sf(X, df, dfd), stats.f.sf(X, df, dfd))
    assert _same(_dist.norm_ppf(Q), stats.norm.ppf(Q))
    assert _same(_dist.norm_sf(np.abs(X)), stats.norm.sf(np.abs(X)))
    # scalar degrees of freedom and probabilities, as the callers pass them
    for q in (0.025, 0.05, 0.95, 0.975):
        assert float(_dist.chi2_ppf(q, df)) == float(stats.chi2.ppf(q, df))


def test_it_finishes_with_lbfgs_when_newton_steps_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    hs = pd.read_csv(REF_DIR / "data" / "holzinger.csv")
    newton = cfa(hs, MODEL, group="school")
    calls: list[str] = []
    lbfgs = _cfa_engine._lbfgs

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = lbfgs(*args, **kwargs)
        calls.append(out[3])
        return out

    monkeypatch.setattr(_cfa_engine, "_lbfgs", spy)
    monkeypatch.setattr(_cfa_engine, "fit_structure", functools.partial(_cfa_engine.fit_structure, maxiter=3))
    res = cfa(hs, MODEL, group="school")
    assert len(calls) == 1 and calls[0].startswith("L-BFGS-B")
    assert res.converged
    assert res.chisq == pytest.approx(newton.chisq, rel=1e-9)
    assert np.max(np.abs(res.estimates["estimate"] - newton.estimates["estimate"])) < 1e-4
