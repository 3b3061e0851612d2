from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError
from lacrima.instruments import Instrument, list_instruments, load_instrument
from lacrima.scoring import MissingDataWarning, score, score_all


def toy_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cried": [1, 1, 0, 1, np.nan],
            "toy_02": [5, 4, np.nan, 2, 3],
            "toy_03": [4, np.nan, np.nan, np.nan, 3],
            "toy_04": [1, 2, np.nan, np.nan, 3],
            "toy_05": [1, 5, 2, 3, np.nan],
            "toy_06": [5, 5, 4, np.nan, np.nan],
        },
        index=pd.Index(["p1", "p2", "p3", "p4", "p5"], name="participant_id"),
    )


def test_it_scores_wai_subscales_aligned_to_the_index() -> None:
    wai = load_instrument("wai_sr")
    rng = np.random.default_rng(7)
    df = pd.DataFrame(rng.integers(1, 6, size=(20, 12)), columns=wai.columns, index=range(100, 120))
    out = score(df, "wai_sr")
    assert list(out.columns) == ["wai_goal", "wai_task", "wai_bond", "wai_total"]
    assert out.index.equals(df.index)
    bond = df[["wai_03", "wai_05", "wai_07", "wai_09"]].mean(axis=1)
    np.testing.assert_allclose(out["wai_bond"], bond)
    np.testing.assert_allclose(out["wai_total"], df.mean(axis=1))


def test_it_reverse_keys_prorates_and_respects_show_if(toy: Instrument) -> None:
    out = score(toy_frame(), toy)
    # feel = mean of toy_02, toy_03 and reversed toy_04 (6 - x) over answered items; needs 0.6 * 3 -> 2.
    # p1: (5 + 4 + 5) / 3; p2: (4 + 4) / 2; p3 did not cry: not shown, NaN; p4: 1 of 3 answered, NaN;
    # p5: gate unknown, so the items count as shown: (3 + 3 + 3) / 3.
    np.testing.assert_allclose(out["toy_feel"], [14 / 3, 4.0, np.nan, np.nan, 3.0])
    # total is a sum of reversed toy_05 and toy_06 prorated as mean * 2; needs ceil(0.6 * 2) = 2 items.
    np.testing.assert_allclose(out["toy_total"], [10.0, 6.0, 8.0, np.nan, np.nan])
    assert out["toy_total_band"].tolist()[:3] == ["high", "mid", "high"]
    assert out["toy_total_band"].isna().tolist() == [False, False, False, True, True]
    assert list(out["toy_total_band"].cat.categories) == ["low", "mid", "high"]
    assert out["toy_total_band"].cat.ordered


def test_it_takes_min_answered_as_a_fraction_or_a_count(toy: Instrument) -> None:
    df = toy_frame()
    one_item = score(df, toy, min_answered=0.3)  # ceil(0.3 * 3) = 1 of feel; 1 of total
    np.testing.assert_allclose(one_item["toy_feel"], [14 / 3, 4.0, np.nan, 2.0, 3.0])
    np.testing.assert_allclose(one_item["toy_total"], [10.0, 6.0, 8.0, 6.0, np.nan])
    all_three = score(df, toy, min_answered=3)  # a count; capped at 2 for the 2-item subscale
    np.testing.assert_allclose(all_three["toy_feel"], [14 / 3, np.nan, np.nan, np.nan, 3.0])
    np.testing.assert_allclose(all_three["toy_total"], [10.0, 6.0, 8.0, np.nan, np.nan])


def test_it_requires_every_item_under_the_complete_rule(make_toy: Callable[..., Instrument]) -> None:
    inst = make_toy(missing={"rule": "complete"})
    out = score(toy_frame(), inst)
    np.testing.assert_allclose(out["toy_feel"], [14 / 3, np.nan, np.nan, np.nan, 3.0])


@pytest.mark.parametrize("bad", [0, -1, 2.5, float("nan"), "half", True])
def test_it_rejects_unusable_min_answered(toy: Instrument, bad: object) -> None:
    with pytest.raises(DataError, match="min_answered"):
        score(toy_frame(), toy, min_answered=bad)  # type: ignore[arg-type]


def test_it_raises_on_bad_values_unless_told_to_treat_them_as_missing(toy: Instrument) -> None:
    df = toy_frame()
    df.loc["p1", "toy_02"] = 9
    df["toy_06"] = df["toy_06"].astype(object)
    df.loc["p2", "toy_06"] = "five"
    with pytest.raises(DataError) as info:
        score(df, toy)
    assert {(p.row, p.column) for p in info.value.problems} == {("p1", "toy_02"), ("p2", "toy_06")}
    with pytest.warns(MissingDataWarning, match="2 bad value"):
        out = score(df, toy, strict=False)
    np.testing.assert_allclose(out["toy_feel"].iloc[0], (4 + 5) / 2)
    assert np.isnan(out["toy_total"].iloc[1])


def test_it_treats_absent_item_columns_as_unanswered_only_when_not_strict() -> None:
    wai = load_instrument("wai_sr")
    df = pd.DataFrame([[4] * 12, [2] * 12], columns=wai.columns).drop(columns=["wai_03"])
    with pytest.raises(DataError, match="wai_03"):
        score(df, wai)
    with pytest.warns(MissingDataWarning, match="absent item columns wai_03"):
        out = score(df, wai, strict=False)
    np.testing.assert_allclose(out["wai_bond"], [4.0, 2.0])  # 3 of 4 answered meets 0.75


