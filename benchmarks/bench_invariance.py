"""Benchmark lacrima.invariance against lavaan side by side (not a test).

Run from the repository root::

    python benchmarks/bench_invariance.py              # both data sets, 7 repetitions
    python benchmarks/bench_invariance.py --reps 3     # quicker

The DESIGN.md target: multi-group CFA with 3 groups, 3 factors and 9 indicators no slower than lavaan,
chi-square within 1e-3; the issue asks the same of each invariance step. The model is the
Holzinger-Swineford three-factor model (visual, textual, speed on x1..x9), on two data sets:

- ``hs3``: HolzingerSwineford1939 (tests/reference/data/holzinger.csv, N = 301) in 3 groups: Pasteur boys,
  Pasteur girls, Grant-White (74, 82 and 145 children);
- ``sim3x300``: 3 groups of 300 drawn (multivariate normal, seeded) from the moments implied by
  lacrima's configural fit to ``hs3``, so each group keeps its own loadings, intercepts and variances.

For each data set and step (configural, metric, scalar, strict) lacrima fits the step from scratch with
``invariance(df, model, "group", steps=(step,))`` in this process, after a warm-up fit, ``--reps`` times;
the median is reported. The four steps in a row (``invariance(df, model, "group")``, which starts each step
from the previous one's estimates) are timed the same way. lavaan does the same inside one Rscript
(benchmarks/bench_invariance.R: ``cfa(model, data, group = "group", group.equal = ...)``, timed with
proc.time() after a warm-up fit, so R start-up and loading lavaan are not counted). The whole process
(interpreter start-up, imports, reading the CSV, the four steps once) is also timed for both, as the
median of ``--process-reps`` runs, with the time each process spends loading its libraries. Prints
per-step times, lavaan/lacrima ratios, chi-square differences and the largest difference in parameter
estimates, and writes benchmarks/results/invariance.json.
Without Rscript on the PATH only lacrima is timed (said so in the output and the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lacrima.crosscultural.cfa import CFAResult
from lacrima.crosscultural.invariance import STEPS, invariance

HERE = Path(__file__).resolve().parent
HOLZINGER = HERE.parent / "tests" / "reference" / "data" / "holzinger.csv"
MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
INDICATORS = [f"x{i}" for i in range(1, 10)]
FACTORS = ["visual", "textual", "speed"]


def holzinger_three_groups() -> pd.DataFrame:
    """HolzingerSwineford1939 with a 3-level group: school x sex, Grant-White's two sexes merged."""
    hs = pd.read_csv(HOLZINGER)
    group = np.where(hs["school"] == "Grant-White", "Grant-White", hs["school_sex"])
    return pd.DataFrame({"group": group, **{x: hs[x] for x in INDICATORS}})


def implied_moments(fit: CFAResult, group: str) -> tuple[np.ndarray, np.ndarray]:
    """Model-implied mean vector and covariance matrix of one group, from the public estimates table."""
    est = fit.table()
    est = est[est["group"] == group]
    lam = np.zeros((len(INDICATORS), len(FACTORS)))
    phi = np.zeros((len(FACTORS), len(FACTORS)))
    theta = np.zeros((len(INDICATORS), len(INDICATORS)))
    nu = np.zeros(len(INDICATORS))
    kappa = np.zeros(len(FACTORS))
    for lhs, op, rhs, value in zip(est["lhs"], est["op"], est["rhs"], est["estimate"], strict=True):
        if op == "=~":
            lam[INDICATORS.index(rhs), FACTORS.index(lhs)] = value
        elif op == "~~" and lhs in FACTORS:
            i, j = FACTORS.index(lhs), FACTORS.index(rhs)
            phi[i, j] = phi[j, i] = value
        elif op == "~~":
            i, j = INDICATORS.index(lhs), INDICATORS.index(rhs)
            theta[i, j] = theta[j, i] = value
        elif op == "~1" and lhs in FACTORS:
            kappa[FACTORS.index(lhs)] = value
        elif op == "~1":
            nu[INDICATORS.index(lhs)] = value
    return nu + lam @ kappa, lam @ phi @ lam.T + theta


def simulate_three_groups(hs3: pd.DataFrame, n_per_group: int, seed: int) -> pd.DataFrame:
    """Draw n_per_group cases per group from the moments implied by the configural fit to hs3."""
    fit = invariance(hs3, MODEL, "group", steps=("configural",)).fits["configural"]
    rng = np.random.default_rng(seed)
    parts = []
    for g in fit.groups:
        mean, cov = implied_moments(fit, g)
        draws = rng.multivariate_normal(mean, cov, size=n_per_group)
        parts.append(pd.DataFrame({"group": g, **dict(zip(INDICATORS, draws.T, strict=True))}))
    return pd.concat(parts, ignore_index=True)


