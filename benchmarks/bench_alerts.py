"""Alert-rule benchmark: each rule's sensitivity and false alarms on planted trajectories, and the time of
an expected-recovery refit for an archive of 2,000 clients side by side with lme4 (not a test).

Run from the repository root::

    python benchmarks/bench_alerts.py                  # 1,000 planted clients, archive of 2,000, 5 repeats
    python benchmarks/bench_alerts.py --clients 300 --repeats 3      # quicker

What it does:

1. Simulates ``--clients`` clients with ``lc.simulate_sessions(..., plant=PLANT)`` (one planted event per
   client for 60% of them: alliance ruptures, half repaired; difficult crying; symptom deterioration of
   8 PHQ-9 points; PHQ-9 item 9 risk answers; runs of 3 missed check-ins) and evaluates every client
   with ``fb.evaluate_many``. Sensitivity = planted events found by the matching rule (windows in
   ``lacrima/feedback/_performance.py``); false alarms = alerts of each kind in the clients with nothing
   planted, per 100 of their scheduled sessions. Four configurations: the shipped defaults with the
   default expected-recovery trajectory; the defaults with expected recovery fitted to a separate clean
   archive (``fb.fit_expected_recovery``, the configuration a clinic with an archive runs); and the
   rupture criterion at 2.5 SD and at the 1 SD of Strauss et al. (2006) instead of 2 SD.
2. Simulates an archive of 2,000 clients (10-30 weekly sessions, PHQ-9 at session 1 and every 4 sessions)
   and times ``fb.fit_expected_recovery(archive, "phq9")`` (scoring the raw items with ``lc.score``,
   finding intakes, ``lc.mixed`` with ``y ~ lt * xc + (1 + lt | client_id)``), median of ``--repeats``.
   The same model is fitted by lme4 (``lmer``, REML) on the same rows in R in the same run, timed inside
   R (the fit alone) and as a whole ``Rscript`` process; the fixed effects are compared.

Design goal (issue 11): the refit stays under 5 s. Results go to benchmarks/results/alerts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import lacrima as lc  # noqa: E402
from lacrima import feedback as fb  # noqa: E402

PLANT = {"rupture": 0.15, "difficult_crying": 0.15, "deterioration": 0.1, "risk": 0.1, "missed": 0.1}

R_FIT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
times <- c()
for (i in seq_len(as.integer(args[3]))) {
  t <- system.time(fit <- lmer(y ~ lt * xc + (1 + lt | client_id), data = d, REML = TRUE))
  times <- c(times, t[["elapsed"]])
}
write_json(list(times = times, fixef = as.list(fixef(fit)), lme4 = as.character(packageVersion("lme4"))),
           args[2], digits = NA, auto_unbox = TRUE)
"""


def _load() -> list[float]:
    return list(os.getloadavg())


