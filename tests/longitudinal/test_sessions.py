"""Session-data helpers: validate_sessions, code_time, decompose, lag, episodes.

Expected values come from base R (tests/reference/sessions.R -> sessions.json, data in
tests/reference/data/sessions_small.csv).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError
from lacrima.longitudinal.sessions import code_time, decompose, episodes, lag, validate_sessions

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return json.loads((REF / "sessions.json").read_text())


@pytest.fixture(scope="module")
def sessions_sim() -> pd.DataFrame:
    from lacrima.simulate import simulate_sessions

    return simulate_sessions(120, 10, seed=11).data


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "sessions_small.csv")


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": ["a", "a", "a", "a", "b", "b", "b", "c"],
            "therapist_id": ["t1", "t1", "t1", "t2", "t3", "t3", "t3", "t3"],
            "session": [1, 2, 4, 5, 1, 2, 3, 1],
            "cried": [0, 1, 1, 0, 1, 1, 1, 0],
            "alliance": [4.0, 5.0, 6.0, 5.5, 3.0, 3.5, 4.0, 5.0],
        }
    )


# validate_sessions -------------------------------------------------------------------------------------


def test_it_finds_nothing_wrong_in_a_clean_table() -> None:
    d = pd.DataFrame({"client_id": ["a", "a", "b"], "therapist_id": ["t", "t", "u"], "session": [1, 2, 1]})
    check = validate_sessions(d)
    assert check.ok
    assert check.table().empty
    assert list(check.table().columns) == ["row", "client", "session", "kind", "severity", "message"]
    assert (check.n_rows, check.n_clients, check.n_therapists) == (3, 2, 2)
    check.raise_if_invalid()


def test_it_lists_every_duplicate_row_as_an_error() -> None:
    d = pd.DataFrame({"client_id": ["a", "a", "a", "b"], "therapist_id": "t", "session": [1, 2, 2, 1]})
    check = validate_sessions(d)
    dup = check.table().query("kind == 'duplicate_session'")
    assert list(dup["row"]) == [1, 2]
    assert set(dup["severity"]) == {"error"}
    assert "2 rows for session 2" in dup["message"].iloc[0]
    assert not check.ok


def test_it_reports_gaps_and_therapist_switches_as_notes() -> None:
    check = validate_sessions(_table())
    t = check.table()
    assert check.ok
    gap = t[t["kind"] == "gap"]
    assert gap[["client", "session"]].to_numpy().tolist() == [["a", 3]]
    assert "between 2 and 4" in gap["message"].iloc[0]
    switch = t[t["kind"] == "therapist_switch"]
    assert switch[["row", "client", "session"]].to_numpy().tolist() == [[3, "a", 5]]
    assert "'t1'" in switch["message"].iloc[0] and "'t2'" in switch["message"].iloc[0]
    assert set(t["severity"]) == {"note"}
    assert check.n_notes == 2


def test_it_flags_bad_session_numbers_and_missing_ids() -> None:
    d = pd.DataFrame(
        {
            "client_id": ["a", "a", "a", None, "b", "b", " "],
            "therapist_id": ["t", "t", "t", "t", None, "t", "t"],
            "session": ["1", "x", "-2", "3", "2.5", None, "1"],
        }
    )
    check = validate_sessions(d)
    kinds = dict(zip(check.table()["row"], check.table()["kind"], strict=False))
    assert kinds[1] == "non_numeric_session"
    assert kinds[2] == "negative_session"
    assert kinds[3] == "missing_client_id"
    assert kinds[5] == "missing_session"
    assert kinds[6] == "missing_client_id"
    assert set(check.table().query("row == 4")["kind"]) == {"missing_therapist_id", "non_integer_session"}
    assert check.n_errors == 7


def test_it_raises_one_error_listing_all_problems() -> None:
    d = pd.DataFrame({"client_id": ["a", "a", None], "therapist_id": "t", "session": [1, 1, 2]})
    with pytest.raises(DataError) as info:
        validate_sessions(d).raise_if_invalid()
    assert len(info.value.problems) == 3
    assert "duplicate_session (2)" in str(info.value) and "missing_client_id (1)" in str(info.value)


def test_it_can_skip_the_therapist_checks() -> None:
    d = pd.DataFrame({"client_id": ["a", "a"], "session": [1, 2]})
    check = validate_sessions(d, therapist=None)
    assert check.ok and check.n_therapists is None


def test_it_names_missing_columns() -> None:
    with pytest.raises(DataError, match="'therapist_id'"):
        validate_sessions(pd.DataFrame({"client_id": ["a"], "session": [1]}))


def test_it_passes_simulated_sessions(sessions_sim: pd.DataFrame) -> None:
    check = validate_sessions(sessions_sim)
    assert check.ok and check.n_notes == 0
    assert check.n_clients == sessions_sim["client_id"].nunique()


# code_time ---------------------------------------------------------------------------------------------


def test_it_codes_time_from_the_first_session() -> None:
    out = code_time(_table(), log=True, quadratic=True)
    np.testing.assert_array_equal(out["time"], [0, 1, 3, 4, 0, 1, 2, 0])
    np.testing.assert_allclose(out["time_log"], np.log(out["time"] + 1))
    np.testing.assert_array_equal(out["time_sq"], out["time"] ** 2)
    assert "time" not in _table().columns


def test_it_codes_time_with_an_origin_and_scale() -> None:
    out = code_time(_table(), origin=3, scale=2.0, name="t")
    np.testing.assert_array_equal(out["t"], (np.array([1, 2, 4, 5, 1, 2, 3, 1]) - 3) / 2)


def test_it_codes_time_from_each_clients_first_session() -> None:
    d = _table().assign(session=[3, 4, 6, 7, 1, 2, 3, 2])
    out = code_time(d, origin="client_first")
    np.testing.assert_array_equal(out["time"], [0, 1, 3, 4, 0, 1, 2, 0])


def test_it_refuses_bad_time_codes() -> None:
    with pytest.raises(DataError, match="scale"):
        code_time(_table(), scale=0)
    with pytest.raises(DataError, match="origin"):
        code_time(_table(), origin="last")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"time > -1"):
        code_time(_table(), origin=5, log=True)
    with pytest.raises(DataError, match="no usable value"):
        code_time(_table().assign(session=[1, 2, None, 4, 1, 2, 3, 1]))


# decompose ---------------------------------------------------------------------------------------------


def test_it_decomposes_like_r(small: pd.DataFrame, ref: dict[str, Any]) -> None:
    expected = pd.DataFrame(ref["decompose"]).astype({"alliance_pm": float, "alliance_cwc": float})
    persons = decompose(small, "alliance")
    obs = decompose(small, ["alliance"], grand="observations")
    np.testing.assert_allclose(persons["alliance_pm"], expected["alliance_pm"], rtol=1e-12)
    np.testing.assert_allclose(persons["alliance_cwc"], expected["alliance_cwc"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(persons["alliance_pmc"], expected["pmc_persons"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(obs["alliance_pmc"], expected["pmc_observations"], rtol=1e-12, atol=1e-12)
    assert persons.index.equals(small.index) and len(persons) == len(small)


def test_it_decomposes_booleans_and_keeps_the_index() -> None:
    d = _table().set_index(pd.Index(list("hgfedcba"))).assign(cried=lambda x: x["cried"].astype(bool))
    out = decompose(d, "cried")
    assert list(out.index) == list("hgfedcba")
    np.testing.assert_allclose(out["cried_pm"], [0.5] * 4 + [1.0] * 3 + [0.0])
    np.testing.assert_allclose(out["cried_pmc"], np.array([0.5] * 4 + [1.0] * 3 + [0.0]) - 0.5)


def test_it_refuses_to_decompose_text_or_rows_without_ids() -> None:
    with pytest.raises(DataError, match="not numeric"):
        decompose(_table(), "therapist_id")
    with pytest.raises(DataError, match="rows have no client_id") as info:
        decompose(_table().assign(client_id=["a", None, "a", "a", "b", "b", "b", "c"]), "alliance")
    assert info.value.problems[0].row == 1
    with pytest.raises(DataError, match="'nope'"):
        decompose(_table(), ["alliance", "nope"])


# lag ---------------------------------------------------------------------------------------------------


def test_it_lags_like_r(small: pd.DataFrame, ref: dict[str, Any]) -> None:
    expected = pd.DataFrame(ref["lags"])
    one = lag(small, ["cried", "alliance"])
    two = lag(small, "alliance", k=2)
    prev = lag(small, "cried", require_consecutive=False)
    for got, want in [
        (one.data["cried_lag1"], expected["cried_lag1"]),
        (one.data["alliance_lag1"], expected["alliance_lag1"]),
        (two.data["alliance_lag2"], expected["alliance_lag2"]),
        (prev.data["cried_lag1"], expected["cried_prev_recorded"]),
    ]:
        np.testing.assert_allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float), equal_nan=True)
    keys = set(zip(small["client_id"], small["session"], strict=True))
    absent = np.array(
        [(c, s - 1) not in keys for c, s in zip(small["client_id"], small["session"], strict=True)]
    )
    inside = (small["session"] - 1 >= small.groupby("client_id")["session"].transform("min")).to_numpy()
    n_clients = small["client_id"].nunique()
    assert one.n_first == n_clients
    assert one.n_gap == int((absent & inside).sum()) > 0
    assert prev.n_first == n_clients and prev.n_gap == 0


def test_it_counts_first_sessions_and_gaps() -> None:
    result = lag(_table(), ["cried", "alliance"])
    assert (result.n_first, result.n_gap, result.n_across_gap) == (3, 1, 0)
    np.testing.assert_array_equal(result.data["cried_lag1"], [np.nan, 0, np.nan, 1, np.nan, 1, 1, np.nan])
    assert "3 are a client's first session" in result.note and "1 have no session t-1" in result.note
    t = result.table()
    assert list(t["column"]) == ["cried_lag1", "alliance_lag1"]
    assert (t["n_lagged"] + t["n_first"] + t["n_gap"] + t["n_missing_value"] == 8).all()


def test_it_lags_across_gaps_when_asked() -> None:
    result = lag(_table(), "alliance", require_consecutive=False)
    np.testing.assert_array_equal(result.data["alliance_lag1"], [np.nan, 4, 5, 6, np.nan, 3, 3.5, np.nan])
    assert (result.n_first, result.n_gap, result.n_across_gap) == (3, 0, 1)


def test_it_never_lags_across_clients_and_keeps_row_order() -> None:
    d = _table().iloc[[7, 3, 0, 5, 1, 6, 2, 4]]  # clients and sessions shuffled
    result = lag(d, "alliance")
    assert list(result.data.index) == [7, 3, 0, 5, 1, 6, 2, 4]
    np.testing.assert_array_equal(
        result.data["alliance_lag1"], [np.nan, 6, np.nan, 3, 4, 3.5, np.nan, np.nan]
    )


def test_it_refuses_duplicate_sessions_and_bad_k() -> None:
    d = _table().assign(session=[1, 1, 4, 5, 1, 2, 3, 1])
    with pytest.raises(DataError, match="more than one row"):
        lag(d, "cried")
    with pytest.raises(DataError, match="positive whole number"):
        lag(_table(), "cried", k=0)


def test_it_lags_simulated_crying_within_clients(sessions_sim: pd.DataFrame) -> None:
    result = lag(sessions_sim, "cried")
    assert result.n_gap == 0 and result.n_first == sessions_sim["client_id"].nunique()
    d = result.data.sort_values(["client_id", "session"])
    same = d["client_id"].eq(d["client_id"].shift())
    np.testing.assert_array_equal(d.loc[same, "cried_lag1"], d["cried"].shift()[same].astype(float))


# episodes ----------------------------------------------------------------------------------------------


def test_it_summarises_episodes_like_r(small: pd.DataFrame, ref: dict[str, Any]) -> None:
    expected = pd.DataFrame(ref["episodes"]).set_index("client_id")
    got = episodes(small).table().set_index("client_id").loc[expected.index]
    for col in ["n_sessions", "n_observed", "n_cried", "longest_run"]:
        np.testing.assert_array_equal(got[col], expected[col].astype(int), err_msg=col)
    for col in ["rate", "first_cry_session", "sessions_since_last_cry"]:
        np.testing.assert_allclose(got[col], expected[col].astype(float), equal_nan=True, err_msg=col)
    np.testing.assert_array_equal(episodes(small).sessions["cumulative_cries"], ref["cumulative_cries"])


def test_it_counts_runs_doses_and_missing_crying() -> None:
    d = _table()
    d.loc[6, "cried"] = np.nan
    result = episodes(d)
    t = result.table().set_index("client_id")
    assert t.loc["a", "longest_run"] == 1  # sessions 2 and 4 both had crying, but session 3 is missing
    assert t.loc["b", "longest_run"] == 2 and t.loc["b", "n_observed"] == 2 and t.loc["b", "rate"] == 1.0
    assert t.loc["c", "n_cried"] == 0 and np.isnan(t.loc["c", "first_cry_session"])
    assert t.loc["a", "sessions_since_last_cry"] == 1
    assert result.n_missing == 1
    assert list(result.sessions["cumulative_cries"]) == [0, 1, 2, 2, 1, 2, 2, 0]
    assert list(result.sessions["prior_cries"]) == [0, 0, 1, 2, 0, 1, 2, 0]


def test_it_refuses_crying_codes_other_than_0_and_1() -> None:
    with pytest.raises(DataError, match="coded 1") as info:
        episodes(_table().assign(cried=[0, 1, 2, 0, 1, 1, 1, 0]))
    assert info.value.problems[0].row == 2
    with pytest.raises(DataError, match="coded 1"):
        episodes(_table().assign(cried=["no", "yes", "no", "no", "no", "no", "no", "no"]))


def test_it_matches_a_direct_count_on_simulated_sessions(sessions_sim: pd.DataFrame) -> None:
    t = episodes(sessions_sim).table().set_index("client_id")
    counts = sessions_sim.groupby("client_id")["cried"].agg(["size", "sum"])
    np.testing.assert_array_equal(t.loc[counts.index, "n_sessions"], counts["size"])
    np.testing.assert_array_equal(t.loc[counts.index, "n_cried"], counts["sum"])