def _median_time(fn: Any, reps: int) -> tuple[float, list[float], Any]:
    times = []
    out = None
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, out


def bench_lacrima(df: pd.DataFrame, reps: int) -> dict[str, Any]:
    """Per-step and four-step timings of lacrima on one data set (after a warm-up fit)."""
    invariance(df, MODEL, "group")
    out: dict[str, Any] = {"steps": {}}
    for step in STEPS:
        med, times, res = _median_time(lambda s=step: invariance(df, MODEL, "group", steps=(s,)), reps)
        fit = res.fits[step]
        out["steps"][step] = {
            "median_seconds": med,
            "seconds": times,
            "iterations": fit.iterations,
            "converged": fit.converged,
            "measures": fit.fit_measures(),
            "_fit": fit,
        }
    med, times, chain = _median_time(lambda: invariance(df, MODEL, "group"), reps)
    out["chain_median_seconds"] = med
    out["chain_seconds"] = times
    out["chain_chisq"] = {s: chain.fits[s].chisq for s in STEPS}
    return out


def compare_estimates(fit: CFAResult, lavaan: dict[str, Any]) -> dict[str, float]:
    """Largest absolute differences of estimates and standard errors, matched on (group, lhs, op, rhs)."""
    ours = fit.table()[["group", "lhs", "op", "rhs", "estimate", "se"]]
    theirs = pd.DataFrame(lavaan["estimates"]).fillna({"rhs": ""})
    theirs = theirs[theirs["op"].isin(["=~", "~~", "~1"])]
    merged = ours.merge(theirs, on=["group", "lhs", "op", "rhs"], how="inner")
    free = merged["se_x"].notna() & merged["se_y"].gt(0)
    return {
        "matched_parameters": len(merged),
        "lavaan_parameters": len(theirs),
        "max_abs_diff_estimate": float(np.max(np.abs(merged["estimate"] - merged["est"]))),
        "max_abs_diff_se": float(np.max(np.abs(merged.loc[free, "se_x"] - merged.loc[free, "se_y"]))),
    }


def process_time(cmd: list[str], reps: int, timeout: float) -> dict[str, float]:
    """Median wall-clock time of a whole process, and of the phases it reports as JSON on stdout."""
    totals = []
    phases: dict[str, list[float]] = {}
    for _ in range(reps):
        start = time.perf_counter()
        done = subprocess.run(cmd, check=True, timeout=timeout, capture_output=True, text=True)
        totals.append(time.perf_counter() - start)
        for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
            phases.setdefault(key, []).append(float(value))
    out = {"total_seconds": statistics.median(totals)}
    out.update({f"{key}_seconds": statistics.median(v) for key, v in phases.items()})
    return out