def performance(n_clients: int, seed: int) -> dict[str, Any]:
    sim = lc.simulate_sessions(n_clients, max(5, n_clients // 20), (10, 30), seed=seed, plant=PLANT)
    archive = lc.simulate_sessions(2000, 80, (10, 30), seed=seed + 1, plant={"symptoms": True}).data
    fitted = {m: fb.fit_expected_recovery(archive, m) for m in ("phq9", "gad7")}
    configs = {
        "defaults, default trajectory": (fb.load_rules(), None),
        "defaults, trajectory fitted to a 2,000-client archive": (fb.load_rules(), fitted),
        "rupture at 2.5 SD, fitted trajectory": (
            fb.load_rules({"alliance-rupture": {"k_sd": 2.5}}),
            fitted,
        ),
        "rupture at 1 SD (Strauss et al.), fitted trajectory": (
            fb.load_rules({"alliance-rupture": {"k_sd": 1.0}}),
            fitted,
        ),
    }
    out: dict[str, Any] = {"n_clients": n_clients, "seed": seed, "plant": PLANT, "configs": {}}
    for name, (rules, expected) in configs.items():
        t0 = time.perf_counter()
        perf = fb.rule_performance(sim, rules=rules, expected=expected)
        seconds = time.perf_counter() - t0
        out["configs"][name] = {
            "table": perf.table().to_dict(orient="records"),
            "n_clean_clients": perf.n_clean_clients,
            "n_clean_sessions": perf.n_clean_sessions,
            "evaluate_seconds": seconds,
        }
    out["n_sessions"] = len(sim.data)
    return out


def refit(repeats: int, seed: int) -> dict[str, Any]:
    archive = lc.simulate_sessions(2000, 80, (10, 30), seed=seed, plant={"symptoms": True}).data
    times = []
    exp = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        exp = fb.fit_expected_recovery(archive, "phq9")
        times.append(time.perf_counter() - t0)
    assert exp is not None and not exp.is_default
    result: dict[str, Any] = {
        "n_clients": exp.n_clients,
        "n_rows": len(archive),
        "n_measurements_fitted": exp.n_measurements,
        "lacrima_seconds": times,
        "lacrima_median": float(np.median(times)),
        "fixef": dict(exp.coef),
        "note": exp.note,
    }
    rscript = shutil.which("Rscript")
    if rscript is None:
        result["r"] = "skipped: Rscript not found"
        return result
    # the rows lc.mixed fitted, for lme4: intake = first measurement, later measurements, lt and xc
    scores = lc.score(archive[[f"phq_{i:02d}" for i in range(1, 10)]].dropna(), "phq9")["phq_total"]
    d = archive.loc[scores.index, ["client_id", "session"]].assign(y=scores.to_numpy())
    d = d.sort_values(["client_id", "session"], kind="stable")
    first = d.groupby("client_id").head(1).set_index("client_id")
    d = d[d["session"] > d["client_id"].map(first["session"])]
    d = d.assign(lt=np.log(d["session"].astype(float)), xc=d["client_id"].map(first["y"]) - exp.intake_centre)
    with tempfile.TemporaryDirectory() as tmp:
        csv, js, script = Path(tmp) / "d.csv", Path(tmp) / "out.json", Path(tmp) / "fit.R"
        d.to_csv(csv, index=False)
        script.write_text(R_FIT)
        t0 = time.perf_counter()
        subprocess.run([rscript, str(script), str(csv), str(js), str(repeats)], check=True)
        process = time.perf_counter() - t0
        r = json.loads(js.read_text())
    result["r"] = {
        "lme4": r["lme4"],
        "fit_seconds": r["times"],
        "fit_median": float(np.median(r["times"])),
        "process_seconds": process,
        "fixef": r["fixef"],
        "max_rel_diff_fixef": max(abs(exp.coef[k] - v) / max(abs(v), 1e-12) for k, v in r["fixef"].items()),
    }
    result["ratio_lme4_fit_over_lacrima"] = result["r"]["fit_median"] / result["lacrima_median"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    load_before = _load()
    perf = performance(args.clients, args.seed)
    fit = refit(args.repeats, args.seed + 7)
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "load_average_before": load_before,
        "load_average_after": _load(),
        "performance": perf,
        "refit": fit,
        "command": " ".join(["python", "benchmarks/bench_alerts.py", *sys.argv[1:]]),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "alerts.json").write_text(json.dumps(results, indent=2, default=float))
    for name, cfg in perf["configs"].items():
        print(
            f"\n{name}: {perf['n_clients']} clients, {cfg['n_clean_clients']} with nothing planted "
            f"({cfg['n_clean_sessions']} sessions); evaluated in {cfg['evaluate_seconds']:.1f} s"
        )
        print(
            f"{'rule':18} {'planted':>8} {'found':>6} {'sensitivity':>12} {'false alarms':>13} {'per 100':>8}"
        )
        for row in cfg["table"]:
            print(
                f"{row['kind']:18} {row['planted']:8d} {row['found']:6d} {row['sensitivity']:12.3f} "
                f"{row['false_alarms']:13d} {row['false_alarms_per_100']:8.2f}"
            )
    print(
        f"\nexpected-recovery refit, {fit['n_clients']} clients "
        f"({fit['n_measurements_fitted']} measurements): "
        f"lacrima median {fit['lacrima_median']:.2f} s over {len(fit['lacrima_seconds'])} runs"
    )
    if isinstance(fit.get("r"), dict):
        r = fit["r"]
        print(
            f"lme4 {r['lme4']} lmer alone median {r['fit_median']:.2f} s "
            f"(Rscript process {r['process_seconds']:.1f} s); "
            f"fixed effects agree to {r['max_rel_diff_fixef']:.1e} (relative)"
        )
    print(f"load average before/after: {load_before} / {results['load_average_after']}")


if __name__ == "__main__":
    main()
