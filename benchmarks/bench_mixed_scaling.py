"""Scaling curve of lacrima.mixed against lme4: time and peak memory by number of sessions (not a test).

Run from the repository root::

    python benchmarks/bench_mixed_scaling.py                          # 10k ... 2M sessions, lme4 to 500k
    python benchmarks/bench_mixed_scaling.py --sizes 10000 50000 --lme4-max 50000   # quick look

Each size simulates one data set (seeded; ``benchmarks/bench_mixed.py``'s generator with 20 sessions per
client and 50 clients per therapist) to CSV and fits
``alliance ~ session + cried + (1 + session | client) + (1 | therapist)`` (REML) once in a fresh Python
process and, up to ``--lme4-max`` sessions and when ``Rscript`` is on the PATH, once in a fresh R process
with ``lme4::lmer``. Each process reads the same CSV. Time is the wall-clock time of the fit alone (after a
warm-up fit on 50 clients), with the CPU time of the fit beside it (less sensitive to other jobs); peak
memory is the process's maximum resident set size (from ``wait4``), so it includes the interpreter, the
data and the fit. The machine's load average is recorded before and after each fit: the machine is shared
and timings under load are slower than on an idle machine. Writes benchmarks/results/mixed_scaling.json
and docs/img/mixed_scaling.png (log-log).
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FORMULA = "alliance ~ session + cried + (1 + session | client) + (1 | therapist)"
SIZES = (10_000, 50_000, 200_000, 500_000, 1_000_000, 2_000_000)

# The fitting programs run in their own process so that each peak RSS belongs to one fit only.
PY_CHILD = """
import json, sys, time
import pandas as pd
from lacrima.longitudinal import mixed
data = pd.read_csv(sys.argv[1])
mixed(sys.argv[2], data[data["client"] < 50])  # warm-up: first-call costs are one-off
start, cpu = time.perf_counter(), time.process_time()
fit = mixed(sys.argv[2], data)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "estimate": fit.fixed["estimate"].tolist(),
                  "varcomp": fit.varcomp["vcov"].tolist(), "loglik": fit.loglik}))
"""

R_CHILD = """
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
invisible(lmer(as.formula(args[2]), data = d[d$client < 50, ], REML = TRUE))  # warm-up
t0 <- proc.time()
m <- lmer(as.formula(args[2]), data = d, REML = TRUE)
s <- proc.time() - t0
cat(toJSON(list(seconds = s[["elapsed"]], cpu_seconds = s[["user.self"]] + s[["sys.self"]],
                estimate = unname(fixef(m)), varcomp = as.data.frame(VarCorr(m))$vcov,
                loglik = as.numeric(logLik(m)), lme4 = as.character(packageVersion("lme4"))),
           digits = NA, auto_unbox = TRUE))
"""


def measure(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Start ``cmd``, wait for it with ``wait4`` and return its JSON output, seconds and peak RSS."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"status": f"stopped after {timeout:.0f} s", "load_before": list(load_before)}
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if proc.returncode != 0:
        return {"status": f"failed (exit {proc.returncode}): {errors.strip()[-500:]}"}
    record: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    record.update(
        status="ok",
        process_seconds=wall,
        peak_rss_mib=usage.ru_maxrss / 1024.0,  # Linux reports KiB
        load_before=list(load_before),
        load_after=list(os.getloadavg()),
    )
    return record


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Time and peak memory against sessions, log-log, lacrima and lme4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8), constrained_layout=True)
    for key, label, style in (("lacrima", "lacrima (own engine)", "o-"), ("lme4", "lme4 (R)", "s--")):
        rows = [r for r in results if r.get(key, {}).get("status") == "ok"]
        if not rows:
            continue
        n = [r["sessions"] for r in rows]
        line = axes[0].plot(n, [r[key]["seconds"] for r in rows], style, label=f"{label}, wall clock")
        axes[0].plot(
            n,
            [r[key]["cpu_seconds"] for r in rows],
            style[0] + ":",
            color=line[0].get_color(),
            alpha=0.6,
            label=f"{label}, CPU",
        )
        axes[1].plot(n, [r[key]["peak_rss_mib"] for r in rows], style, label=label)
    for ax, ylabel in zip(axes, ("fit time (s)", "peak memory of the process (MiB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sessions")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "alliance ~ session + cried + (1 + session | client) + (1 | therapist), REML\n"
        "20 sessions per client, 50 clients per therapist; one fit per size on a shared 2-core machine",
        fontsize=9,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--lme4-max", type=int, default=500_000, help="largest size fitted with lme4")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per fit")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "mixed_scaling.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "mixed_scaling.png")
    parser.add_argument("--note", default="", help="a remark about this run, kept in the JSON")
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from --out")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads(args.out.read_text())["results"], args.plot)
        print(f"wrote {args.plot}")
        return

    sys.path.insert(0, str(HERE))
    from bench_mixed import simulate

    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: lacrima timings only")
    meta: dict[str, Any] = {
        "formula": FORMULA,
        "design": "20 sessions per client, 50 clients per therapist",
        "seed": args.seed,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "engine": "lacrima.longitudinal._lmm (numpy/scipy)",
        "command": "python benchmarks/bench_mixed_scaling.py " + " ".join(sys.argv[1:]),
        "note": "shared machine: see load_before/load_after (1, 5, 15 min load averages) of each fit",
        "run_note": args.note,
    }
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        py_file, r_file = Path(tmp, "child.py"), Path(tmp, "child.R")
        py_file.write_text(PY_CHILD)
        r_file.write_text(R_CHILD)
        for n in sorted(args.sizes):
            clients = n // 20
            therapists = max(clients // 50, 1)
            csv = Path(tmp, f"sessions_{n}.csv")
            simulate(clients, 20, therapists, args.seed).to_csv(csv, index=False)
            row: dict[str, Any] = {"sessions": clients * 20, "clients": clients, "therapists": therapists}
            row["lacrima"] = measure([sys.executable, str(py_file), str(csv), FORMULA], args.timeout)
            print(n, "lacrima", row["lacrima"].get("seconds"), row["lacrima"]["status"], flush=True)
            if rscript is None:
                row["lme4"] = {"status": "skipped: Rscript not found"}
            elif n > args.lme4_max:
                row["lme4"] = {"status": f"skipped: above --lme4-max {args.lme4_max}"}
            else:
                row["lme4"] = measure([rscript, str(r_file), str(csv), FORMULA], args.timeout)
                print(n, "lme4", row["lme4"].get("seconds"), row["lme4"]["status"], flush=True)
                if row["lme4"]["status"] == "ok" and row["lacrima"]["status"] == "ok":
                    row["speedup_vs_lme4"] = row["lme4"]["seconds"] / row["lacrima"]["seconds"]
                    row["cpu_speedup_vs_lme4"] = row["lme4"]["cpu_seconds"] / row["lacrima"]["cpu_seconds"]
                    meta["lme4"] = row["lme4"].pop("lme4")
                    row["max_abs_diff_estimate"] = max(
                        abs(a - b)
                        for a, b in zip(row["lacrima"]["estimate"], row["lme4"]["estimate"], strict=True)
                    )
            csv.unlink()
            results.append(row)
            # Written after every size so that a run stopped part-way keeps what it measured.
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    plot(results, args.plot)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
