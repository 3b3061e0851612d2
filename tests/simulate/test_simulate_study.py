from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError
from lacrima.instruments import Instrument, instrument_from_dict, list_instruments, load_instrument
from lacrima.scoring import validate
from lacrima.simulate import (
    LATENT_NAMES,
    SimulatedStudy,
    Site,
    StudyEffects,
    default_sites,
    simulate_sessions,
    simulate_study,
)
from lacrima.simulate._effects import LATENT

# Scoring written out here (lacrima.scoring is developed alongside): subscale means with reverse keying.


def subscale_mean(data: pd.DataFrame, inst: Instrument, subscale: str) -> np.ndarray:
    cols = inst.subscale_columns(subscale)
    values = data[cols].to_numpy(dtype=float, copy=True)
    for j, col in enumerate(cols):
        item = inst.item(col)
        if item.reverse and item.scale is not None:
            values[:, j] = item.scale.min + item.scale.max - values[:, j]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with no answers give NaN, as intended
        out: np.ndarray = np.nanmean(values, axis=1)
    return out


def pair_r(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~np.isnan(x) & ~np.isnan(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def cohen_d(x: np.ndarray, group: np.ndarray) -> float:
    a = x[group & ~np.isnan(x)]
    b = x[~group & ~np.isnan(x)]
    pooled = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
    return float((a.mean() - b.mean()) / pooled)


CONTRACT_FRONT = ["participant_id", "site", "country", "language", "gender", "age", "cried_in_therapy"]
PREFIXES = ("cry", "cat", "wai", "ecr", "chg")


@pytest.fixture(scope="module")
def default_study(instruments: dict[str, Instrument]) -> SimulatedStudy:
    return simulate_study(seed=11, instruments=instruments)


@pytest.fixture(scope="module")
def big_study(instruments: dict[str, Instrument]):  # type: ignore[no-untyped-def]
    site = Site(name="big", country="US", language="en", n=6000, cried_share=0.78)
    return simulate_study([site], seed=2024, instruments=instruments)


def _inst_of(name: str, instruments: dict[str, Instrument]) -> tuple[Instrument, str]:
    for latent, inst_id, sub in LATENT:
        if latent == name:
            return instruments[inst_id], sub
    raise KeyError(name)


def test_it_follows_the_respondent_table_contract(default_study, instruments) -> None:  # type: ignore[no-untyped-def]
    data = default_study.data
    assert list(data.columns[:7]) == CONTRACT_FRONT
    for inst_id in ("crying_in_therapy", "crying_attitudes", "wai_sr", "ecr_r", "change"):
        assert set(instruments[inst_id].columns) <= set(data.columns)
    assert data["participant_id"].is_unique
    sizes = data.groupby("site").size().to_dict()
    assert sizes == {s.name: s.n for s in default_sites()} == {"italy": 106, "israel": 150, "us": 124}
    langs = data.groupby("site")["language"].first().to_dict()
    assert langs == {"italy": "it", "israel": "he", "us": "en"}
    assert set(data["gender"]) <= {"woman", "man", "non_binary"}
    assert data["age"].between(18, 80).all()
    assert set(data["cried_in_therapy"].unique()) <= {0, 1}
    assert default_study.latent.shape == (len(data), 1 + len(LATENT_NAMES))
    assert (default_study.latent["participant_id"] == data["participant_id"]).all()
    if "demographics" in list_instruments():
        codes = {o.code for o in load_instrument("demographics").item("modality").options}
        assert set(data["modality"]) <= codes


def test_it_passes_lacrima_validation_of_every_instrument(default_study) -> None:  # type: ignore[no-untyped-def]
    shipped = set(list_instruments())
    for inst_id in ("crying_in_therapy", "crying_attitudes", "wai_sr", "ecr_r", "change", "demographics"):
        if inst_id in shipped:
            assert validate(default_study.data, inst_id).ok, inst_id


def test_it_is_deterministic_given_a_seed(instruments) -> None:  # type: ignore[no-untyped-def]
    a = simulate_study(seed=5, instruments=instruments)
    b = simulate_study(seed=5, instruments=instruments)
    c = simulate_study(seed=6, instruments=instruments)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.latent, b.latent)
    assert not a.data.equals(c.data)


def test_it_keeps_answers_on_each_items_scale(default_study, instruments) -> None:  # type: ignore[no-untyped-def]
    data = default_study.data
    for inst_id in ("crying_in_therapy", "crying_attitudes", "wai_sr", "ecr_r", "change"):
        for item in instruments[inst_id].items:
            if item.scale is None or item.type not in ("likert", "numeric", "boolean"):
                continue
            values = data[item.column].dropna().to_numpy(dtype=float)
            allowed = np.asarray(item.scale.values())
            assert np.isin(values, allowed).all(), item.column


def test_it_leaves_crying_items_blank_for_participants_who_never_cried(default_study, instruments) -> None:  # type: ignore[no-untyped-def]
    data = default_study.data
    never = data["cried_in_therapy"] == 0
    assert never.any()
    gated = [it.column for it in instruments["crying_in_therapy"].items if it.show_if is not None]
    assert gated
    assert data.loc[never, gated].isna().all().all()
    # criers answer them, apart from the planted missingness
    assert data.loc[~never, gated].notna().mean().mean() > 0.9


def test_it_blanks_about_the_requested_share_and_only_items(instruments) -> None:  # type: ignore[no-untyped-def]
    site = Site(name="x", country="US", language="en", n=3000)
    study = simulate_study([site], seed=8, missing=0.05, instruments=instruments)
    data = study.data
    assert data[CONTRACT_FRONT].notna().all().all()
    items = [c for c in data.columns if c.startswith(PREFIXES) and c != "cried_in_therapy"]
    gated = {it.column for it in instruments["crying_in_therapy"].items if it.show_if is not None}
    ungated = [c for c in items if c not in gated]
    share = data[ungated].isna().to_numpy().mean()
    assert 0.04 < share < 0.06
    none = simulate_study([site], seed=8, missing=0.0, instruments=instruments).data
    assert none[ungated].notna().all().all()


def test_it_recovers_the_planted_correlations(big_study, instruments) -> None:  # type: ignore[no-untyped-def]
    truth = big_study.truth
    planted = truth["planted"]
    rows = planted[planted["effect"] == "correlation"]
    assert len(rows) >= 10
    for _, row in rows.iterrows():
        xi, xs = _inst_of(row["x"], instruments)
        yi, ys = _inst_of(row["y"], instruments)
        observed = pair_r(subscale_mean(big_study.data, xi, xs), subscale_mean(big_study.data, yi, ys))
        rel = np.sqrt(truth["reliability"][row["x"]] * truth["reliability"][row["y"]])
        expected = row["value"] * rel  # attenuated by unreliability; rounding attenuates a little more
        assert np.sign(observed) == np.sign(row["value"]), (row["x"], row["y"], observed)
        assert abs(observed - expected) < 0.06, (row["x"], row["y"], observed, expected)
        latent = big_study.latent[[row["x"], row["y"]]].dropna().corr().iloc[0, 1]
        assert abs(latent - row["value"]) < 0.04


def test_it_recovers_the_criers_advantage_in_improvement(big_study, instruments) -> None:  # type: ignore[no-untyped-def]
    truth = big_study.truth
    improvement = subscale_mean(big_study.data, instruments["change"], "improvement")
    cried = big_study.data["cried_in_therapy"].to_numpy() == 1
    observed = cohen_d(improvement, cried)
    expected = truth["effects"]["cried_improvement_d"] * np.sqrt(truth["reliability"]["chg_improvement"])
    assert 0.3 <= truth["effects"]["cried_improvement_d"] <= 0.4
    assert abs(observed - expected) < 0.09


def test_it_makes_women_cry_more_often_than_men(big_study, instruments) -> None:  # type: ignore[no-untyped-def]
    data = big_study.data
    site = big_study.truth["sites"].loc["big"]
    share = data.groupby("gender")["cried_in_therapy"].mean()
    assert share["woman"] > share["man"]
    assert abs(share["woman"] - site["p_cried_woman"]) < 0.03
    assert abs(share["man"] - site["p_cried_man"]) < 0.04
    assert 0.70 < data["cried_in_therapy"].mean() < 0.86
    frequency = subscale_mean(data, instruments["crying_in_therapy"], "frequency")
    woman = (data["gender"] == "woman").to_numpy()
    man = (data["gender"] == "man").to_numpy()
    keep = woman | man
    d = cohen_d(frequency[keep], woman[keep])
    rel = big_study.truth["reliability"]["cry_frequency"]
    assert abs(d - big_study.truth["effects"]["women_frequency_shift"] * np.sqrt(rel)) < 0.12


def test_it_plants_site_differences_in_attitudes(instruments) -> None:  # type: ignore[no-untyped-def]
    study = simulate_study(seed=3, n=2500, instruments=instruments)
    data, truth = study.data, study.truth
    weakness = subscale_mean(data, instruments["crying_attitudes"], "weakness")
    israel = (data["site"] == "israel").to_numpy()
    us = (data["site"] == "us").to_numpy()
    keep = israel | us
    d = cohen_d(weakness[keep], israel[keep])
    shift = truth["sites"].loc["israel", "shift_weakness"] - truth["sites"].loc["us", "shift_weakness"]
    assert shift > 0
    assert abs(d - shift * np.sqrt(truth["reliability"]["cat_weakness"])) < 0.1
    # effect sizes differ slightly between sites, as planted
    scales = truth["sites"]["effect_scale"]
    r_it = truth["site_correlation"]["italy"].loc["cry_positive_feelings", "chg_improvement"]
    r_us = truth["site_correlation"]["us"].loc["cry_positive_feelings", "chg_improvement"]
    assert r_us / r_it == pytest.approx(scales["us"] / scales["italy"])


def test_it_blanks_latent_scores_that_were_never_asked(default_study) -> None:  # type: ignore[no-untyped-def]
    never = default_study.data["cried_in_therapy"] == 0
    assert default_study.latent.loc[never, "cry_positive_feelings"].isna().all()
    assert default_study.latent.loc[~never, "cry_positive_feelings"].notna().all()
    assert default_study.latent["ecr_anxiety"].notna().all()


def test_it_takes_effect_overrides(instruments) -> None:  # type: ignore[no-untyped-def]
    pair = ("cry_positive_feelings", "chg_improvement")
    study = simulate_study(
        seed=1, effects={"correlations": {pair: 0.5}, "cried_improvement_d": 0.0}, instruments=instruments
    )
    assert study.truth["latent_correlation"].loc[pair[1], pair[0]] == 0.5
    assert study.truth["effects"]["cried_improvement_d"] == 0.0
    same = simulate_study(
        seed=1,
        effects=StudyEffects(correlations={pair: 0.5}, cried_improvement_d=0.0),
        instruments=instruments,
    )
    pd.testing.assert_frame_equal(study.data, same.data)


@pytest.mark.parametrize(
    ("effects", "words"),
    [
        (
            {"correlations": {("wai_goal", "wai_task"): 0.99, ("wai_goal", "wai_bond"): -0.9}},
            "positive definite",
        ),
        ({"correlations": {("wai_goal", "nonsense"): 0.2}}, "unknown latent"),
        ({"bogus": 1}, "unknown settings"),
        ({"loading": 1.2}, "loading"),
    ],
)
def test_it_rejects_unusable_effects(effects, words, instruments) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=words):
        simulate_study(seed=1, effects=effects, instruments=instruments)


