"""The multi-site battery on simulated data: planted directions, consistency with lc.meta, invariance,
skipped sites and the report section."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import lacrima as lc
from lacrima.crosscultural.multisite import MultiSiteResult, ScaleModel, multisite
from lacrima.errors import DataError
from lacrima.report._html import HtmlReport
from lacrima.report._render_multisite import multisite_section, render_multisite

SITES = ("italy", "israel", "us")


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    # 200 per site gives the planted effects enough power at every site
    return lc.simulate_study(seed=11, n=200).data


@pytest.fixture(scope="module")
def result(study: pd.DataFrame) -> MultiSiteResult:
    return multisite(study)


def _rows(res: MultiSiteResult, hid: str, source: str) -> pd.DataFrame:
    t = res.table()
    return t[(t["hypothesis"] == hid) & (t["source"] == source)]


def test_it_runs_the_battery_at_every_site_and_pooled(result: MultiSiteResult) -> None:
    assert result.sites == SITES
    assert set(result.per_site) == set(SITES)
    t = result.table()
    ids = [h.id for h in result.pooled.plan.hypotheses]
    assert list(dict.fromkeys(t["hypothesis"])) == ids
    for hid in ids:
        assert _rows(result, hid, "site")["label"].tolist() == list(SITES)
        assert len(_rows(result, hid, "pooled")) == 1
    assert result.site_n["n"].tolist() == [200, 200, 200]
    assert t.loc[t["source"] == "pooled", "n"].max() <= 600


def test_it_recovers_the_planted_directions_at_each_site_and_pooled(result: MultiSiteResult) -> None:
    # positive feelings after crying go with improvement (latent r = 0.30, every site)
    h1 = _rows(result, "H1", "site")
    assert (h1["estimate"] > 0).all()
    pooled = _rows(result, "H1", "pooled").iloc[0]
    assert pooled["estimate"] > 0 and pooled["ci_low"] > 0
    meta_row = _rows(result, "H1", "meta").iloc[0]
    assert meta_row["estimate"] > 0 and meta_row["ci_low"] > 0
    # criers improve more (d = 0.35); women are more likely to have cried (log odds +0.8)
    assert _rows(result, "H4", "pooled").iloc[0]["estimate"] > 0
    assert _rows(result, "G2", "pooled").iloc[0]["estimate"] > 1
    assert result.gender_meta is not None and result.gender_meta.estimate > 0


def test_it_meta_analyses_correlations_exactly_as_lc_meta(result: MultiSiteResult) -> None:
    for hid in ("H1", "H2b", "H5a"):
        sites = _rows(result, hid, "site")
        expected = lc.meta(sites["estimate"].to_numpy(), n=sites["n"].to_numpy(), labels=list(SITES))
        got = result.meta[hid]
        assert got.estimate == pytest.approx(expected.estimate, rel=1e-12)
        assert got.ci == pytest.approx(expected.ci, rel=1e-12)
        assert got.tau2 == pytest.approx(expected.tau2, abs=1e-14)
        assert got.q == pytest.approx(expected.q, rel=1e-12)
        assert got.i2 == pytest.approx(expected.i2, abs=1e-10)
        row = _rows(result, hid, "meta").iloc[0]
        assert row["estimate"] == got.estimate
        assert (row["pi_low"], row["pi_high"]) == got.pi
        assert row["k"] == 3 and row["q_p"] == got.q_p


def test_it_meta_analyses_gender_odds_ratios_on_the_log_scale(result: MultiSiteResult) -> None:
    gc = result.gender_crying
    sites = gc[gc["source"] == "site"]
    assert sites["label"].tolist() == list(SITES)
    for _, r in sites.iterrows():
        a, b = r["women_cried"], r["women_n"] - r["women_cried"]
        c, d = r["men_cried"], r["men_n"] - r["men_cried"]
        assert r["odds_ratio"] == pytest.approx(a * d / (b * c), rel=1e-12)
        assert r["se"] == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-12)
    expected = lc.meta(sites["log_or"].to_numpy(), se=sites["se"].to_numpy(), measure="generic")
    assert result.gender_meta is not None
    assert result.gender_meta.estimate == pytest.approx(expected.estimate, rel=1e-12)
    meta_row = gc[gc["source"] == "meta"].iloc[0]
    assert meta_row["odds_ratio"] == pytest.approx(math.exp(expected.estimate), rel=1e-12)
    # the G2 hypothesis (women vs men, cried) is the same comparison
    g2 = _rows(result, "G2", "site")["estimate"].to_numpy()
    assert g2 == pytest.approx(sites["odds_ratio"].to_numpy(), rel=1e-12)


def test_it_does_not_meta_analyse_interaction_coefficients(result: MultiSiteResult) -> None:
    assert "M1" not in result.meta
    assert _rows(result, "M1", "meta").empty
    assert any(n.startswith("M1:") and "not meta-analysed" in n for n in result.notes)


def test_it_tests_invariance_of_the_alliance_across_sites_and_genders(result: MultiSiteResult) -> None:
    summary = result.invariance_summary.set_index(["model", "grouping"])
    wai = summary.loc[("wai_sr", "site")]
    assert wai["groups"] == SITES
    assert wai["level"] in ("configural", "metric", "scalar", "strict")
    steps = result.invariance[
        (result.invariance["model"] == "wai_sr") & (result.invariance["grouping"] == "site")
    ]
    assert steps["step"].tolist() == ["configural", "metric", "scalar", "strict"]
    for col in ("chisq", "df", "cfi", "rmsea", "delta_cfi", "decision"):
        assert col in steps.columns
    assert steps["df"].is_monotonic_increasing
    assert summary.loc[("wai_sr", "gender")]["groups"] == ("woman", "man")
    assert ("crying", "site") in summary.index
    fit = result.invariance_results["wai_sr by site"]
    assert fit.table()["chisq"].tolist() == steps["chisq"].tolist()


def test_it_licenses_means_only_under_scalar_invariance(result: MultiSiteResult, study: pd.DataFrame) -> None:
    means = result.means
    site_means = means[(means["grouping"] == "site") & (means["scale"] == "wai_bond")]
    assert site_means["group"].tolist() == list(SITES)
    level = result.invariance_summary.set_index(["model", "grouping"]).loc[("wai_sr", "site"), "level"]
    assert (site_means["licensed"] == (level in ("scalar", "strict"))).all()
    data = lc.score(study, "wai_sr")["wai_bond"]
    assert site_means["mean"].iloc[0] == pytest.approx(float(data.iloc[:200].mean()), rel=1e-12)


def test_it_records_a_model_that_cannot_be_fitted(study: pd.DataFrame) -> None:
    models = {
        "absent": "f =~ zz_01 + zz_02 + zz_03",
        "tiny": ScaleModel("tiny", "f =~ wai_01 + wai_02 + wai_03", subset={"age": (-1,)}),
    }
    res = multisite(study, invariance_models=models, by_gender=False)
    summary = res.invariance_summary.set_index("model")
    assert summary.loc["absent", "level"] == "not tested"
    assert "zz_01" in summary.loc["absent", "reason"]
    assert summary.loc["tiny", "level"] == "not tested"
    assert summary.loc["tiny", "reason"]
    assert res.invariance.empty
    assert res.gender_crying.empty and res.gender_meta is None


def test_it_skips_a_site_with_too_few_cases(study: pd.DataFrame) -> None:
    small = study[study["site"] == "us"].head(8).assign(site="malta")
    data = pd.concat([study, small], ignore_index=True)
    res = multisite(data, invariance_models={}, by_gender=False)
    assert res.sites == SITES
    row = res.site_n.set_index("site").loc["malta"]
    assert row["n"] == 8 and not row["analysed"]
    assert any("'malta' was skipped" in n and "min_site_n = 20" in n for n in res.notes)
    assert res.pooled.n_rows == len(data)
    assert "malta" not in set(res.table()["label"])


def test_it_refuses_fewer_than_two_usable_sites(study: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="at least two sites"):
        multisite(study, min_site_n=500, invariance_models={})
    with pytest.raises(DataError, match="no site column"):
        multisite(study, site="centre")


def test_it_renders_a_section_without_missing_values(result: MultiSiteResult) -> None:
    doc = HtmlReport(title="Multi-site")
    render_multisite(result, doc)
    assert [s.title for s in doc.sections] == ["Cross-cultural and multi-site"]
    # site effects, meta-analysis, gender x crying, invariance summary + 4 step tables, 2 means tables
    assert doc.n_tables == 10
    assert doc.n_figures == 1
    page = re.sub(r'src="data:[^"]*"', "", doc.render())
    assert not re.search(r"\b(nan|NaN|None|inf)\b", page)
    assert "Forest plot of H1" in page
    assert "Random-effects meta-analysis of the site effects" in page
    assert "Scale means by site" in page


def test_it_renders_only_when_the_report_has_a_multisite_result(result: MultiSiteResult) -> None:
    doc = HtmlReport(title="r")
    multisite_section(SimpleNamespace(extras={}), doc)  # type: ignore[arg-type]
    assert doc.sections == []
    multisite_section(SimpleNamespace(extras={"multisite": result}), doc)  # type: ignore[arg-type]
    assert len(doc.sections) == 1


def test_it_gives_a_json_ready_summary(result: MultiSiteResult) -> None:
    import json

    d = result.to_dict()
    text = json.dumps(d)
    assert d["sites"] == list(SITES)
    assert "NaN" not in text
    assert np.isfinite([r["estimate"] for r in d["effects"] if r["source"] == "meta"]).all()


def test_it_runs_the_documented_multisite_example() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "crosscultural.md"
    text = doc.read_text()
    assert "<!-- section: invariance -->" in text and "<!-- end section: invariance -->" in text
    section = text.split("<!-- section: multisite -->", 1)[1].split("<!-- end section: multisite -->", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks
    namespace: dict[str, object] = {"__name__": "docs_example", "print": lambda *a, **k: None}
    for block in blocks:
        exec(compile(block, str(doc), "exec"), namespace)
    assert isinstance(namespace["ms"], MultiSiteResult)
