"""The command line: demo, analyze, import, score, instruments."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import lacrima as lc
from lacrima.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "io" / "fixtures"


def test_it_runs_the_demo_end_to_end(tmp_path: Path) -> None:
    """As a user runs it: its own process, so Django is configured for the demo's own database (inside
    pytest, Django is already set up for the test database)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LACRIMA_", "DATABASE_URL"))}
    done = subprocess.run(
        [sys.executable, "-m", "lacrima", "demo", "--out", str(out), "--n-boot", "200"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (out / "demo-credentials.txt").read_text().splitlines()
    users = {line.split()[0] for line in lines if line.strip()}
    assert {"demo-therapist", "demo-therapist-2", "demo-researcher"} <= users
    printed = " ".join(done.stdout.split())
    assert f"lacrima serve --data {out}" in printed and "LACRIMA_DEMO" not in printed
    # that data directory, and only it, runs in demo mode (its accounts skip the second factor)
    probe = "import django; django.setup(); from django.conf import settings; print(settings.LACRIMA_DEMO)"
    for data, expected in ((out, "True"), (tmp_path / "other", "False")):
        mode = subprocess.run(
            [sys.executable, "-c", probe],
            env={**env, "DJANGO_SETTINGS_MODULE": "lacrima.web.settings", "LACRIMA_DATA_DIR": str(data)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert mode.stdout.strip() == expected, mode.stderr
    assert (out / "lacrima.sqlite3").stat().st_size > 10_000
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Replication scorecard" in html and html.count('<svg class="chart"') >= 10
    results = json.loads((out / "results.json").read_text())
    assert results["n"] == len(lc.read_sqlite(out / "lacrima.sqlite3", "respondents"))
    sessions = lc.read_sqlite(out / "lacrima.sqlite3", "sessions")
    assert {"client_id", "therapist_id", "session", "cried"} <= set(sessions.columns)


def test_it_analyses_a_csv_file(tmp_path: Path) -> None:
    data = lc.simulate_study(seed=8).data
    csv = tmp_path / "survey.csv"
    data.to_csv(csv, index=False)
    out = tmp_path / "r.html"
    result = runner.invoke(
        app, ["analyze", str(csv), "--out", str(out), "--no-bootstrap", "--json", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    assert "H1" in result.output and out.exists()
    assert json.loads((tmp_path / "r.json").read_text())["n"] == len(data)


def test_it_reports_bad_input_as_an_error_not_a_traceback(tmp_path: Path) -> None:
    data = lc.simulate_study(seed=8).data.head(30).copy()
    data.loc[data.index[3], "wai_04"] = 9
    csv = tmp_path / "bad.csv"
    data.to_csv(csv, index=False)
    result = runner.invoke(
        app, ["import", str(csv), "--out", str(tmp_path / "x.csv"), "--instrument", "wai_sr"]
    )
    assert result.exit_code == 2
    assert "wai_04" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.csv").exists()
    missing = runner.invoke(app, ["analyze", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r.html")])
    assert missing.exit_code == 2


def test_it_imports_a_redcap_export(tmp_path: Path) -> None:
    out = tmp_path / "redcap.csv"
    result = runner.invoke(
        app,
        ["import", str(FIXTURES / "redcap_classic_data.csv"), "--format", "redcap",
         "--dictionary", str(FIXTURES / "redcap_classic_dictionary.csv"), "--missing-code", "UNK",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) > 0


def test_it_scores_a_file(tmp_path: Path) -> None:
    data = lc.simulate_study(seed=9).data.head(50)
    src = tmp_path / "in.parquet"
    data.to_parquet(src)
    out = tmp_path / "scores.csv"
    result = runner.invoke(app, ["score", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert {"participant_id", "wai_total", "ecr_anxiety", "cry_positive_feelings"} <= set(scores.columns)
    assert "wai_01" not in scores.columns


def test_it_lists_and_shows_instruments() -> None:
    listed = runner.invoke(app, ["instruments", "list"])
    assert listed.exit_code == 0 and "ecr_r" in listed.output and "wai_sr" in listed.output
    shown = runner.invoke(app, ["instruments", "show", "wai_sr"])
    assert shown.exit_code == 0 and "wai_03" in shown.output
    unknown = runner.invoke(app, ["instruments", "show", "nope"])
    assert unknown.exit_code == 2
