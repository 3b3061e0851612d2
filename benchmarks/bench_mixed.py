"""Benchmark lacrima.mixed against lme4 side by side (not a test).

Run from the repository root::

    python benchmarks/bench_mixed.py                      # 200,000 sessions / 10,000 clients / 200 therapists
    python benchmarks/bench_mixed.py --clients 2000       # smaller

Simulates one data set (seeded) to CSV, which both Python and R read, and fits
``alliance ~ session + cried + (1 + session | client) + (1 | therapist)`` (REML) and the logistic
``cried ~ session + anx + (1 | client)`` (Laplace; by default on the first 2,000 clients) with lacrima
and, if ``Rscript`` is on the PATH, with lme4 (benchmarks/bench_mixed.R); then the large crossed design
of lme4's InstEval (73,421 ratings of 1,128 lecturers by 2,972 students in 14 departments, exported by
tests/reference/lme4_engine.R), ``y ~ service + (1 | s) + (1 | d) + (1 | dept)`` (REML), the same way.
Prints times, ratios and the largest relative differences of fixed effects, standard errors and variance
components, and writes benchmarks/results/mixed.json. The GLMM is compared with glmer at its default
PIRLS tolerance (timed) and at ``tolPwrss = 1e-12`` (the exact Laplace optimum: with 20 sessions per
client the default tolerance moves lme4's estimates by about 1e-3).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lacrima.longitudinal import MixedResult, mixed

HERE = Path(__file__).resolve().parent
LMM = "alliance ~ session + cried + (1 + session | client) + (1 | therapist)"
GLMM = "cried ~ session + anx + (1 | client)"
CROSSED = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
INSTEVAL = HERE.parent / "tests" / "reference" / "data" / "lme4_engine_insteval.csv.gz"


def simulate(clients: int, sessions: int, therapists: int, seed: int) -> pd.DataFrame:
    """Sessions in clients in therapists with a planted crying effect on the session alliance."""
    rng = np.random.default_rng(seed)
    n = clients * sessions
    client = np.repeat(np.arange(clients), sessions)
    therapist = np.repeat(np.arange(clients) % therapists, sessions)
    session = np.tile(np.arange(1, sessions + 1), clients).astype(float)
    anx = np.repeat(rng.normal(size=clients), sessions)
    b = np.repeat(rng.normal(scale=1.0, size=clients), sessions)
    cried = rng.binomial(1, 1.0 / (1.0 + np.exp(-(-1.3 - 0.05 * session + 0.5 * anx + b)))).astype(float)
    u0 = rng.normal(scale=0.6, size=clients)
    u1 = 0.3 * (0.08 / 0.6) * u0 + rng.normal(scale=0.08 * np.sqrt(1 - 0.09), size=clients)
    t0 = rng.normal(scale=0.3, size=therapists)
    alliance = (
        5.0
        + 0.04 * session
        + 0.25 * cried
        + t0[therapist]
        + u0[client]
        + u1[client] * session
        + rng.normal(scale=0.7, size=n)
    )
    return pd.DataFrame(
        {
            "client": client,
            "therapist": therapist,
            "session": session,
            "cried": cried,
            "anx": anx,
            "alliance": alliance,
        }
    )


def _timed(formula: str, data: pd.DataFrame, family: str) -> tuple[MixedResult, float]:
    start = time.perf_counter()
    fit = mixed(formula, data, family=family)  # type: ignore[arg-type]
    return fit, time.perf_counter() - start


def _compare(fit: MixedResult, r: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    est = fit.fixed["estimate"].to_numpy()
    se = fit.fixed["se"].to_numpy()
    vc = fit.varcomp["vcov"].to_numpy()
    return {
        f"{prefix}max_rel_diff_estimate": float(np.max(np.abs(est / np.asarray(r["estimate"]) - 1.0))),
        f"{prefix}max_rel_diff_se": float(np.max(np.abs(se / np.asarray(r["se"]) - 1.0))),
        f"{prefix}max_rel_diff_varcomp": float(np.max(np.abs(vc / np.asarray(r["vcov"]) - 1.0))),
        f"{prefix}loglik_diff": float(fit.loglik - r["loglik"]),
        f"{prefix}lme4_estimate": r["estimate"],
        f"{prefix}lme4_se": r["se"],
    }


def _own(fit: MixedResult) -> dict[str, Any]:
    return {
        "term": list(fit.fixed.index),
        "estimate": fit.fixed["estimate"].tolist(),
        "se": fit.fixed["se"].tolist(),
        "varcomp": fit.varcomp["vcov"].tolist(),
        "loglik": fit.loglik,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--therapists", type=int, default=200)
    parser.add_argument(
        "--glmm-clients", type=int, default=2_000, help="clients in the GLMM data (default 2,000)"
    )
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "mixed.json")
    args = parser.parse_args()

    data = simulate(args.clients, args.sessions, args.therapists, args.seed)
    glmm_clients = min(args.glmm_clients, args.clients)
    glmm_data = data[data["client"] < glmm_clients].reset_index(drop=True)
    crossed = pd.read_csv(INSTEVAL)
    result: dict[str, Any] = {
        "lmm": {"formula": LMM, "rows": len(data), "clients": args.clients, "therapists": args.therapists},
        "glmm": {"formula": GLMM, "rows": len(glmm_data), "clients": glmm_clients},
        "crossed": {
            "formula": CROSSED,
            "data": "lme4::InstEval",
            "rows": len(crossed),
            "levels": {g: int(crossed[g].nunique()) for g in ("s", "d", "dept")},
        },
        "seed": args.seed,
    }
    result["load_average_before"] = list(os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        lmm_csv, glmm_csv, r_json = Path(tmp, "lmm.csv"), Path(tmp, "glmm.csv"), Path(tmp, "r.json")
        data.to_csv(lmm_csv, index=False)
        glmm_data.to_csv(glmm_csv, index=False)
        # Both sides read the same CSV (client and therapist ids as integers).
        data = pd.read_csv(lmm_csv)
        glmm_data = pd.read_csv(glmm_csv)
        # Warm-up on a small slice: imports and first-call costs are one-off, as is loading lme4 in R.
        _timed(LMM, data[data["client"] < 50], "gaussian")
        _timed(GLMM, glmm_data[glmm_data["client"] < 50], "binomial")
        fit_lmm, t_lmm = _timed(LMM, data, "gaussian")
        fit_glmm, t_glmm = _timed(GLMM, glmm_data, "binomial")
        fit_crossed, t_crossed = _timed(CROSSED, crossed, "gaussian")
        result["lmm"]["lacrima_seconds"] = t_lmm
        result["glmm"]["lacrima_seconds"] = t_glmm
        result["crossed"]["lacrima_seconds"] = t_crossed
        result["lmm"]["lacrima"] = _own(fit_lmm)
        result["glmm"]["lacrima"] = _own(fit_glmm)
        result["crossed"]["lacrima"] = _own(fit_crossed)
        rscript = shutil.which("Rscript")
        if rscript is None:
            print("Rscript not found: lacrima timings only")
        else:
            subprocess.run(
                [rscript, str(HERE / "bench_mixed.R"), *map(str, (lmm_csv, glmm_csv, r_json, INSTEVAL))],
                check=True,
            )
            r = json.loads(r_json.read_text())
            result["r_version"] = r["r_version"]
            result["lme4_version"] = r["lme4"]
            for key, fit in (("lmm", fit_lmm), ("glmm", fit_glmm), ("crossed", fit_crossed)):
                result[key]["lme4_seconds"] = r[key]["seconds"]
                result[key]["speedup_vs_lme4"] = r[key]["seconds"] / result[key]["lacrima_seconds"]
                result[key]["lme4_messages"] = r[key].get("messages")
                result[key].update(_compare(fit, r[key]))
            tight = r["glmm_tight"]
            result["glmm"]["lme4_tight_seconds"] = tight["seconds"]
            result["glmm"].update(_compare(fit_glmm, tight, prefix="tight_"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result["load_average_after"] = list(os.getloadavg())
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key in ("lmm", "glmm", "crossed"):
        print(f"{key}: {result[key]['formula']}  ({result[key]['rows']} rows)")
        for k, v in result[key].items():
            if k not in ("formula", "rows", "lacrima") and not k.endswith(("lme4_estimate", "lme4_se")):
                print(f"  {k}: {v}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