# The Python half of the whole-process timing: imports, reading the CSV and the four steps, once.
ONCE = """
import time
t0 = time.perf_counter()
import json, sys
import pandas as pd
from lacrima.crosscultural.invariance import invariance
t1 = time.perf_counter()
invariance(pd.read_csv(sys.argv[1]), sys.argv[2], "group")
t2 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "read_and_fit": t2 - t1}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=7, help="repetitions per timing (median reported)")
    parser.add_argument("--process-reps", type=int, default=3, help="repetitions of whole-process runs")
    parser.add_argument("--n-per-group", type=int, default=300, help="cases per group in sim3x300")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for each Rscript run")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "invariance.json")
    args = parser.parse_args()

    hs3 = holzinger_three_groups()
    sets = {"hs3": hs3, "sim3x300": simulate_three_groups(hs3, args.n_per_group, args.seed)}
    result: dict[str, Any] = {
        "model": MODEL,
        "reps": args.reps,
        "seed": args.seed,
        "cpu_count": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()),
        "data": {},
    }
    rscript = shutil.which("Rscript")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, df in sets.items():
            paths[name] = Path(tmp, f"{name}.csv")
            df.to_csv(paths[name], index=False)
        ours = {}
        for name, path in paths.items():
            # Fit what R reads, so both sides see the same numbers.
            df = pd.read_csv(path)
            ours[name] = bench_lacrima(df, args.reps)
            result["data"][name] = {
                "groups": {str(k): int(v) for k, v in df["group"].value_counts(sort=False).items()},
                "lacrima": ours[name],
            }
        result["loadavg_after_lacrima"] = list(os.getloadavg())
        if rscript is None:
            print("Rscript not found on the PATH: lavaan not run, lacrima timings only")
            result["lavaan"] = "skipped: Rscript not found"
        else:
            r_json = Path(tmp, "lavaan.json")
            specs = [f"{name}={path}" for name, path in paths.items()]
            cmd = [rscript, str(HERE / "bench_invariance.R"), "bench", str(r_json), str(args.reps), *specs]
            subprocess.run(cmd, check=True, timeout=args.timeout)
            r = json.loads(r_json.read_text())
            result["r_version"] = r["r_version"]
            result["lavaan_version"] = r["lavaan"]
            result["loadavg_after_lavaan"] = list(os.getloadavg())
            for name in paths:
                rd = r["data"][name]
                entry = result["data"][name]
                entry["lavaan"] = {
                    "chain_median_seconds": rd["chain_median_seconds"],
                    "chain_seconds": rd["chain_seconds"],
                    "steps": {
                        s: {k: v for k, v in rd["steps"][s].items() if k != "estimates"} for s in STEPS
                    },
                }
                comparison: dict[str, Any] = {}
                for s in STEPS:
                    mine = ours[name]["steps"][s]
                    theirs = rd["steps"][s]
                    comparison[s] = {
                        "ratio_lavaan_over_lacrima": theirs["median_seconds"] / mine["median_seconds"],
                        "chisq_diff": mine["measures"]["chisq"] - theirs["measures"]["chisq"],
                        "chain_chisq_diff": ours[name]["chain_chisq"][s] - theirs["measures"]["chisq"],
                        "df_diff": mine["measures"]["df"] - theirs["measures"]["df"],
                        "cfi_diff": mine["measures"]["cfi"] - theirs["measures"]["cfi"],
                        "rmsea_diff": mine["measures"]["rmsea"] - theirs["measures"]["rmsea"],
                        "srmr_diff": mine["measures"]["srmr"] - theirs["measures"]["srmr"],
                        **compare_estimates(mine["_fit"], theirs),
                    }
                comparison["chain_ratio_lavaan_over_lacrima"] = (
                    rd["chain_median_seconds"] / ours[name]["chain_median_seconds"]
                )
                entry["comparison"] = comparison
        # Whole processes: start-up, imports, reading the CSV and the four steps once.
        process: dict[str, Any] = {"data": "hs3", "reps": args.process_reps}
        process["lacrima"] = process_time(
            [sys.executable, "-c", ONCE, str(paths["hs3"]), MODEL], args.process_reps, args.timeout
        )
        if rscript is not None:
            process["lavaan"] = process_time(
                [rscript, str(HERE / "bench_invariance.R"), "once", str(paths["hs3"])],
                args.process_reps,
                args.timeout,
            )
            process["ratio_lavaan_over_lacrima"] = (
                process["lavaan"]["total_seconds"] / process["lacrima"]["total_seconds"]
            )
        result["whole_process"] = process
    result["loadavg_end"] = list(os.getloadavg())
    for entry in result["data"].values():
        for step in entry["lacrima"]["steps"].values():
            step.pop("_fit")
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def report(result: dict[str, Any]) -> None:
    print(
        f"model: {result['model']!r}  reps: {result['reps']}  "
        f"load average at start: {result['loadavg_start']}"
    )
    for name, entry in result["data"].items():
        print(f"\n{name}: groups {entry['groups']}")
        print(
            f"{'step':<11}{'lacrima s':>11}{'lavaan s':>11}{'ratio':>8}{'chisq diff':>13}"
            f"{'max |est diff|':>16}"
        )
        for s in STEPS:
            mine = entry["lacrima"]["steps"][s]["median_seconds"]
            if "comparison" in entry:
                c = entry["comparison"][s]
                theirs = entry["lavaan"]["steps"][s]["median_seconds"]
                print(
                    f"{s:<11}{mine:>11.4f}{theirs:>11.4f}{c['ratio_lavaan_over_lacrima']:>8.2f}"
                    f"{c['chisq_diff']:>13.2e}{c['max_abs_diff_estimate']:>16.2e}"
                )
            else:
                print(f"{s:<11}{mine:>11.4f}")
        chain = entry["lacrima"]["chain_median_seconds"]
        if "comparison" in entry:
            lav = entry["lavaan"]["chain_median_seconds"]
            ratio = entry["comparison"]["chain_ratio_lavaan_over_lacrima"]
            print(f"{'4 steps':<11}{chain:>11.4f}{lav:>11.4f}{ratio:>8.2f}")
        else:
            print(f"{'4 steps':<11}{chain:>11.4f}")
    proc = result["whole_process"]
    print("\nwhole process (hs3, four steps once; medians, seconds):")
    for name in ("lacrima", "lavaan"):
        if name in proc:
            print(f"  {name}: " + ", ".join(f"{k[:-8]} {v:.2f}" for k, v in proc[name].items()))
    if "ratio_lavaan_over_lacrima" in proc:
        print(f"  ratio lavaan/lacrima: {proc['ratio_lavaan_over_lacrima']:.2f}")
    print(f"load average at end: {result['loadavg_end']}")


if __name__ == "__main__":
    main()