def test_it_warns_when_a_subscale_cannot_be_scored_for_anyone() -> None:
    wai = load_instrument("wai_sr")
    df = pd.DataFrame([[4.0] * 12, [2.0] * 12], columns=wai.columns)
    df[["wai_03", "wai_05", "wai_07", "wai_09"]] = np.nan
    with pytest.warns(MissingDataWarning) as caught:
        out = score(df, wai)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert messages[0].startswith("wai_bond could not be computed for any of the 2 rows")
    assert messages[1].startswith("wai_total could not be computed")
    assert out["wai_bond"].isna().all()
    np.testing.assert_allclose(out["wai_goal"], [4.0, 2.0])
    assert out["wai_total"].isna().all()  # 8 of 12 answered is below 0.75


def test_it_does_not_warn_when_nobody_was_shown_a_gated_subscale(toy: Instrument) -> None:
    df = pd.DataFrame({"cried": [0, 0], "toy_05": [1, 2], "toy_06": [3, 4]}).assign(
        toy_02=np.nan, toy_03=np.nan, toy_04=np.nan
    )
    out = score(df, toy)
    assert out["toy_feel"].isna().all()


def test_it_accepts_an_empty_table() -> None:
    wai = load_instrument("wai_sr")
    out = score(pd.DataFrame(columns=wai.columns, dtype=float), wai)
    assert out.empty and list(out.columns) == ["wai_goal", "wai_task", "wai_bond", "wai_total"]


def test_it_scores_every_instrument_present_and_reports_the_rest(toy: Instrument) -> None:
    wai = load_instrument("wai_sr")
    df = pd.concat(
        [toy_frame().reset_index(drop=True), pd.DataFrame([[3] * 12] * 5, columns=wai.columns)], axis=1
    )
    result = score_all(df, [toy, "wai_sr"])
    assert result.scored == ("toy", "wai_sr")
    assert "toy_feel" in result.scores and "wai_bond" in result.scores
    everything = score_all(df.drop(columns=toy.columns))
    assert "wai_sr" in everything.scored
    assert set(everything.scored) | set(everything.skipped) == set(list_instruments())
    table = everything.table()
    assert list(table.columns) == ["instrument", "status", "reason"]


def test_it_scores_the_ecr_r() -> None:
    assert "ecr_r" in list_instruments()
    ecr = load_instrument("ecr_r")
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.integers(1, 8, size=(30, len(ecr.columns))), columns=ecr.columns)
    out = score(df, "ecr_r")
    assert {"ecr_anxiety", "ecr_avoidance"} <= set(out.columns)
    keyed = df.astype(float).copy()
    for col in ecr.reverse_columns:
        keyed[col] = 8 - keyed[col]
    np.testing.assert_allclose(out["ecr_anxiety"], keyed[ecr.subscale_columns("anxiety")].mean(axis=1))
    np.testing.assert_allclose(out["ecr_avoidance"], keyed[ecr.subscale_columns("avoidance")].mean(axis=1))


def test_it_scores_the_crying_items_only_for_those_who_cried() -> None:
    assert "crying_in_therapy" in list_instruments()
    cry = load_instrument("crying_in_therapy")
    gated = [it.column for it in cry.items if it.show_if is not None]
    rows = {"cried_in_therapy": [1, 0, 1]}
    for it in cry.items:
        if it.column in gated:
            rows[it.column] = [4, np.nan, 2]
        elif it.column != "cried_in_therapy":
            rows[it.column] = [3, 3, 3]
    out = score(pd.DataFrame(rows), cry)
    assert {f"cry_{name}" for name in cry.subscales} == set(out.columns)
    for name in cry.subscales:
        columns = cry.subscale_columns(name)
        if all(c in gated for c in columns):
            assert np.isnan(out[f"cry_{name}"].iloc[1])  # not asked: missing, and no error
            assert not np.isnan(out[f"cry_{name}"].iloc[0])


def test_it_adds_ordered_severity_bands_for_sum_scales() -> None:
    assert "phq9" in list_instruments()
    phq = load_instrument("phq9")
    df = pd.DataFrame([[0] * 9, [1] * 9, [3] * 9, [2] * 8 + [np.nan]], columns=phq.columns)
    out = score(df, phq)
    # 9 x 2 answered of 9 -> prorated mean 2 * 9 = 18
    np.testing.assert_allclose(out["phq_total"], [0.0, 9.0, 27.0, 18.0])
    expected = [phq.band("total", v) for v in (0.0, 9.0, 27.0, 18.0)]
    assert out["phq_total_band"].tolist() == expected
    assert out["phq_total_band"].cat.ordered


def test_it_ignores_answers_to_hidden_items_when_not_strict(toy: Instrument) -> None:
    df = toy_frame()
    df.loc["p3", ["toy_02", "toy_03"]] = [5, 5]  # p3 did not cry, yet has answers
    with pytest.raises(DataError, match="only shown when cried is 1"):
        score(df, toy)
    with pytest.warns(MissingDataWarning, match="2 bad value"):
        out = score(df, toy, strict=False)
    assert np.isnan(out.loc["p3", "toy_feel"])
