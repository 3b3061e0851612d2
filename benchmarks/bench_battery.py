"""Benchmark the replication battery (``lacrima analyze``) against the same statistics in R (not a test).

Run from the repository root::

    python benchmarks/bench_battery.py                       # N = 124 with 2,000 resamples, and 1,000,000
    python benchmarks/bench_battery.py --large 100000        # a smaller large case
    python benchmarks/bench_battery.py --large 0 --repeats 5 # only the N = 124 case

Two cases, each timed ``--repeats`` times (median reported; the machine is shared, so single runs mislead):

1. *Small*: one simulated site (the U.S. sample, N = 124) written to CSV; the whole ``lacrima analyze
   DATA.csv --out report.html`` process (Python start-up, imports, reading, scoring, reliabilities, the
   default plan with 2,000 bootstrap resamples per hypothesis, the HTML report with its figures) against
   ``Rscript benchmarks/bench_battery.R`` doing the same statistics (rowMeans scoring, psych::alpha,
   cor.test, psych::partial.r, t.test, chisq.test, lm, boot::boot + boot.ci(type = "bca"), p.adjust) and
   writing an HTML table. Both are run as subprocesses; wall time and peak RSS of each are recorded.
   The Python side runs with ``OPENBLAS_NUM_THREADS=1`` and with BLAS' default threading, with lacrima's
   bytecode compiled beforehand (as a pip install leaves it), once more without any bytecode for lacrima
   (a fresh copy of the source with ``PYTHONDONTWRITEBYTECODE=1``, as on machines that set it: every
   module is compiled in every run), and once in-process to time its stages (import, read, analyze,
   HTML). Estimates and p values of both programs are compared (``agreement`` in the JSON).
2. *Large*: ``--large`` simulated respondents (default 1,000,000) generated once (cached in ``--workdir``)
   and written to Parquet (Python) and CSV (R reads it with data.table::fread). A Python subprocess reads
   the Parquet file, runs ``lacrima.analyze(data, bootstrap=False)`` and writes the HTML report; each
   stage is timed inside, peak RSS is measured from outside. R runs the same statistics without resampling.

Python runs against this checkout (``PYTHONPATH=<repo>/src``), whatever copy of lacrima is installed
(``--src`` for another tree); ``--compare-src`` times a second tree in the same run, interleaved with the
first, to measure a proposed change under the same load. The R part is skipped with a message when
``Rscript`` is not on the PATH. Results: a table on stdout and ``benchmarks/results/battery.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

STAGES_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
from lacrima.report import analyze
t1 = time.perf_counter()
path, html, boot, n_boot = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
if path.endswith(".csv"):
    from lacrima.io import read_table
    data = read_table(path).data
else:
    data = pd.read_parquet(path)
t2 = time.perf_counter()
report = analyze(data, bootstrap=boot, n_boot=n_boot if boot else None)
t3 = time.perf_counter()
report.to_html(html)
t4 = time.perf_counter()
# the reliabilities again, alone: lacrima.analyze computes them (alpha, omega) with everything else
from lacrima.report._study import _reliabilities
_reliabilities(report.data, report.scored, report.site_column)
t5 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "analyze": t3 - t2, "html": t4 - t3,
                  "reliability_alone": t5 - t4,
                  "rows": len(data), "verdicts": {k: r.verdict for k, r in report.results.items()}}))
"""


def _env(blas_threads: str | None, src: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src or SRC), *filter(None, [env.get("PYTHONPATH")])])
    env["MPLBACKEND"] = "Agg"
    for var in BLAS_VARS:
        env.pop(var, None)
        if blas_threads is not None:
            env[var] = blas_threads
    return env


def _compile(src: Path) -> None:
    """Write lacrima's bytecode (``__pycache__``, ignored by git), as installing a wheel does."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True, env=_env(None, src))


def _fresh_copy(src: Path, workdir: Path) -> Path:
    """A copy of ``src`` without bytecode, for a run that must compile every lacrima module."""
    target = workdir / "no_bytecode_src"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def _run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB, the child's own rusage via ``os.wait4``) and stdout of a subprocess."""
    with tempfile.TemporaryFile("w+") as fout, tempfile.TemporaryFile("w+") as ferr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=fout, stderr=ferr, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out  # Linux reports ru_maxrss in KB


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError, IndexError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    import numpy as np
    import pandas as pd
    import scipy

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }


