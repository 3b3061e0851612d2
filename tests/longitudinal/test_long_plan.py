"""The default longitudinal plan on simulated sessions: planted effects recovered in direction, models that
cannot run recorded with their reason, and the report section rendered without missing-value text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import DataError
from lacrima.longitudinal.plan import (
    DEFAULT_LONGITUDINAL_PLAN,
    LongitudinalResults,
    analyze_sessions,
    load_longitudinal_plan,
)
from lacrima.report._html import HtmlReport
from lacrima.report._render_longitudinal import render_longitudinal, term_label
from lacrima.simulate import simulate_sessions

PLAN = {h["id"]: h for h in DEFAULT_LONGITUDINAL_PLAN}


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return simulate_sessions(150, 10, sessions=(6, 14), seed=5).data


@pytest.fixture(scope="module")
def result(sim: pd.DataFrame) -> LongitudinalResults:
    return analyze_sessions(sim)


def _plain_text(doc: HtmlReport) -> str:
    markup = re.sub(r"<img[^>]*>", "", doc.render())
    return re.sub(r"<[^>]+>", " ", markup)


def test_it_runs_every_default_model_on_complete_sessions(result: LongitudinalResults) -> None:
    assert [m.id for m in result.models] == [h["id"] for h in DEFAULT_LONGITUDINAL_PLAN]
    assert all(m.ran for m in result.models), [(m.id, m.reason) for m in result.models]
    assert result.alliance_column == "chk_alliance"
    assert result.n_clients == 150
    l2 = result["L2"]
    assert l2.n_clients == 150
    # a client's first session has no crying at t-1, and unanswered check-ins have no alliance
    complete = result.data[["chk_alliance", "cried_lag1", "session_c"]].dropna()
    assert l2.n_sessions == len(complete) < result.n_sessions - 150 + 1
    assert set(l2.varcomp["group"]) >= {"client_id", "therapist_id", "Residual"}
    assert list(l2.fixed.columns) == ["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]


def test_it_recovers_the_planted_directions(result: LongitudinalResults) -> None:
    l2 = result["L2"].fixed
    # planted: +0.15 alliance after a session with crying, +0.03 alliance per session
    assert l2.at["cried_lag1", "estimate"] > 0 and l2.at["cried_lag1", "p"] < 0.05
    assert l2.at["session_c", "estimate"] > 0 and l2.at["session_c", "p"] < 0.05
    l3 = result["L3"].fixed
    assert l3.at["cried_lag1_cwc", "estimate"] > 0
    l5 = result["L5"].fixed
    # planted: +0.35 log odds per ECR anxiety point, -0.30 per avoidance point
    assert l5.at["ecr_anxiety_c", "estimate"] > 0 and l5.at["ecr_anxiety_c", "p"] < 0.05
    assert l5.at["ecr_avoidance_c", "estimate"] < 0
    findings = result.table()
    anxiety = findings[(findings["id"] == "L5") & (findings["term"] == "ecr_anxiety_c")].iloc[0]
    assert bool(anxiety["as_expected"]) is True


def test_it_keeps_the_alliance_curve_and_crying_by_style(result: LongitudinalResults) -> None:
    curve = result.alliance_curve
    assert len(curve) > 3
    assert np.all(np.diff(curve["alliance"].to_numpy()) > 0)  # the fitted growth is positive
    style = result.crying_by_style
    assert set(style["group"]) <= {"secure", "anxious_preoccupied", "avoidant_dismissing", "fearful"}
    assert len(style) > 0
    p, lo, hi = (style[c].to_numpy() for c in ("p", "ci_low", "ci_high"))
    assert np.all((lo <= p) & (p <= hi) & (lo > 0) & (hi < 1))
    assert result.example_client in set(result.data["client_id"])


def test_it_records_a_reason_when_cried_is_missing(sim: pd.DataFrame) -> None:
    out = analyze_sessions(sim.drop(columns="cried"))
    assert not any(m.ran for m in out.models)
    for m in out.models:
        assert "cried" in m.reason, (m.id, m.reason)
        assert m.findings()["estimate"].isna().all()
    assert np.isnan(out.crying_rate)
    assert out.crying_by_style.empty


def test_it_records_too_few_clients(sim: pd.DataFrame) -> None:
    few = sim[sim["client_id"].isin(sorted(sim["client_id"].unique())[:8])]
    out = analyze_sessions(few, plan=[PLAN["L1"]])
    assert not out["L1"].ran
    assert out["L1"].reason.startswith("only 8 clients")


def test_it_does_not_model_a_table_with_errors(sim: pd.DataFrame) -> None:
    bad = pd.concat([sim, sim.iloc[[0]]], ignore_index=True)  # a duplicated session
    out = analyze_sessions(bad)
    assert out.check is not None and out.check.n_errors == 2
    assert all("duplicate_session" in m.reason for m in out.models)


def test_it_reports_missing_id_columns_instead_of_failing(sim: pd.DataFrame) -> None:
    out = analyze_sessions(sim.drop(columns="client_id"), plan=[PLAN["L1"]])
    assert out.check is None
    assert "client_id" in out["L1"].reason


def test_it_rejects_what_is_not_a_session_table() -> None:
    with pytest.raises(DataError, match="DataFrame"):
        analyze_sessions([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no rows"):
        analyze_sessions(pd.DataFrame({"client_id": [], "session": []}))


def test_it_uses_the_latent_alliance_and_drops_missing_therapists(sim: pd.DataFrame) -> None:
    items = [c for c in sim.columns if re.fullmatch(r"chk_\d\d", c)]
    data = sim.drop(columns=[*items, "therapist_id"])
    out = analyze_sessions(data, plan=[PLAN["L2"]])
    m = out["L2"]
    assert out.alliance_column == "alliance"
    assert m.ran and "therapist_id" not in m.formula
    assert m.formula.startswith("alliance ~ cried_lag1")
    assert m.n_therapists is None


def test_it_falls_back_when_the_fit_is_singular(sim: pd.DataFrame) -> None:
    rng = np.random.default_rng(3)
    data = sim[sim["client_id"].isin(sorted(sim["client_id"].unique())[:60])].copy()
    # an outcome with no client slope and no therapist effect: the planned random structure is too rich
    data["alliance"] = 4.0 + 0.1 * data["cried"] + rng.normal(size=len(data))
    data = data.drop(columns=[c for c in data.columns if c.startswith("chk_")])
    out = analyze_sessions(data, plan=[PLAN["L2"]])
    m = out["L2"]
    assert m.ran
    assert m.formula != m.planned_formula
    assert m.notes and "singular" in m.notes[0]


def test_it_fits_a_fallback_without_an_absent_column(sim: pd.DataFrame) -> None:
    out = analyze_sessions(sim.drop(columns="gender"), plan=[PLAN["L5"]])
    m = out["L5"]
    assert m.ran and "gender" not in m.formula
    assert "needs the column(s) gender" in m.notes[0]
    assert m.findings().set_index("term")["estimate"].isna().to_dict() == {
        "ecr_anxiety_c": False,
        "ecr_avoidance_c": False,
        "genderwoman": True,
    }


def test_it_renders_through_the_report_hook(result: LongitudinalResults) -> None:
    from types import SimpleNamespace

    from lacrima.report._render_longitudinal import longitudinal_section

    doc = HtmlReport(title="t")
    longitudinal_section(SimpleNamespace(extras={}), doc)  # type: ignore[arg-type]
    assert doc.sections == []
    longitudinal_section(SimpleNamespace(extras={"longitudinal": result}), doc)  # type: ignore[arg-type]
    assert [s.title for s in doc.sections] == ["Crying across therapy"]


def test_it_reads_a_plan_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "hypotheses:\n"
        "  - id: A\n    title: Growth\n    formula: '{alliance} ~ session_c + (1 | client_id)'\n"
        "    family: gaussian\n    terms: {session_c: '+'}\n"
    )
    (h,) = load_longitudinal_plan(path)
    assert h.id == "A" and h.terms == {"session_c": "+"} and h.fallbacks == ()
    path.write_text("- id: B\n  title: x\n  formula: 'y ~ x'\n  family: poisson\n  terms: {x: '+'}\n")
    with pytest.raises(DataError, match="family"):
        load_longitudinal_plan(path)
    with pytest.raises(DataError, match="unique"):
        load_longitudinal_plan([PLAN["L1"], PLAN["L1"]])
    with pytest.raises(DataError, match="expected signs"):
        load_longitudinal_plan([{**PLAN["L1"], "terms": {"session_c": "up"}}])


def test_it_serialises_to_json(result: LongitudinalResults) -> None:
    out = json.loads(json.dumps(result.to_dict()))
    assert [m["id"] for m in out["models"]] == [m.id for m in result.models]
    assert "data" not in out
    table = result.table()
    assert {"id", "term", "expected", "estimate", "ci_low", "ci_high", "p", "n", "ran"} <= set(table.columns)


def test_it_renders_tables_figures_and_no_missing_text(result: LongitudinalResults) -> None:
    doc = HtmlReport(title="t")
    render_longitudinal(result, doc)
    # a summary table, then fixed effects and variance components per model; four figures
    assert doc.n_tables == 1 + 2 * len(result.models)
    assert doc.n_figures == 4
    text = _plain_text(doc)
    assert "Crying across therapy" in text
    assert not re.search(r"\b(nan|NaN|None|inf)\b", text)
    assert "Cried in the previous session: b = " in text
    assert "as expected" in text


def test_it_renders_models_that_did_not_run(sim: pd.DataFrame) -> None:
    out = analyze_sessions(sim.drop(columns="cried"))
    doc = HtmlReport(title="t")
    render_longitudinal(out, doc)
    text = _plain_text(doc)
    assert "L2 was not run: needs the column(s) cried" in text
    assert not re.search(r"\b(nan|NaN|None|inf)\b", text)
    assert doc.n_figures == 1  # alliance trajectories only: no crying to show


def test_it_labels_terms_readably() -> None:
    assert term_label("session_c:ecr_avoidance_c") == (
        "Session (per 10 sessions) \u00d7 Attachment avoidance (ECR, centred)"
    )
    assert term_label("genderwoman") == "Gender: woman (vs man)"
    assert term_label("attachment_stylefearful") == "Attachment style: fearful (vs secure)"
