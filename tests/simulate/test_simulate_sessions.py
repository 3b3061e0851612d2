from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from lacrima.errors import DataError
from lacrima.instruments import Instrument
from lacrima.scoring import ATTACHMENT_STYLES, attachment_style, validate
from lacrima.simulate import SessionEffects, simulate_sessions

FRONT = ["client_id", "therapist_id", "site", "session", "date", "cried"]


@pytest.fixture(scope="module")
def sessions(instruments: dict[str, Instrument]):  # type: ignore[no-untyped-def]
    return simulate_sessions(2000, 80, (10, 30), seed=99, instrument=instruments["session_checkin"])


def test_it_follows_the_session_table_contract(sessions, instruments) -> None:  # type: ignore[no-untyped-def]
    data, clients = sessions.data, sessions.clients
    assert list(data.columns[:6]) == FRONT
    assert set(instruments["session_checkin"].columns) <= set(data.columns)
    for col in ("alliance", "ecr_anxiety", "ecr_avoidance", "attachment_style", "gender"):
        assert col in data
    assert len(clients) == 2000 and clients["client_id"].is_unique
    assert clients["n_sessions"].between(10, 30).all()
    assert len(data) == clients["n_sessions"].sum()
    counts = data.groupby("client_id").size()
    assert (counts == clients.set_index("client_id")["n_sessions"].loc[counts.index]).all()
    # sessions run 1..n per client, dates move forward, one therapist per client
    expected = data.groupby("client_id").cumcount() + 1
    assert (data["session"] == expected).all()
    assert (data.groupby("client_id")["date"].diff().dropna() > pd.Timedelta(0)).all()
    assert (data.groupby("client_id")["therapist_id"].nunique() == 1).all()
    assert set(data["attachment_style"]) <= set(ATTACHMENT_STYLES)
    assert data["ecr_anxiety"].between(1, 7).all() and data["ecr_avoidance"].between(1, 7).all()


def test_it_is_deterministic_given_a_seed(instruments) -> None:  # type: ignore[no-untyped-def]
    a = simulate_sessions(50, 5, (3, 6), seed=1, instrument=instruments["session_checkin"])
    b = simulate_sessions(50, 5, (3, 6), seed=1, instrument=instruments["session_checkin"])
    c = simulate_sessions(50, 5, (3, 6), seed=2, instrument=instruments["session_checkin"])
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.clients, b.clients)
    assert not a.data.equals(c.data)


def test_it_has_crying_in_15_to_30_percent_of_sessions(sessions) -> None:  # type: ignore[no-untyped-def]
    assert 0.15 <= sessions.data["cried"].mean() <= 0.30


def test_it_makes_crying_depend_on_attachment_and_gender(sessions) -> None:  # type: ignore[no-untyped-def]
    data = sessions.data
    x = pd.DataFrame(
        {
            "anx_c": data["ecr_anxiety"] - 4,
            "avo_c": data["ecr_avoidance"] - 4,
            "woman": (data["gender"] == "woman").astype(float),
        }
    )
    fit = sm.Logit(data["cried"].astype(float), sm.add_constant(x)).fit(disp=0)
    eff = sessions.truth["effects"]
    # a model without the random effects gives population-averaged slopes, shrunk towards 0
    for name, key in (("anx_c", "cry_anxiety"), ("avo_c", "cry_avoidance"), ("woman", "cry_woman")):
        assert np.sign(fit.params[name]) == np.sign(eff[key])
        assert 0.5 * abs(eff[key]) < abs(fit.params[name]) < 1.1 * abs(eff[key])
    rates = data.groupby("gender")["cried"].mean()
    assert rates["woman"] > rates["man"]


def test_it_recovers_the_alliance_growth_and_the_lagged_effect_of_crying(sessions) -> None:  # type: ignore[no-untyped-def]
    data = sessions.data
    lag = data.groupby("client_id")["cried"].shift(1).fillna(0)
    x = pd.DataFrame(
        {"t": data["session"] - 1, "lag": lag, "cried": data["cried"], "avo_c": data["ecr_avoidance"] - 4}
    )
    fit = sm.OLS(data["alliance"], sm.add_constant(x)).fit()
    eff = sessions.truth["effects"]
    assert eff["alliance_lag_cried"] > 0
    assert abs(fit.params["lag"] - eff["alliance_lag_cried"]) < 0.04
    assert abs(fit.params["t"] - eff["alliance_session"]) < 0.01
    assert abs(fit.params["cried"] - eff["alliance_cried"]) < 0.04
    assert abs(fit.params["avo_c"] - eff["alliance_avoidance"]) < 0.06


def test_it_measures_the_alliance_with_the_checkin_items(sessions, instruments) -> None:  # type: ignore[no-untyped-def]
    inst = instruments["session_checkin"]
    cols = inst.subscale_columns("alliance")
    values = sessions.data[cols].to_numpy(dtype=float, copy=True)
    for j, col in enumerate(cols):
        item = inst.item(col)
        assert item.scale is not None
        assert np.isin(values[~np.isnan(values[:, j]), j], item.scale.values()).all()
        if item.reverse:
            values[:, j] = item.scale.min + item.scale.max - values[:, j]
    score = np.nanmean(values, axis=1)
    assert np.corrcoef(score, sessions.data["alliance"])[0, 1] > 0.7


def test_it_asks_about_tears_only_in_sessions_with_tears(sessions, instruments) -> None:  # type: ignore[no-untyped-def]
    data = sessions.data
    gated = [it.column for it in instruments["session_checkin"].items if it.show_if is not None]
    assert gated
    dry = data["cried"] == 0
    assert data.loc[dry, gated].isna().all().all()
    assert 0.9 < data.loc[~dry, gated].notna().to_numpy().mean() < 1.0
    assert data["cried"].notna().all()


def test_it_classifies_attachment_style_as_lacrima_scoring_does(sessions) -> None:  # type: ignore[no-untyped-def]
    clients = sessions.clients
    expected = attachment_style(clients[["ecr_anxiety", "ecr_avoidance"]])
    assert (clients["attachment_style"] == expected.astype(str)).all()
    assert set(clients["attachment_style"]) == set(ATTACHMENT_STYLES)


def test_it_scales_to_200000_sessions() -> None:
    # Speed is measured in benchmarks/, not asserted here; this checks the shape at benchmark size.
    sim = simulate_sessions(10_000, 200, (10, 30), seed=7)
    assert 190_000 < len(sim.data) < 210_000
    assert sim.data["client_id"].nunique() == 10_000


def test_it_passes_lacrima_validation_of_the_checkin(sessions) -> None:  # type: ignore[no-untyped-def]
    assert validate(sessions.data, "session_checkin").ok


def test_it_runs_without_a_checkin_instrument() -> None:
    sim = simulate_sessions(20, 3, (2, 4), seed=1, instrument=None)
    assert list(sim.data.columns[:6]) == FRONT


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"sessions": (5, 2)}, "sessions"),
        ({"n_clients": 0}, "n_clients"),
        ({"effects": {"nope": 1}}, "unknown settings"),
        ({"effects": SessionEffects(residual_sd=-1)}, "residual_sd"),
        ({"missing": 1.5}, "missing"),
    ],
)
def test_it_rejects_unusable_settings(kwargs, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=words):
        simulate_sessions(seed=1, **kwargs)