def test_it_rejects_unusable_sites(instruments) -> None:  # type: ignore[no-untyped-def]
    bad = [Site(name="a", country="US", language="en", n=0, cried_share=1.5)]
    with pytest.raises(DataError) as info:
        simulate_study(bad, seed=1, instruments=instruments)
    assert "n is 0" in str(info.value) and "cried_share" in str(info.value)
    twice = [Site(name="a", country="US", language="en", n=5)] * 2
    with pytest.raises(DataError, match="more than once"):
        simulate_study(twice, seed=1, instruments=instruments)


def test_it_names_a_missing_subscale(instruments) -> None:  # type: ignore[no-untyped-def]
    lacking = instrument_from_dict(
        {
            "id": "change",
            "name": "change without improvement",
            "version": "x",
            "prefix": "chg",
            "source": "test",
            "licence": {"name": "test", "redistribute_text": False},
            "languages": ["en"],
            "scale": {"min": 1, "max": 7},
            "items": [{"number": 1}, {"number": 2}],
            "subscales": {"other": {"items": [1, 2]}},
        }
    )
    with pytest.raises(DataError, match=r"'change' has no subscale\(s\) \['improvement'\]"):
        simulate_study(seed=1, instruments={**instruments, "change": lacking})


def test_it_runs_on_the_shipped_instruments() -> None:
    needed = {"crying_in_therapy", "crying_attitudes", "wai_sr", "ecr_r", "change"}
    missing = needed - set(list_instruments())
    if missing:
        with pytest.raises(DataError, match="needs the instrument"):
            simulate_study(seed=1)
    else:
        study = simulate_study(seed=1)
        assert len(study.data) == 380


