"""lc.analyze: from a respondent table to the battery, the scorecard and the rendered report."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

import lacrima as lc
from lacrima.errors import DataError


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    return lc.simulate_study(seed=11, n=500).data


@pytest.fixture(scope="module")
def report(study: pd.DataFrame) -> lc.report.Report:  # type: ignore[name-defined]
    return lc.analyze(study, seed=3, n_boot=300)


def test_it_recovers_the_planted_directions_on_a_large_simulated_study(report) -> None:
    verdicts = {hid: r.verdict for hid, r in report.results.items()}
    for hid in ("H1", "H2a", "H2b", "H2c", "H3a", "H3b", "H3c", "H4", "H5a", "H5b", "H5d", "G2"):
        assert verdicts[hid] == "supported", (hid, verdicts[hid])
    assert report.results["H1"].estimate > 0.15
    assert report.results["H4"].effect == "Hedges' g" and report.results["H4"].estimate > 0


def test_it_corrects_p_values_within_each_family(report) -> None:
    fam = [r for r in report.plan_results.results if r.hypothesis.family == "H5"]
    ps = np.array([r.p for r in fam])
    adjusted = lc.adjust_p(ps, method="holm")
    assert np.allclose([r.p_adjusted for r in fam], adjusted)


def test_it_reports_subset_and_listwise_exclusions(report, study) -> None:
    h1 = report.results["H1"]
    non_criers = int((study["cried_in_therapy"] == 0).sum())
    assert h1.outside_subset == non_criers
    assert h1.n + h1.excluded == len(study) - non_criers


def test_it_writes_a_self_contained_html_report_without_missing_values(report, tmp_path) -> None:
    path = report.to_html(tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert "Replication scorecard" in html
    assert html.count('<table class="apa"') >= 8
    charts = re.findall(r'<svg class="chart".*?</svg>', html, flags=re.S)
    assert len(charts) >= 5
    for svg in charts:
        root = ElementTree.fromstring(svg)  # each figure is well-formed SVG
        assert root.find("title") is not None and root.find("title").text
        assert len(root.findall(".//path")) >= 3  # axes, grid and marks
    assert not re.search(r'="[^"]*\b(nan|inf)\b', html)  # no non-finite coordinate in any attribute
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\b(NaN|nan|None)\b", text)
    assert "http://" not in html and "https://" not in html  # opens offline


def test_it_writes_docx_tables_and_json(report, tmp_path) -> None:
    import docx

    document = docx.Document(str(report.to_docx(tmp_path / "t.docx")))
    assert len(document.tables) == 3
    out = json.loads(report.to_json(tmp_path / "r.json").read_text())
    assert {h["id"] for h in out["hypotheses"]} >= {"H1", "H4", "M1"}
    assert out["details"]["H1"]["type"] == "Correlation"


def test_it_names_missing_columns_before_running_anything(study) -> None:
    plan = {"hypotheses": [{"id": "X1", "test": "correlate", "x": "cry_positive_feelings", "y": "no_such"}]}
    with pytest.raises(DataError, match="no_such"):
        lc.analyze(study, plan, bootstrap=False)


def test_it_keeps_going_when_one_hypothesis_cannot_run(study) -> None:
    data = study.copy()
    data["constant"] = 3.0
    data["tiny_group"] = np.where(np.arange(len(data)) == 0, "a", "b")
    four = list(data["participant_id"][:4])
    too_few = {
        "x": "cry_positive_feelings",
        "y": "chg_improvement",
        "covar": ["ecr_anxiety", "ecr_avoidance"],
    }
    plan = {
        "hypotheses": [
            {"id": "C1", "test": "correlate", "x": "constant", "y": "chg_improvement"},
            {"id": "C2", "test": "compare_groups", "dv": "chg_improvement", "group": "tiny_group"},
            {"id": "C3", "test": "correlate", **too_few, "subset": {"participant_id": four}},
            {"id": "C4", "test": "correlate", "x": "cry_positive_feelings", "y": "chg_improvement"},
        ]
    }
    rep = lc.analyze(data, plan, bootstrap=False)
    for hid in ("C1", "C2", "C3"):
        assert rep.results[hid].verdict == "not run" and rep.results[hid].error
    assert rep.results["C4"].verdict in ("significant", "not significant")


def test_it_shows_why_a_hypothesis_did_not_run_in_the_report(study, tmp_path) -> None:
    data = study.copy()
    data["constant"] = 1.0
    plan = {"hypotheses": [{"id": "C1", "test": "correlate", "x": "constant", "y": "chg_improvement"}]}
    path = lc.analyze(data, plan, bootstrap=False).to_html(tmp_path / "r.html")
    assert "C1 was not run" in path.read_text(encoding="utf-8")


def test_it_handles_an_empty_cell_in_a_crosstab_hypothesis(study) -> None:
    data = study.copy()
    data.loc[data["gender"] == "woman", "cried_in_therapy"] = 1
    plan = {
        "hypotheses": [
            {"id": "G2", "test": "crosstab", "a": "gender", "b": "cried_in_therapy",
             "levels": {"gender": ["man", "woman"]}, "expect": "positive"},
        ]
    }  # fmt: skip
    g2 = lc.analyze(data, plan, bootstrap=False).results["G2"]
    assert g2.error is None and g2.estimate > 1 and np.isfinite(g2.ci[1])
    assert any("Haldane" in w for w in g2.warnings)
