"""Benchmark lacrima.meta against metafor::rma side by side (not a test).

Run from the repository root::

    python benchmarks/bench_meta.py                    # shipped data sets, k = 1,000 and k = 10,000
    python benchmarks/bench_meta.py --ks 1000          # skip the slow k = 10,000 run

Data sets: the three metafor data sets shipped in tests/reference/data (dat.molloy2014 correlations with
meta-regression on mean age, dat.normand1999 standardised mean differences, dat.bcg log risk ratios with
meta-regression on absolute latitude) and synthetic data with k studies (seeded; n_i uniform on 20..500,
v_i = 4 / n_i, y_i ~ N(0.3 + 0.1 x_i, 0.04 + v_i), x_i standard normal).

Jobs per data set: REML, DL and PM, each with ``test="z"`` and ``test="knha"``, and a REML
meta-regression with ``test="z"`` and ``"knha"`` (not for normand1999, which has no moderator). For k
above ``--full-k-max`` (default 1,000) only DL with ``test="z"`` runs, once, and metafor's confint()
is skipped: metafor builds k x k matrices, so at k = 10,000 it takes minutes per fit (lacrima works from
weighted sums and small p x p matrices and takes milliseconds).

lacrima runs in this process after a warm-up; metafor runs in one Rscript (benchmarks/bench_meta.R)
after a warm-up fit, so R start-up is not counted. ``lc.meta`` always computes the Q-profile interval of
tau^2; metafor's rma() does not (confint() does), so metafor is timed both as rma() alone and as rma()
plus confint(). Each job is repeated ``--reps`` times (``--large-reps`` for k >= 1,000) and the median is
reported; below k = 1,000 each repetition times ``--inner`` fits in a row and divides by their number.
Both sides fit the same y_i and v_i (lacrima's, written to CSV). Prints times, ratios and the largest
absolute differences of the estimates, and writes benchmarks/results/meta.json. Without Rscript on the
PATH only lacrima is timed (said so in the output and the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lacrima.crosscultural.meta import MetaRegressionResult, MetaResult, Method, Test, meta, smd_from_groups

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "reference" / "data"
JOBS: list[tuple[Method, Test, bool]] = [
    ("REML", "z", False),
    ("REML", "knha", False),
    ("DL", "z", False),
    ("DL", "knha", False),
    ("PM", "z", False),
    ("PM", "knha", False),
    ("REML", "z", True),
    ("REML", "knha", True),
]


def datasets(ks: list[int], seed: int) -> dict[str, dict[str, Any]]:
    """Each data set as the keyword arguments of lc.meta plus an optional moderator."""
    out: dict[str, dict[str, Any]] = {}
    molloy = pd.read_csv(DATA / "meta_molloy2014.csv")
    out["molloy2014"] = {
        "args": {"effects": molloy["ri"], "n": molloy["ni"], "measure": "r"},
        "moderator": molloy["meanage"].to_numpy(dtype=float),
    }
    normand = pd.read_csv(DATA / "meta_normand1999.csv")
    smd = smd_from_groups(
        normand["m1i"], normand["sd1i"], normand["n1i"], normand["m2i"], normand["sd2i"], normand["n2i"]
    )
    out["normand1999"] = {"args": {"effects": smd["g"], "se": smd["se"], "measure": "smd"}, "moderator": None}
    bcg = pd.read_csv(DATA / "meta_bcg.csv")
    log_rr = np.log((bcg["tpos"] / (bcg["tpos"] + bcg["tneg"])) / (bcg["cpos"] / (bcg["cpos"] + bcg["cneg"])))
    v_rr = (
        1 / bcg["tpos"] - 1 / (bcg["tpos"] + bcg["tneg"]) + 1 / bcg["cpos"] - 1 / (bcg["cpos"] + bcg["cneg"])
    )
    out["bcg"] = {
        "args": {"effects": log_rr, "se": np.sqrt(v_rr), "measure": "generic"},
        "moderator": bcg["ablat"].to_numpy(dtype=float),
    }
    rng = np.random.default_rng(seed)
    for k in ks:
        n = rng.integers(20, 501, size=k)
        vi = 4.0 / n
        x = rng.normal(size=k)
        yi = rng.normal(0.3 + 0.1 * x, np.sqrt(0.04 + vi))
        out[f"synthetic_k{k}"] = {
            "args": {"effects": yi, "se": np.sqrt(vi), "measure": "generic"},
            "moderator": x,
        }
    return out


def run_lacrima(
    spec: dict[str, Any], method: Method, test: Test, mods: bool
) -> MetaResult | MetaRegressionResult:
    a = spec["args"]
    effects, n, se, measure = a["effects"], a.get("n"), a.get("se"), a["measure"]
    if mods:
        moderators = pd.DataFrame({"x": spec["moderator"]})
        return meta(effects, n, se, measure, method, test, moderators=moderators)
    return meta(effects, n, se, measure, method, test)


def timed(
    spec: dict[str, Any], method: Method, test: Test, mods: bool, reps: int, inner: int
) -> tuple[list[float], MetaResult | MetaRegressionResult]:
    """Seconds per fit (mean of ``inner`` fits in a row) in each of ``reps`` repetitions; the last fit."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            res = run_lacrima(spec, method, test, mods)
        times.append((time.perf_counter() - start) / inner)
    return times, res