def test_it_generates_items_for_any_contract_shaped_instruments(built_instruments) -> None:  # type: ignore[no-untyped-def]
    study = simulate_study(seed=4, n=1500, instruments=built_instruments)
    cry = built_instruments["crying_in_therapy"]
    assert set(cry.columns) <= set(study.data.columns)
    cried = study.data["cried_in_therapy"].to_numpy() == 1
    pf = subscale_mean(study.data, cry, "positive_feelings")
    imp = subscale_mean(study.data, built_instruments["change"], "improvement")
    assert np.isnan(pf[~cried]).all()
    assert pair_r(pf, imp) > 0.1
    sess = simulate_sessions(100, 5, (4, 8), seed=4, instrument=built_instruments["session_checkin"])
    assert set(built_instruments["session_checkin"].columns) <= set(sess.data.columns)


def test_it_needs_an_explicit_seed_and_takes_a_single_site(instruments) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="seed is None"):
        simulate_study(seed=None, instruments=instruments)  # type: ignore[arg-type]
    one = Site(name="solo", country="GB", language="en", n=40)
    study = simulate_study(one, seed=1, instruments=instruments)
    assert set(study.data["site"]) == {"solo"} and len(study.data) == 40
    with pytest.raises(DataError, match="Site objects"):
        simulate_study(["italy"], seed=1, instruments=instruments)  # type: ignore[list-item]
