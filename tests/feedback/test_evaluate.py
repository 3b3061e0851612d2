"""fb.evaluate on hand-made clients: the issue's example, each check-in rule, bad input."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from lacrima import feedback as fb
from lacrima.errors import DataError


def _row(session: int, alliance: float | None, cried: int = 0, **extra: float) -> dict[str, float]:
    a = np.nan if alliance is None else alliance
    row: dict[str, float] = {"session": session, "cried": cried, "chk_07": a, "chk_08": a, "chk_09": a}
    row.update(extra)
    return row


def _frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_it_raises_rupture_and_difficult_crying_on_the_issue_example() -> None:
    # alliance 6.3 -> 2.0 over four sessions, the last with intense crying followed by shame
    alliance = [6.3, 6.3, 6.0, 6.3, 5.0, 3.7, 2.0]
    rows = [_row(s, a) for s, a in enumerate(alliance, start=1)]
    rows[-1].update({"cried": 1, "chk_02": 7, "chk_03": 1, "chk_04": 1, "chk_05": 7, "chk_06": 6})
    rows[-1].update({"chk_10": 2, "chk_11": 3})  # felt understood, the therapist's response (check-in 1.1)
    # the check-in items are whole numbers; give the 6.3-type sessions as 6/6/7 and so on
    items = {6.3: (6, 6, 7), 6.0: (6, 6, 6), 5.0: (5, 5, 5), 3.7: (4, 4, 3), 2.0: (2, 2, 2)}
    for row, a in zip(rows, alliance, strict=True):
        row["chk_07"], row["chk_08"], row["chk_09"] = items[a]
    res = fb.evaluate(_frame(rows), profile=fb.ClientProfile(attachment_avoidance=4.5))
    kinds = [a.kind for a in res.alerts]
    assert "alliance-rupture" in kinds and "difficult-crying" in kinds
    np.testing.assert_allclose(res.scores["alliance"], [19 / 3, 19 / 3, 6, 19 / 3, 5, 11 / 3, 2])
    last = res.scores.iloc[-1]
    assert (last["intensity"], last["negative_feelings"], last["felt_understood"]) == (7, 6.5, 2)
    assert last["therapist_response"] == 3 and np.isnan(res.scores["felt_understood"].iloc[0])
    rupture = next(a for a in res.alerts if a.kind == "alliance-rupture")
    # 5.0 after a steady 6.0-6.3 is already 2.8 pooled SDs below the baseline
    assert "SD below the client's baseline" in rupture.reason and rupture.values["drop_sd"] >= 2
    assert rupture.rule_id == "alliance-rupture" and rupture.rule_version == "1.0"
    assert any("Stiles" in s for s in rupture.sources)
    assert rupture.session == 5 and rupture.values["drop_sd"] == pytest.approx(2.84, abs=0.01)
    assert rupture.key == "alliance-rupture:5" and rupture.sessions == (1, 2, 3, 4, 5)
    cry = next(a for a in res.alerts if a.kind == "difficult-crying")
    assert cry.session == 7 and cry.values["negative_feelings"] == 6.5
    assert cry.values["threshold"] == pytest.approx(4.75)  # 5 - 0.5 * (4.5 - 4)
    assert "shame" in cry.reason and "6.5 of 7" in cry.reason
    (episode,) = res.episodes
    assert (episode.start_session, episode.lowest_session, episode.repair_session) == (5, 7, None)


def test_it_recognises_a_repair() -> None:
    rows = [_row(s, a) for s, a in enumerate([6, 6, 6, 6, 2, 3, 6, 6], start=1)]
    res = fb.evaluate(_frame(rows))
    (episode,) = res.episodes
    assert (episode.start_session, episode.lowest_session, episode.repair_session) == (5, 5, 7)
    assert episode.repaired
    assert [a.session for a in res.alerts if a.kind == "alliance-rupture"] == [5]


def test_it_stays_quiet_on_a_steady_alliance() -> None:
    rows = [_row(s, a) for s, a in enumerate([5, 6, 5, 5, 6, 5, 6, 6, 5, 6], start=1)]
    res = fb.evaluate(_frame(rows))
    assert res.alerts == () and res.episodes == () and res.urgency == 0.0


def test_it_flags_each_sub_rule_and_they_can_be_switched_off() -> None:
    rows = [_row(s, a) for s, a in enumerate([5, 5, 5, 5, 5, 3], start=1)]
    res = fb.evaluate(_frame(rows))
    assert [a.session for a in res.alerts] == [6]
    assert "dropped 2.00 points" in res.alerts[0].reason
    off = fb.load_rules(
        {"alliance-rupture": {"use_sd_drop": False, "use_previous_drop": False, "use_cutoff": False}}
    )
    assert fb.evaluate(_frame(rows), rules=off).alerts == ()
    below = [_row(s, a) for s, a in enumerate([4, 4, 4, 4, 2], start=1)]
    only_cut = fb.load_rules({"alliance-rupture": {"use_sd_drop": False, "use_previous_drop": False}})
    (alert,) = fb.evaluate(_frame(below), rules=only_cut).alerts
    assert "below the cut-off 3" in alert.reason and alert.values["cutoff"] == 3


def test_it_raises_a_high_priority_risk_alert_at_once() -> None:
    rows = [_row(1, 5), _row(2, 5)]
    for row in rows:
        row.update({f"phq_{i:02d}": 1 for i in range(1, 9)})
    rows[0]["phq_09"], rows[1]["phq_09"] = 0, 2
    res = fb.evaluate(_frame(rows))
    (risk,) = [a for a in res.alerts if a.kind == "risk-item"]
    assert risk.priority == "high" and risk.session == 2 and risk.values["item9"] == 2
    assert "more than half the days" in risk.reason and risk.key == "risk-item:2"
    assert res.alerts[0] is risk  # high priority first
    assert res.urgency >= fb.URGENCY_WEIGHTS["high"]
    np.testing.assert_allclose(res.scores["phq9_total"], [8, 10])


def test_it_counts_missed_checkins() -> None:
    rows = [_row(s, 5) for s in (1, 2, 5, 6)]
    res = fb.evaluate(_frame(rows), scheduled_through=9)
    missed = [a for a in res.alerts if a.kind == "missed-checkins"]
    assert [(a.session, a.sessions) for a in missed] == [(4, (3, 4)), (8, (7, 8, 9))]
    assert missed[1].key == "missed-checkins:from:7"
    three = fb.load_rules({"missed-checkins": {"n_missed": 3}})
    (only,) = fb.evaluate(_frame(rows), rules=three, scheduled_through=9).alerts
    assert only.sessions == (7, 8, 9) and only.session == 9
    # without a schedule, only the gaps inside the data count
    assert [a.sessions for a in fb.evaluate(_frame(rows)).alerts] == [(3, 4)]


def test_it_handles_a_client_with_no_checkins() -> None:
    empty = pd.DataFrame({"session": pd.Series([], dtype="int64")})
    res = fb.evaluate(empty)
    assert res.alerts == () and res.scores.empty
    assert any("no check-ins" in n for n in res.notes)
    missed = fb.evaluate(empty, scheduled_through=3)
    (alert,) = missed.alerts
    assert alert.kind == "missed-checkins" and alert.sessions == (1, 2, 3)


def test_it_handles_one_session_and_all_missing_alliance_items() -> None:
    one = fb.evaluate(_frame([_row(1, 2)]))
    assert one.alerts == () and any("one session with an alliance score" in n for n in one.notes)
    blank = fb.evaluate(_frame([_row(s, None) for s in (1, 2, 3)]))
    assert blank.alerts == ()
    assert blank.scores["alliance"].isna().all()
    assert any("no session has an alliance score" in n for n in blank.notes)


def test_it_reports_every_bad_input_problem_at_once() -> None:
    with pytest.raises(DataError) as exc:
        fb.evaluate(pd.DataFrame({"session": [1, 1, 0, 2.5]}))
    text = str(exc.value)
    assert "session 1 appears 2 times" in text and "whole number >= 1" in text
    with pytest.raises(DataError, match="no 'session' column"):
        fb.evaluate(pd.DataFrame({"cried": [0]}))
    with pytest.raises(DataError, match="check-in answers cannot be scored"):
        fb.evaluate(_frame([_row(1, 9)]))
    with pytest.raises(DataError, match="several clients"):
        fb.evaluate(pd.DataFrame({"session": [1, 2], "client_id": ["a", "b"]}))


def test_the_docstring_examples_run() -> None:
    import lacrima.feedback._evaluate as ev
    import lacrima.feedback._expected as ex
    import lacrima.feedback._rules as ru

    for module in (fb, ev, ru, ex):
        failed, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failed == 0, module.__name__
