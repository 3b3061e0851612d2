"""One spelling across the public API; the old names still work for one release and say what replaced them."""

from __future__ import annotations

import pandas as pd
import pytest

import lacrima as lc
import lacrima.io as lio
import lacrima.longitudinal as ll
from lacrima._deprecation import REMOVED_IN

KEY = "a long secret kept apart from the data"


def test_old_spellings_warn_and_give_the_same_result() -> None:
    df = pd.DataFrame({"participant_id": ["a", "b"], "x": [1, 2]})
    expected = f"pseudonymise is deprecated .* {REMOVED_IN}; use pseudonymize"
    with pytest.warns(DeprecationWarning, match=expected):
        old = lc.pseudonymise(df, ["participant_id"], KEY)
    pd.testing.assert_frame_equal(old, lio.pseudonymize(df, ["participant_id"], KEY))
    sessions = pd.DataFrame({"session": [1, 1, 2], "cried": [0, 1, 1], "chk_alliance": [3.0, 4.0, 5.0]})
    with pytest.warns(DeprecationWarning, match="summarise_sessions is deprecated.*use summarize_sessions"):
        old_summary = ll.summarise_sessions(sessions)
    assert old_summary == lc.summarize_sessions(sessions)


def test_reliability_takes_level_and_warns_on_ci_level() -> None:
    data = lc.simulate_study(seed=2, n=40).data
    items = [f"wai_{i:02d}" for i in range(1, 5)]
    new = lc.reliability(data, items, level=0.9)
    assert new.level == 0.9
    with pytest.warns(DeprecationWarning, match=r"ci_level=\.\.\.\) is deprecated.*use level"):
        old = lc.reliability(data, items, ci_level=0.9)
    assert old == new
    with pytest.warns(DeprecationWarning, match=r"ReliabilityResult.ci_level is deprecated.*use \.level"):
        assert new.ci_level == 0.9
    with pytest.raises(TypeError, match="level or ci_level"):
        lc.reliability(data, items, level=0.9, ci_level=0.8)


def test_the_old_names_are_the_only_aliases() -> None:
    aliases = {name for name in lc.__all__ if getattr(getattr(lc, name), "__doc__", "") and
               "Deprecated alias" in (getattr(lc, name).__doc__ or "")}  # fmt: skip
    assert aliases == {"pseudonymise", "summarise_sessions"}
