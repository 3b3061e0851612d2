"""The consortium report (lacrima.report._pooled): pooled and per-site (partial) correlations and the
meta-analysis of site effects, checked against R (tests/reference/pooled_partial.R: lm residuals,
cor.test, metafor rma on escalc ZCOR)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lacrima.crosscultural import pool_plan as pooled_report
from lacrima.crosscultural.federated import pool_summaries, site_summary
from lacrima.errors import DataError
from lacrima.report.render import render_pooled

REF = Path(__file__).parents[1] / "reference"
EXPECTED = json.loads((REF / "pooled_partial.json").read_text(encoding="utf-8"))
SITES = ["rome", "tel_aviv", "new_york"]
STAMP = datetime(2026, 11, 25, tzinfo=UTC)

PLAN: dict[str, Any] = {
    "name": "test plan",
    "hypotheses": [
        {"id": "P1", "title": "x with y", "test": "correlate", "x": "x", "y": "y"},
        {"id": "P2", "title": "x with y given c1, c2", "test": "correlate", "x": "x", "y": "y",
         "covar": ["c1", "c2"]},
        {"id": "P3", "title": "needs a column no site shares", "test": "correlate", "x": "x", "y": "z"},
        {"id": "P4", "title": "a group comparison", "test": "compare_groups", "dv": "y", "group": "g"},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    data = pd.read_csv(REF / "data" / "pooled_partial.csv")
    # a categorical column with one small cell at one site, to exercise suppression
    data["group"] = ["a" if i % 2 else "b" for i in range(len(data))]
    data.loc[data.index[data["site"] == "tel_aviv"][:3], "group"] = "c"
    return data


@pytest.fixture(scope="module")
def summaries(raw: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        site_summary(
            raw[raw["site"] == s],
            ["x", "y", "c1", "c2"],
            site=s,
            categorical=["group"],
            pairs={"P1": ("x", "y")},
            created=STAMP,
        )
        for s in SITES
    ]


@pytest.fixture(scope="module")
def report(summaries: list[dict[str, Any]]) -> Any:
    return pooled_report(summaries, PLAN, sources=[f"{s}.json" for s in SITES])


def test_it_pools_partial_correlations_like_r(report: Any) -> None:
    by_id = {h.hypothesis.id: h for h in report.hypotheses}
    ref = EXPECTED["pooled"]
    assert by_id["P1"].pooled.r == pytest.approx(ref["r"], abs=1e-12)
    assert by_id["P1"].pooled.p == pytest.approx(ref["p"], rel=1e-8)
    p2 = by_id["P2"].pooled
    assert p2.n == ref["n"]
    assert p2.r == pytest.approx(ref["r_partial"], abs=1e-12)
    assert p2.p == pytest.approx(ref["p_partial"], rel=1e-8)
    assert p2.ci == pytest.approx(tuple(ref["ci_partial"]), abs=1e-12)


def test_it_gives_each_sites_partial_correlation_like_r(report: Any) -> None:
    sites = {h.hypothesis.id: h.sites for h in report.hypotheses}["P2"].set_index("site")
    for ref in EXPECTED["sites"]:
        row = sites.loc[ref["site"]]
        assert row["n"] == ref["n"]
        assert row["r"] == pytest.approx(ref["r_partial"], abs=1e-12)
        assert row["p"] == pytest.approx(ref["p_partial"], rel=1e-8)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(ref["ci_partial"]), abs=1e-12)


@pytest.mark.parametrize(("hid", "key"), [("P2", "meta_partial_reml"), ("P1", "meta_r_reml")])
def test_it_meta_analyses_site_effects_like_metafor(report: Any, hid: str, key: str) -> None:
    m = {h.hypothesis.id: h.meta for h in report.hypotheses}[hid]
    ref = EXPECTED[key]
    assert m.k == 3
    assert m.estimate == pytest.approx(ref["estimate"], abs=1e-8)
    assert m.ci == pytest.approx(tuple(ref["ci"]), abs=1e-8)
    assert m.pi == pytest.approx(tuple(ref["pi"]), abs=1e-8)
    assert m.se_z == pytest.approx(ref["se_z"], rel=1e-7)
    assert m.tau2 == pytest.approx(ref["tau2"], rel=1e-6)
    assert m.i2 == pytest.approx(ref["i2"], rel=1e-6)
    assert m.q == pytest.approx(ref["q"], rel=1e-10)
    assert m.q_p == pytest.approx(ref["q_p"], rel=1e-8)


def test_it_uses_the_requested_tau2_estimator(summaries: list[dict[str, Any]]) -> None:
    rep = pooled_report(summaries, PLAN, method="DL")
    m = {h.hypothesis.id: h.meta for h in rep.hypotheses}["P2"]
    ref = EXPECTED["meta_partial_dl"]
    assert m.method == "DL"
    assert m.estimate == pytest.approx(ref["estimate"], abs=1e-10)
    assert m.tau2 == pytest.approx(ref["tau2"], rel=1e-8)


def test_it_matches_the_named_effect_meta_analysis(report: Any, summaries: list[dict[str, Any]]) -> None:
    named = pool_summaries(summaries).effect_meta("P1")
    m = {h.hypothesis.id: h.meta for h in report.hypotheses}["P1"]
    assert m.estimate == pytest.approx(named.estimate, abs=1e-14)
    assert m.tau2 == pytest.approx(named.tau2, abs=1e-14)


def test_it_lists_what_it_could_not_pool(report: Any) -> None:
    reasons = dict(report.not_pooled)
    assert set(reasons) == {"P3", "P4"}
    assert "do not hold z" in reasons["P3"]
    assert "compare_groups" in reasons["P4"]


def test_it_writes_json_with_unrounded_numbers(report: Any, tmp_path: Path) -> None:
    data = json.loads(report.to_json(tmp_path / "pooled.json").read_text(encoding="utf-8"))
    assert data["schema"] == "lacrima.pooled-report"
    corr = {c["id"]: c for c in data["correlations"]}
    assert corr["P2"]["r"] == report.table().set_index("id").loc["P2", "estimate"]
    assert [s["site"] for s in data["sites"]] == SITES
    assert data["counts"]["group"]["c"] is None
    assert len(data["site_effects"]) == 6


def _visible_text(html: str) -> str:
    return re.sub(r"<style>.*?</style>", "", html, flags=re.S)


def test_it_renders_every_table_and_no_missing_values(report: Any, tmp_path: Path) -> None:
    html = render_pooled(report, tmp_path / "pooled.html").read_text(encoding="utf-8")
    text = _visible_text(html)
    for title in (
        "Sites and their sample sizes",
        "Pooled means and standard deviations",
        "Pooled correlation matrix",
        "Pooled correlations and partial correlations",
        "Each site&#x27;s own correlation",
        "Meta-analysis of the per-site effects (REML)",
        "Category counts by site and pooled",
        "not covered by the pooled summaries",
    ):
        assert title in text
    assert text.count("<figure") == 2
    assert "suppressed" in text
    assert not re.search(r"\b(NaN|nan|None|null|inf)\b", text)
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_it_warns_when_a_sites_rows_fall_outside_the_subset(summaries: list[dict[str, Any]]) -> None:
    plan = {
        "hypotheses": [
            {"id": "S1", "title": "only group a", "test": "correlate", "x": "x", "y": "y",
             "subset": {"group": "a"}},
        ]
    }  # fmt: skip
    rep = pooled_report(summaries, plan)
    assert any("outside the plan's subset" in n and "rome" in n for n in rep.notes)


def test_it_records_the_small_sample_warning_with_two_sites(summaries: list[dict[str, Any]]) -> None:
    rep = pooled_report(summaries[:2], PLAN)
    assert any("only 2 studies" in n for n in rep.notes)
    assert {h.hypothesis.id: h.meta for h in rep.hypotheses}["P2"] is not None


def test_it_needs_one_source_per_summary(summaries: list[dict[str, Any]]) -> None:
    with pytest.raises(DataError, match="one per summary"):
        pooled_report(summaries, PLAN, sources=["a.json"])
