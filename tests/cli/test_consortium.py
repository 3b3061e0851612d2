"""``lacrima site-summary`` and ``lacrima pool`` end to end: a simulated three-site study, one summary per
site through the command line, pooled results compared with the concatenated raw rows."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import typer
from typer.testing import CliRunner

import lacrima as lc
from lacrima.analysis.plan import load_plan
from lacrima.cli._consortium import register
from lacrima.crosscultural._fed_schema import REQUIRED
from lacrima.crosscultural.federated import pool_summaries, read_site_summary
from lacrima.io import read_table

SITES = ["italy", "israel", "us"]
DOC = Path(__file__).resolve().parents[2] / "docs" / "consortium.md"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


APP = _app()
RUNNER = CliRunner()


def _run(*args: str) -> Any:
    return RUNNER.invoke(APP, [str(a) for a in args])


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the command-line section of docs/consortium.md as written (Python blocks and ``lacrima``
    commands, in order) in a scratch directory: three sites of lc.simulate_study(seed=2026), one
    site-summary per site, then pool."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- section: cli -->", 1)[1].split("<!-- end section: cli -->", 1)[0]
    blocks = re.findall(r"```(python|console)\n(.*?)```", section, flags=re.S)
    work = tmp_path_factory.mktemp("consortium")
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    outputs: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        for kind, code in blocks:
            if kind == "python":
                exec(compile(code, str(DOC), "exec"), namespace)
                continue
            for line in code.replace("\\\n", " ").splitlines():
                args = shlex.split(line)
                assert args[0] == "lacrima"
                result = RUNNER.invoke(APP, args[1:])
                assert result.exit_code == 0, result.output
                key = args[args.index("--site") + 1] if "--site" in args else args[1]
                outputs[key] = result.output
    assert set(outputs) == {*SITES, "pool"}
    assert namespace["h1"]["id"] == "H1"
    return {"root": work / "cli-demo", "site_output": outputs, "pool_output": outputs["pool"]}


@pytest.fixture(scope="module")
def raw(study: dict[str, Any]) -> pd.DataFrame:
    """The concatenated raw rows, read and scored exactly as a site does."""
    frame = pd.concat([read_table(study["root"] / f"{s}.csv").data for s in SITES], ignore_index=True)
    return frame.join(lc.score_all(frame).scores)


def _partial_r(rows: pd.DataFrame, x: str, y: str, covar: list[str]) -> float:
    if not covar:
        return float(np.corrcoef(rows[x], rows[y])[0, 1])
    Z = np.column_stack([np.ones(len(rows)), rows[covar].to_numpy()])
    ex = rows[x].to_numpy() - Z @ np.linalg.lstsq(Z, rows[x].to_numpy(), rcond=None)[0]
    ey = rows[y].to_numpy() - Z @ np.linalg.lstsq(Z, rows[y].to_numpy(), rcond=None)[0]
    return float(np.corrcoef(ex, ey)[0, 1])


def test_it_pools_exactly_like_the_concatenated_raw_rows(study: dict[str, Any], raw: pd.DataFrame) -> None:
    root = study["root"]
    pooled = json.loads((root / "pooled.json").read_text(encoding="utf-8"))
    variables = pooled["variables"]
    rows = raw[raw["cried_in_therapy"] == 1].dropna(subset=variables)
    assert pooled["n"] == len(rows)
    ids = [c["id"] for c in pooled["correlations"]]
    plan_ids = [h.id for h in load_plan().hypotheses if h.test == "correlate"]
    assert ids == plan_ids
    for c in pooled["correlations"]:
        expected = _partial_r(rows, c["x"], c["y"], c["covar"])
        assert c["r"] == pytest.approx(expected, abs=1e-10), c["id"]
        assert c["n"] == len(rows)
        # p of the partial correlation = p of x in lm(y ~ x + covar) on the raw rows
        fit = sm.OLS(rows[c["y"]], sm.add_constant(rows[[c["x"], *c["covar"]]])).fit()
        assert c["p"] == pytest.approx(float(fit.pvalues[c["x"]]), rel=1e-8), c["id"]
    means = {d["variable"]: d["mean"] for d in pooled["descriptives"]}
    for v in variables:
        assert means[v] == pytest.approx(float(rows[v].mean()), abs=1e-10)


def test_it_gives_each_sites_effect_from_its_raw_rows(study: dict[str, Any], raw: pd.DataFrame) -> None:
    root = study["root"]
    pooled = json.loads((root / "pooled.json").read_text(encoding="utf-8"))
    rows = raw[raw["cried_in_therapy"] == 1].dropna(subset=pooled["variables"])
    corr = {c["id"]: c for c in pooled["correlations"]}
    assert len(pooled["site_effects"]) == len(corr) * len(SITES)
    for e in pooled["site_effects"]:
        c = corr[e["id"]]
        site_rows = rows[rows["site"] == e["site"]]
        assert e["n"] == len(site_rows)
        assert e["r"] == pytest.approx(_partial_r(site_rows, c["x"], c["y"], c["covar"]), abs=1e-10)


def test_it_meta_analyses_like_the_library(study: dict[str, Any]) -> None:
    root = study["root"]
    pooled_json = json.loads((root / "pooled.json").read_text(encoding="utf-8"))
    pooled = pool_summaries([read_site_summary(root / f"{s}.json") for s in SITES])
    metas = {m["id"]: m for m in pooled_json["meta"]}
    assert set(metas) == {c["id"] for c in pooled_json["correlations"]}
    for hid in ("H1", "H2a", "H5b"):
        lib = pooled.effect_meta(hid)
        assert metas[hid]["estimate"] == pytest.approx(lib.estimate, abs=1e-12)
        assert metas[hid]["tau2"] == pytest.approx(lib.tau2, abs=1e-12)
        assert metas[hid]["q"] == pytest.approx(lib.q, abs=1e-10)


def test_it_summarises_the_plan_variables_over_criers_only(study: dict[str, Any]) -> None:
    root = study["root"]
    summary = read_site_summary(root / "italy.json")
    needed: list[str] = []
    for h in load_plan().hypotheses:
        if h.test == "correlate":
            needed.extend([h.columns["x"], h.columns["y"], *h.columns.get("covar", ())])
    assert list(summary["variables"]) == list(dict.fromkeys(needed))
    assert summary["counts"]["cried_in_therapy"] == {"1": summary["n"]}
    assert set(summary["effects"]) == {"H1", "H2a", "H2b", "H2c", "H5a", "H5b", "H5c", "H5d"}
    out = study["site_output"]["italy"]
    assert f"{summary['n']} rows summarised" in out
    assert "suppressed cells" in out and "variables: cry_positive_feelings" in out


def test_it_writes_no_row_level_data(study: dict[str, Any], raw: pd.DataFrame) -> None:
    root = study["root"]
    for site in SITES:
        text = (root / f"{site}.json").read_text(encoding="utf-8")
        summary = json.loads(text)
        assert set(summary) == set(REQUIRED)
        p = len(summary["variables"])
        assert len(summary["means"]) == p and len(summary["cov"]) == p
        assert all(len(row) == p for row in summary["cov"])
        site_rows = raw[raw["site"] == site]
        assert not any(pid in text for pid in site_rows["participant_id"].astype(str))
        for col in ("participant_id", "age", "country"):
            assert f'"{col}"' not in text
        shared = {float(v) for v in summary["means"]} | {float(v) for row in summary["cov"] for v in row}
        values = {float(v) for v in site_rows[summary["variables"]].to_numpy().ravel() if v == v}
        assert not shared & values


def test_it_writes_a_complete_html_report(study: dict[str, Any]) -> None:
    root = study["root"]
    html = (root / "pooled.html").read_text(encoding="utf-8")
    text = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    pooled = json.loads((root / "pooled.json").read_text(encoding="utf-8"))
    for title in ("Sites", "Pooled descriptive statistics", "Pooled correlations per hypothesis",
                  "Per-site effects", "Random-effects meta-analysis", "Category counts",
                  "Hypotheses not pooled", "Method"):  # fmt: skip
        assert f">{title}" in text
    assert text.count("<table") == 8
    assert text.count("<figure") == len(pooled["meta"])
    for c in pooled["correlations"]:
        assert f"<td>{c['id']}</td>" in text
    for site in SITES:
        assert f"<td>{site}</td>" in text
    # with seed 2026 a small gender cell is suppressed at a site: the report says so, with no number
    assert pooled["counts"]["gender"]["non_binary"] is None
    assert "<td>suppressed</td>" in text
    assert not re.search(r"\b(NaN|nan|None|null)\b", text)
    assert "https://" not in html and "<script" not in html
    assert f"N = {pooled['n']}" in study["pool_output"]


def _tampered(root: Path, tmp: Path, change: Any) -> Path:
    obj = json.loads((root / "us.json").read_text(encoding="utf-8"))
    change(obj)
    target = tmp / "us.json"
    target.write_text(json.dumps(obj), encoding="utf-8")
    return target


def test_it_rejects_a_summary_with_a_changed_n(study: dict[str, Any], tmp_path: Path) -> None:
    root = study["root"]
    bad = _tampered(root, tmp_path, lambda o: o.update(n=o["n"] + 3))
    res = _run("pool", root / "italy.json", root / "israel.json", bad, "--out", tmp_path / "p.html")
    assert res.exit_code == 2
    assert str(bad) in res.output.replace("\n", "")
    assert "has n =" in res.output and "but the summary's n is" in res.output
    assert not (tmp_path / "p.html").exists()


def test_it_rejects_a_summary_with_another_schema_version(study: dict[str, Any], tmp_path: Path) -> None:
    root = study["root"]
    bad = _tampered(root, tmp_path, lambda o: o.update(version=2))
    res = _run("pool", root / "italy.json", bad, "--out", tmp_path / "p.html")
    assert res.exit_code == 2
    assert "schema version 2" in res.output and "reads version 1" in res.output
    assert "us.json" in res.output


def test_it_rejects_a_summary_with_an_extra_field(study: dict[str, Any], tmp_path: Path) -> None:
    root = study["root"]
    bad = _tampered(root, tmp_path, lambda o: o.update(rows=[[1, 2, 3]]))
    res = _run("pool", root / "italy.json", bad, "--out", tmp_path / "p.html")
    assert res.exit_code == 2
    assert "unexpected field 'rows'" in res.output


def test_it_rejects_a_file_that_is_not_json(study: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    res = _run("pool", study["root"] / "italy.json", bad, "--out", tmp_path / "p.html")
    assert res.exit_code == 2
    assert "broken.json" in res.output and "not valid JSON" in res.output


def test_it_rejects_two_summaries_from_one_site(study: dict[str, Any], tmp_path: Path) -> None:
    root = study["root"]
    res = _run("pool", root / "italy.json", root / "italy.json", "--out", tmp_path / "p.html")
    assert res.exit_code == 2
    assert "more than once" in res.output


def test_it_summarises_the_variables_asked_for(study: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "italy.json"
    res = _run("site-summary", study["root"] / "italy.csv", "--site", "italy", "--variables",
               "cry_positive_feelings,chg_improvement", "--variables", "wai_total", "--out", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = read_site_summary(out)
    assert list(summary["variables"]) == ["cry_positive_feelings", "chg_improvement", "wai_total"]
    assert set(summary["effects"]) == {"H1", "H2a"}


def test_it_refuses_a_plan_whose_hypotheses_select_different_rows(
    study: dict[str, Any], raw: pd.DataFrame, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "hypotheses:\n"
        "  - {id: A, test: correlate, x: cry_positive_feelings, y: chg_improvement,"
        " subset: {cried_in_therapy: 1}}\n"
        "  - {id: B, test: correlate, x: wai_total, y: chg_improvement}\n",
        encoding="utf-8",
    )
    csv = study["root"] / "us.csv"
    res = _run("site-summary", csv, "--site", "us", "--plan", plan, "--out", tmp_path / "us.json")
    assert res.exit_code == 2
    assert "select different rows" in res.output and "--hypotheses" in res.output
    res = _run("site-summary", csv, "--site", "us", "--plan", plan, "--hypotheses", "B",
               "--out", tmp_path / "us.json")  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = read_site_summary(tmp_path / "us.json")
    assert summary["n"] + summary["n_excluded"] == int((raw["site"] == "us").sum())


def test_it_reports_unknown_hypotheses(study: dict[str, Any], tmp_path: Path) -> None:
    res = _run("site-summary", study["root"] / "us.csv", "--site", "us", "--hypotheses", "H9",
               "--out", tmp_path / "us.json")  # fmt: skip
    assert res.exit_code == 2
    assert "H9" in res.output and "not in the plan" in res.output


def test_it_reads_other_formats_the_same_way(study: dict[str, Any], tmp_path: Path) -> None:
    frame = read_table(study["root"] / "us.csv").data
    frame.to_parquet(tmp_path / "us.parquet")
    res = _run("site-summary", tmp_path / "us.parquet", "--site", "us", "--categorical", "gender",
               "--out", tmp_path / "us.json")  # fmt: skip
    assert res.exit_code == 0, res.output
    from_parquet = read_site_summary(tmp_path / "us.json")
    from_csv = read_site_summary(study["root"] / "us.json")
    assert from_parquet["n"] == from_csv["n"]
    assert from_parquet["variables"] == from_csv["variables"]
    assert np.allclose(from_parquet["cov"], from_csv["cov"], rtol=0, atol=1e-12)
    assert from_parquet["counts"] == from_csv["counts"]


def test_it_needs_a_dictionary_for_a_redcap_export(study: dict[str, Any], tmp_path: Path) -> None:
    res = _run("site-summary", study["root"] / "us.csv", "--site", "us", "--format", "redcap",
               "--out", tmp_path / "us.json")  # fmt: skip
    assert res.exit_code == 2
    assert "--dictionary" in res.output
