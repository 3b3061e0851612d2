"""Benchmark lacrima's GLMM engine against glmer side by side (not a test).

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_glmm.py                 # 2,000 clients x 20 sessions
    PYTHONPATH=src python benchmarks/bench_glmm.py --clients 500   # smaller

Simulates the session data of ``bench_mixed.py`` (same seed, the first ``--clients`` clients), writes it to
CSV, which both Python and R read, and fits the logistic ``cried ~ session + anx + (1 | client)`` by the
Laplace approximation and by adaptive Gauss-Hermite quadrature (``--nagq``, default 9) with
``lc.mixed(..., family="binomial", nagq=k)`` and, if ``Rscript`` is on the PATH, with glmer
(benchmarks/bench_glmm.R): at glmer's default control (timed for the ratio) and at the tight control of
tests/reference/glmer_engine.R (``tolPwrss = 1e-12``, bobyqa ``rhoend = 1e-10``) for the estimates.
lacrima's times are medians of ``--repeats`` in-process fits after a warm-up on 50 clients (imports and
first calls are one-off, as is loading lme4 in R); R fits once each. Writes benchmarks/results/glmm.json.
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

from lacrima.longitudinal import MixedResult, mixed

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_mixed import simulate  # noqa: E402  (the same simulated sessions as the mixed-model benchmark)

GLMM = "cried ~ session + anx + (1 | client)"
GENERAL = {
    "slope": "cried ~ session + anx + (1 + session | client)",
    "two_terms": "cried ~ session + anx + (1 | client) + (1 | therapist)",
}


def _timed(
    data: pd.DataFrame, nagq: int, repeats: int, formula: str = GLMM
) -> tuple[MixedResult, float, list[float]]:
    times: list[float] = []
    fit: MixedResult | None = None
    for _ in range(repeats):
        start = time.perf_counter()
        fit = mixed(formula, data, family="binomial", nagq=nagq)
        times.append(time.perf_counter() - start)
    assert fit is not None
    return fit, statistics.median(times), times


def _own(fit: MixedResult) -> dict[str, Any]:
    return {
        "term": list(fit.fixed.index),
        "estimate": fit.fixed["estimate"].tolist(),
        "se": fit.fixed["se"].tolist(),
        "varcomp": fit.varcomp["vcov"].tolist(),
        "loglik": fit.loglik,
        "converged": fit.converged,
    }


def _compare(fit: MixedResult, r: dict[str, Any]) -> dict[str, float]:
    est = fit.fixed["estimate"].to_numpy()
    se = fit.fixed["se"].to_numpy()
    vc = fit.varcomp["vcov"].to_numpy()
    return {
        "max_rel_diff_estimate": float(np.max(np.abs(est / np.asarray(r["estimate"]) - 1.0))),
        "max_rel_diff_se": float(np.max(np.abs(se / np.asarray(r["se"]) - 1.0))),
        "max_rel_diff_varcomp": float(np.max(np.abs(vc / np.asarray(r["vcov"]) - 1.0))),
        "loglik_diff": float(fit.loglik - r["loglik"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--nagq", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "glmm.json")
    parser.add_argument(
        "--general", action="store_true", help="also a random slope and two random terms (Laplace, 1 repeat)"
    )
    args = parser.parse_args()

    # bench_mixed's simulation of 10,000 clients / 200 therapists, cut to the first --clients clients.
    data = simulate(max(args.clients, 10_000), args.sessions, 200, args.seed)
    data = data[data["client"] < args.clients].reset_index(drop=True)
    result: dict[str, Any] = {
        "formula": GLMM,
        "rows": len(data),
        "clients": args.clients,
        "nagq": args.nagq,
        "seed": args.seed,
        "load_average_before": list(os.getloadavg()),
    }
    with tempfile.TemporaryDirectory() as tmp:
        csv, r_json = Path(tmp, "glmm.csv"), Path(tmp, "r.json")
        data[["client", "therapist", "session", "anx", "cried"]].to_csv(csv, index=False)
        data = pd.read_csv(csv)
        mixed(GLMM, data[data["client"] < 50], family="binomial")
        mixed(GLMM, data[data["client"] < 50], family="binomial", nagq=args.nagq)
        fit1, t1, times1 = _timed(data, 1, args.repeats)
        fitk, tk, timesk = _timed(data, args.nagq, args.repeats)
        result["laplace"] = {"lacrima_seconds": t1, "lacrima_repeats": times1, "lacrima": _own(fit1)}
        result["agq"] = {"lacrima_seconds": tk, "lacrima_repeats": timesk, "lacrima": _own(fitk)}
        general: dict[str, MixedResult] = {}
        if args.general:
            for key, formula in GENERAL.items():
                fitg, tg, _ = _timed(data, 1, 1, formula)
                general[key] = fitg
                result[key] = {"formula": formula, "lacrima_seconds": tg, "lacrima": _own(fitg)}
        rscript = shutil.which("Rscript")
        if rscript is None:
            print("Rscript not found: lacrima timings only")
        else:
            extra = ["general"] if args.general else []
            subprocess.run(
                [rscript, str(HERE / "bench_glmm.R"), str(csv), str(args.nagq), str(r_json), *extra],
                check=True,
            )
            r = json.loads(r_json.read_text())
            result["r_version"], result["lme4_version"] = r["r_version"], r["lme4"]
            lap = result["laplace"]
            lap["glmer_seconds"] = r["laplace"]["seconds"]
            lap["glmer_tight_seconds"] = r["laplace_tight"]["seconds"]
            lap["speedup_vs_glmer"] = r["laplace"]["seconds"] / t1
            lap["speedup_vs_glmer_tight"] = r["laplace_tight"]["seconds"] / t1
            lap["glmer_messages"] = r["laplace"].get("messages")
            lap["vs_glmer_default"] = _compare(fit1, r["laplace"])
            lap["vs_glmer_tight"] = _compare(fit1, r["laplace_tight"])
            agq = result["agq"]
            agq["glmer_seconds"] = r["agq"]["seconds"]
            agq["speedup_vs_glmer"] = r["agq"]["seconds"] / tk
            agq["glmer_messages"] = r["agq"].get("messages")
            agq["vs_glmer_default"] = _compare(fitk, r["agq"])
            for key, fitg in general.items():
                res = result[key]
                res["glmer_seconds"] = r[key]["seconds"]
                res["speedup_vs_glmer"] = r[key]["seconds"] / res["lacrima_seconds"]
                res["glmer_messages"] = r[key].get("messages")
                res["vs_glmer_default"] = _compare(fitg, r[key])
    result["load_average_after"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    parts = ("laplace", "agq", *GENERAL)
    print(json.dumps({k: v for k, v in result.items() if k not in parts}, indent=None))
    for key in parts:
        if key in result:
            print(key, {k: v for k, v in result[key].items() if k != "lacrima"})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