def summary(res: MetaResult | MetaRegressionResult) -> dict[str, Any]:
    if isinstance(res, MetaRegressionResult):
        b = res.coefficients["estimate"].tolist()
        se = res.coefficients["se"].tolist()
        qm: float | None = res.qm
    else:
        b, se, qm = [res.estimate_z], [res.se_z], None
    return {"b": b, "se": se, "tau2": res.tau2, "tau2_ci": res.tau2_ci, "I2": res.i2, "QE": res.q, "QM": qm}


def differences(ours: dict[str, Any], r: dict[str, Any]) -> dict[str, float]:
    """Largest absolute differences between lacrima and metafor."""
    rb = np.atleast_1d(np.asarray(r["b"], dtype=float))
    rse = np.atleast_1d(np.asarray(r["se"], dtype=float))
    out = {
        "max_abs_diff_b": float(np.max(np.abs(np.asarray(ours["b"]) - rb))),
        "max_abs_diff_se": float(np.max(np.abs(np.asarray(ours["se"]) - rse))),
        "abs_diff_tau2": abs(ours["tau2"] - r["tau2"]),
        "abs_diff_I2": abs(ours["I2"] - r["I2"]),
        "abs_diff_QE": abs(ours["QE"] - r["QE"]),
    }
    if ours["QM"] is not None:
        out["abs_diff_QM"] = abs(ours["QM"] - r["QM"])
    if "tau2_ci" in r and ours["tau2_ci"] is not None:
        out["max_abs_diff_tau2_ci"] = float(
            np.max(np.abs(np.asarray(ours["tau2_ci"]) - np.asarray(r["tau2_ci"])))
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ks", type=int, nargs="*", default=[1000, 10000], help="synthetic numbers of studies"
    )
    parser.add_argument("--full-k-max", type=int, default=1000, help="largest k that runs every job")
    parser.add_argument("--reps", type=int, default=7, help="repetitions on the shipped data sets")
    parser.add_argument(
        "--large-reps", type=int, default=3, help="repetitions for k >= 1,000 (1 above full-k-max)"
    )
    parser.add_argument("--inner", type=int, default=20, help="fits per timed run for k < 1,000")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed for the Rscript run")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "meta.json")
    args = parser.parse_args()

    sets = datasets(args.ks, args.seed)
    result: dict[str, Any] = {
        "seed": args.seed,
        "cpu_count": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()),
        "jobs": {},
    }
    for method, test, mods in JOBS:  # warm-up: first-call costs of numpy/scipy are one-off
        run_lacrima(sets["bcg"], method, test, mods)
    rscript = shutil.which("Rscript")
    r_jobs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in sets.items():
            k = len(spec["args"]["effects"])
            full = k <= args.full_k_max
            reps = args.reps if k < 1000 else (args.large_reps if full else 1)
            # a fit on a few dozen studies takes milliseconds: time `inner` fits in a row (R ticks in ms)
            inner = args.inner if k < 1000 else 1
            jobs: list[tuple[Method, Test, bool]] = JOBS if full else [("DL", "z", False)]
            csv = Path(tmp, f"{name}.csv")
            for method, test, mods in jobs:
                if mods and spec["moderator"] is None:
                    continue
                job = f"{name}/{method}/{test}" + ("/mods" if mods else "")
                times, res = timed(spec, method, test, mods, reps, inner)
                if not csv.exists():
                    frame = pd.DataFrame({"yi": res.yi, "vi": res.vi})
                    if spec["moderator"] is not None:
                        frame["x"] = spec["moderator"]
                    frame.to_csv(csv, index=False)
                result["jobs"][job] = {
                    "k": k,
                    "reps": reps,
                    "lacrima_seconds": times,
                    "lacrima_median_seconds": statistics.median(times),
                    "lacrima": summary(res),
                }
                r_jobs.append(
                    {
                        "name": job,
                        "data": str(csv),
                        "method": method,
                        "test": test,
                        "mods": mods,
                        "reps": reps,
                        "confint": full,
                        "inner": inner,
                    }
                )
                print(f"lacrima {job}: {statistics.median(times):.4f} s", flush=True)
        result["loadavg_after_lacrima"] = list(os.getloadavg())
        if rscript is None:
            print("Rscript not found on the PATH: metafor not run, lacrima timings only")
            result["metafor"] = "skipped: Rscript not found"
        else:
            jobs_json, r_json = Path(tmp, "jobs.json"), Path(tmp, "metafor.json")
            jobs_json.write_text(json.dumps(r_jobs))
            subprocess.run(
                [rscript, str(HERE / "bench_meta.R"), str(jobs_json), str(r_json)],
                check=True,
                timeout=args.timeout,
            )
            r = json.loads(r_json.read_text())
            result["r_version"] = r["r_version"]
            result["metafor_version"] = r["metafor"]
            for job, entry in result["jobs"].items():
                rj = r["jobs"][job]
                entry["metafor_median_seconds_rma"] = rj["median_seconds_rma"]
                entry["metafor_median_seconds_rma_confint"] = rj["median_seconds_rma_confint"]
                entry["metafor_seconds_rma"] = rj["seconds_rma"]
                entry["ratio_rma_over_lacrima"] = rj["median_seconds_rma"] / entry["lacrima_median_seconds"]
                if isinstance(rj["median_seconds_rma_confint"], float):
                    entry["ratio_rma_confint_over_lacrima"] = (
                        rj["median_seconds_rma_confint"] / entry["lacrima_median_seconds"]
                    )
                entry["metafor"] = {
                    key: rj.get(key) for key in ("b", "se", "tau2", "tau2_ci", "I2", "QE", "QM")
                }
                entry["diff"] = differences(entry["lacrima"], rj)
    result["loadavg_end"] = list(os.getloadavg())
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def report(result: dict[str, Any]) -> None:
    print(f"\nload average: start {result['loadavg_start']}, end {result['loadavg_end']}")
    print(
        f"{'job':<36}{'k':>6}{'lacrima s':>11}{'rma s':>10}{'+confint s':>12}{'ratio':>7}{'ratio+ci':>9}"
        f"{'max |diff|':>12}"
    )
    for job, e in result["jobs"].items():
        line = f"{job:<36}{e['k']:>6}{e['lacrima_median_seconds']:>11.4f}"
        if "diff" in e:
            ci = e["metafor_median_seconds_rma_confint"]
            ratio_ci = e.get("ratio_rma_confint_over_lacrima")
            worst = max(e["diff"].values())
            line += (
                f"{e['metafor_median_seconds_rma']:>10.4f}"
                + (f"{ci:>12.4f}" if isinstance(ci, float) else f"{'-':>12}")
                + f"{e['ratio_rma_over_lacrima']:>7.2f}"
                + (f"{ratio_ci:>9.2f}" if ratio_ci is not None else f"{'-':>9}")
                + f"{worst:>12.2e}"
            )
        print(line)


if __name__ == "__main__":
    main()