def _r_version() -> str | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    out = subprocess.run([rscript, "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def write_spec(path: Path, *, bootstrap: bool, n_boot: int, seed: int) -> None:
    """The instrument keys and the default plan, for R to score and test exactly what lacrima does."""
    from lacrima.analysis.plan import load_plan
    from lacrima.instruments import load_instrument

    scoring, reliab = [], []
    for iid in ("crying_in_therapy", "crying_attitudes", "wai_sr", "ecr_r", "change"):
        ins = load_instrument(iid)
        need = 1.0 if ins.missing_rule == "complete" else ins.min_answered
        for name, sub in ins.subscales.items():
            cols = ins.subscale_columns(name)
            rev = [c for c in cols if ins.item(c).reverse]
            entry = {
                "column": f"{ins.prefix}_{name}",
                "items": cols,
                "reverse": rev,
                "lo": ins.scale.min,
                "hi": ins.scale.max,
                "method": sub.method,
                "min_answered": need,
            }
            scoring.append(entry)
            if len(cols) >= 2 and not (name == "total" and len(ins.subscales) > 1):
                reliab.append(entry)
    plan = load_plan(None)
    hyps = []
    for h in plan.hypotheses:
        hyp: dict[str, Any] = {"id": h.id, "family": h.family, "test": h.test, "bootstrap": h.bootstrap}
        hyp.update({k: (list(v) if isinstance(v, tuple | list) else v) for k, v in h.columns.items()})
        hyp["subset"] = {k: (list(v) if isinstance(v, tuple | list) else [v]) for k, v in h.subset.items()}
        if h.groups:
            hyp["groups"] = list(h.groups)
        if h.levels:
            hyp["levels"] = {k: list(v) for k, v in h.levels.items()}
        hyps.append(hyp)
    spec = {
        "scoring": scoring,
        "reliability": reliab,
        "hypotheses": hyps,
        "n_boot": n_boot,
        "seed": seed,
        "correction": plan.correction,
        "bootstrap": bootstrap,
    }
    path.write_text(json.dumps(spec, indent=1))


def simulate(n: int | None, seed: int, workdir: Path, fmt: tuple[str, ...]) -> dict[str, Path]:
    """One simulated U.S.-like site (``n=None``: its published N = 124), cached in ``workdir``."""
    tag = f"battery_n{n or 124}_s{seed}"
    paths = {f: workdir / f"{tag}.{f}" for f in fmt}
    if all(p.exists() for p in paths.values()):
        return paths
    import lacrima as lc
    from lacrima.simulate import default_sites

    start = time.perf_counter()
    us = [s for s in default_sites() if s.name == "us"]
    data = lc.simulate_study(us, seed=seed, n=n).data
    print(f"  simulated {len(data):,} respondents in {time.perf_counter() - start:.1f} s", flush=True)
    for f, p in paths.items():
        tmp = p.with_name(p.name + ".part")
        if f == "csv":
            data.to_csv(tmp, index=False)
        else:
            data.to_parquet(tmp, index=False)
        tmp.replace(p)
    return paths


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def bench_small(args: argparse.Namespace, workdir: Path, rscript: str | None) -> dict[str, Any]:
    csv = simulate(None, args.seed, workdir, ("csv",))["csv"]
    spec = workdir / "spec_small.json"
    write_spec(spec, bootstrap=True, n_boot=args.n_boot, seed=args.seed)
    script = Path(sys.executable).with_name("lacrima")
    fallback = [sys.executable, "-c", "from lacrima.cli import main; main()"]
    base = [str(script)] if script.exists() else fallback
    py_json = workdir / "report_small.json"
    cmd = [*base, "analyze", str(csv), "--out", str(workdir / "report_small.html"), "--json", str(py_json)]
    cmd += ["--n-boot", str(args.n_boot), "--seed", str(args.seed)]
    modes: dict[str, tuple[str | None, Path | None]] = {
        "blas1": ("1", None),
        "blas_default": (None, None),
        "blas1_no_bytecode": ("1", None),
    }
    if args.compare_src:
        modes["compare_blas1"] = ("1", args.compare_src)
        _compile(args.compare_src)
    _compile(SRC)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in [*modes, "stages_blas1", "r"]}
    for i in range(args.repeats):
        for mode, (threads, src) in modes.items():
            env = _env(threads, src)
            if mode == "blas1_no_bytecode":
                env = _env(threads, _fresh_copy(SRC, workdir)) | {"PYTHONDONTWRITEBYTECODE": "1"}
            wall, rss, _ = _run_measured(cmd, env)
            runs[mode].append({"wall": wall, "peak_rss_mb": rss, "load": _loadavg()[0]})
            print(f"  small run {i + 1} python ({mode}): {wall:.2f} s, {rss:.0f} MB", flush=True)
        stage_cmd = [sys.executable, "-c", STAGES_CHILD, str(csv), str(workdir / "report_stages.html")]
        wall, rss, out = _run_measured([*stage_cmd, "1", str(args.n_boot)], _env("1"))
        stages = json.loads(out.strip().splitlines()[-1])
        runs["stages_blas1"].append({"wall": wall, "peak_rss_mb": rss, "load": _loadavg()[0], **stages})
        print(
            f"  small run {i + 1} python stages: import {stages['import']:.2f}, read {stages['read']:.2f}, "
            f"analyze {stages['analyze']:.2f}, html {stages['html']:.2f} s",
            flush=True,
        )
        if rscript:
            out_json = workdir / "r_small.json"
            rcmd = [rscript, str(HERE / "bench_battery.R"), str(spec), str(csv), str(out_json)]
            wall, rss, _ = _run_measured([*rcmd, str(workdir / "report_small_r.html")])
            inside = json.loads(out_json.read_text())["times"]
            runs["r"].append({"wall": wall, "peak_rss_mb": rss, "load": _loadavg()[0], **inside})
            print(f"  small run {i + 1} R: {wall:.2f} s, {rss:.0f} MB", flush=True)
    summary = {k: _median([r["wall"] for r in v]) for k, v in runs.items() if v}
    stage_names = ("import", "read", "analyze", "html")
    summary_stages = {k: _median([r[k] for r in runs["stages_blas1"]]) for k in stage_names}
    if runs["r"]:
        r_names = ("load_packages", "read", "score", "reliability", "hypotheses", "bootstrap", "report")
        summary_stages |= {f"r_{k}": _median([r[k] for r in runs["r"]]) for k in r_names}
    result: dict[str, Any] = {
        "n": 124,
        "n_boot": args.n_boot,
        "command": cmd[len(base) :],
        "runs": runs,
        "median_wall": summary,
        "median_stages": summary_stages,
    }
    if rscript:
        result["agreement"] = _agreement(py_json, workdir / "r_small.json")
    return result


def _agreement(py_json: Path, r_json: Path) -> dict[str, Any]:
    """Largest differences between lacrima's and R's estimates, p values and bootstrap BCa endpoints.

    Point estimates and p values should agree to rounding (the odds ratio of G2 is the same sample odds
    ratio); bootstrap endpoints differ by Monte Carlo error only (different resamples).
    """
    py = {h["id"]: h for h in json.loads(py_json.read_text())["hypotheses"]}
    rr = json.loads(r_json.read_text())["results"]
    est, pv, boot = [], [], []
    for r in rr:
        h = py.get(r["id"])
        if h is None or r["estimate"] is None:
            continue
        est.append(abs(h["estimate"] - r["estimate"]))
        if r["p"] is not None:
            pv.append(abs(h["p"] - r["p"]))
        low = h["boot_ci_low"] if h.get("boot_ci_low") is not None else h["ci_low"]
        high = h["boot_ci_high"] if h.get("boot_ci_high") is not None else h["ci_high"]
        if r["ci_low"] is not None and low is not None:
            boot.append(max(abs(low - r["ci_low"]), abs(high - r["ci_high"])))
    return {
        "hypotheses_compared": len(est),
        "max_abs_diff_estimate": max(est, default=float("nan")),
        "max_abs_diff_p": max(pv, default=float("nan")),
        "max_abs_diff_ci_endpoint": max(boot, default=float("nan")),
    }


def bench_large(args: argparse.Namespace, workdir: Path, rscript: str | None) -> dict[str, Any]:
    fmts = ("parquet", "csv") if rscript else ("parquet",)
    paths = simulate(args.large, args.seed, workdir, fmts)
    spec = workdir / "spec_large.json"
    write_spec(spec, bootstrap=False, n_boot=0, seed=args.seed)
    runs: dict[str, list[dict[str, Any]]] = {"python": [], "compare": [], "r": []}
    trees = {"python": None, "compare": args.compare_src} if args.compare_src else {"python": None}
    for i in range(args.repeats):
        html = str(workdir / "report_large.html")
        cmd = [sys.executable, "-c", STAGES_CHILD, str(paths["parquet"]), html, "0", "0"]
        for key, src in trees.items():
            wall, rss, out = _run_measured(cmd, _env("1" if args.large_blas == "1" else None, src))
            stages = json.loads(out.strip().splitlines()[-1])
            runs[key].append({"wall": wall, "peak_rss_mb": rss, "load": _loadavg()[0], **stages})
            print(
                f"  large run {i + 1} {key}: {wall:.1f} s (read {stages['read']:.1f}, analyze "
                f"{stages['analyze']:.1f}, of which reliabilities ~{stages['reliability_alone']:.1f}, html "
                f"{stages['html']:.1f}), {rss:.0f} MB",
                flush=True,
            )
        if rscript and i < args.r_large_repeats:
            out_json = workdir / "r_large.json"
            rcmd = [rscript, str(HERE / "bench_battery.R"), str(spec), str(paths["csv"]), str(out_json)]
            wall, rss, _ = _run_measured([*rcmd, str(workdir / "report_large_r.html")])
            r_out = json.loads(out_json.read_text())
            runs["r"].append(
                {"wall": wall, "peak_rss_mb": rss, "load": _loadavg()[0], "reader": r_out["reader"]}
                | r_out["times"]
            )
            print(f"  large run {i + 1} R: {wall:.1f} s, {rss:.0f} MB", flush=True)
    med: dict[str, float] = {}
    for key in trees:
        py = runs[key]
        med |= {
            f"{key}_read_plus_analyze": _median([r["read"] + r["analyze"] for r in py]),
            f"{key}_read": _median([r["read"] for r in py]),
            f"{key}_analyze": _median([r["analyze"] for r in py]),
            f"{key}_reliability_alone": _median([r["reliability_alone"] for r in py]),
            f"{key}_html": _median([r["html"] for r in py]),
            f"{key}_wall": _median([r["wall"] for r in py]),
            f"{key}_peak_rss_mb": _median([r["peak_rss_mb"] for r in py]),
        }
    if runs["r"]:
        rr = runs["r"]
        med["r_wall"] = _median([r["wall"] for r in rr])
        med["r_read_plus_stats"] = _median(
            [r["read"] + r["score"] + r["reliability"] + r["hypotheses"] for r in rr]
        )
        med["r_read_plus_stats_without_alpha"] = _median(
            [r["read"] + r["score"] + r["hypotheses"] for r in rr]
        )
        for k in ("read", "score", "reliability", "hypotheses"):
            med[f"r_{k}"] = _median([r[k] for r in rr])
        med["r_peak_rss_mb"] = _median([r["peak_rss_mb"] for r in rr])
    return {"n": args.large, "blas_threads": args.large_blas, "runs": runs, "median": med}


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main() -> None:
    global SRC
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--large", type=int, default=1_000_000, help="respondents in the large case (0: skip)")
    ap.add_argument("--small", action=argparse.BooleanOptionalAction, default=True, help="run the N=124 case")
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples in the small case")
    ap.add_argument("--repeats", type=int, default=3, help="timings per case (the median is reported)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--large-blas", choices=("1", "default"), default="1", help="BLAS threads in the large Python run"
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "lacrima-bench-battery",
        help="simulated data (cached between runs) and reports",
    )
    ap.add_argument(
        "--src", type=Path, default=SRC, help="lacrima source tree to time (default: this checkout's src)"
    )
    ap.add_argument(
        "--compare-src",
        type=Path,
        default=None,
        help="a second source tree (e.g. with proposed changes) timed in the same run, interleaved",
    )
    ap.add_argument(
        "--r-large-repeats", type=int, default=3, help="R runs in the large case (each takes minutes)"
    )
    ap.add_argument("--no-r", action="store_true", help="skip R even if Rscript is installed")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "battery.json")
    args = ap.parse_args()
    SRC = args.src.resolve()
    sys.path.insert(0, str(SRC))  # this checkout, not whichever lacrima is installed
    args.workdir.mkdir(parents=True, exist_ok=True)
    rscript = None if args.no_r else shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found (or --no-r): the R side is skipped, no ratios are reported")
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/bench_battery.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(),
        "r": _r_version() if rscript else None,
        "source_tree": str(SRC),
        "load_before": _loadavg(),
    }
    rows = [("case", "lacrima", "R", "R / lacrima")]
    if args.small:
        print(f"N = 124, {args.n_boot} bootstrap resamples, {args.repeats} repeats")
        small = bench_small(args, args.workdir, rscript)
        med = small["median_wall"]
        labels = {
            "blas1": "analyze N=124 process (BLAS 1 thread)",
            "blas_default": "analyze N=124 process (BLAS default)",
            "blas1_no_bytecode": "analyze N=124 process (no bytecode cache)",
            "compare_blas1": "  --compare-src tree (BLAS 1 thread)",
        }
        for mode, label in labels.items():
            if mode in med:
                r_time = med.get("r", float("nan"))
                rows.append((label, f"{med[mode]:.2f} s", f"{r_time:.2f} s", f"{r_time / med[mode]:.2f}"))
        small["ratio_r_over_python"] = med.get("r", float("nan")) / med["blas1"]
        small["under_3_s"] = med["blas1"] < 3.0
        result["small"] = small
    if args.large:
        print(f"N = {args.large:,}, no bootstrap, {args.repeats} repeats")
        large = bench_large(args, args.workdir, rscript)
        med = large["median"]
        r_stats = med.get("r_read_plus_stats", float("nan"))
        py_core = med["python_read_plus_analyze"]
        ratio = f"{r_stats / py_core:.2f}"
        rows.append((f"read + battery N={args.large:,}", f"{py_core:.1f} s", f"{r_stats:.1f} s", ratio))
        r_wo = med.get("r_read_plus_stats_without_alpha", float("nan"))
        py_wo = py_core - med["python_reliability_alone"]
        rows.append(
            ("  without reliabilities (approx.)", f"{py_wo:.1f} s", f"{r_wo:.1f} s", f"{r_wo / py_wo:.2f}")
        )
        if "compare_read_plus_analyze" in med:
            cmp_core = med["compare_read_plus_analyze"]
            rows.append(
                ("  --compare-src tree", f"{cmp_core:.1f} s", f"{r_stats:.1f} s", f"{r_stats / cmp_core:.2f}")
            )
            rows.append(("  --compare-src whole process", f"{med['compare_wall']:.1f} s", "", ""))
            rows.append(("  --compare-src peak RSS", f"{med['compare_peak_rss_mb']:.0f} MB", "", ""))
        r_wall = med.get("r_wall", float("nan"))
        rows.append(("  whole process (lacrima incl. HTML)", f"{med['python_wall']:.1f} s", f"{r_wall:.1f} s",
                     f"{r_wall / med['python_wall']:.2f}"))  # fmt: skip
        r_rss = med.get("r_peak_rss_mb", float("nan"))
        rows.append(("  peak RSS", f"{med['python_peak_rss_mb']:.0f} MB", f"{r_rss:.0f} MB", ""))
        large["under_60_s"] = py_core < 60.0
        large["under_4_gb"] = med["python_peak_rss_mb"] < 4096
        result["large"] = large
    result["load_after"] = _loadavg()
    print()
    print(_table(rows))
    cores = os.cpu_count()
    print(f"load average before {result['load_before']}, after {result['load_after']} on {cores} cores")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
