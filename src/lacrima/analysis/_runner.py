"""Run an analysis plan: each hypothesis to a result with its effect, interval, corrected p and verdict.

A hypothesis that cannot run on this data (a constant variable, too few cases, a group with one member)
does not stop the battery: its error is kept and shown in the report. Warnings raised while testing a
hypothesis are kept with it, never lost.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lacrima._results import Result
from lacrima.analysis._adjust import adjust_p
from lacrima.analysis._bootstrap import BootstrapCI, bootstrap_ci
from lacrima.analysis._correlation import correlate
from lacrima.analysis._groups import compare_groups
from lacrima.analysis._ktests import crosstab_test
from lacrima.analysis._moderation import moderation
from lacrima.analysis.plan import AnalysisPlan, Hypothesis, load_plan
from lacrima.errors import DataError, SmallSampleWarning

__all__ = ["HypothesisResult", "PlanResults", "run_plan"]

VERDICTS = (
    "supported",
    "same direction, not significant",
    "opposite direction",
    "opposite direction, significant",
    "significant",
    "not significant",
    "not run",
)


@dataclass(frozen=True, eq=False)
class HypothesisResult(Result):
    """The outcome of one planned test.

    ``estimate`` is the effect named by ``effect``: r or partial r (correlations), Hedges' g (group
    comparisons, second group minus first), the odds ratio (crosstabs, second level of ``a`` vs first,
    for the second level of ``b``) or the interaction coefficient (moderation). ``p_adjusted`` is corrected
    within the hypothesis' family by the plan's method.
    """

    hypothesis: Hypothesis
    effect: str
    estimate: float
    ci: tuple[float, float]
    p: float
    p_adjusted: float
    n: int
    excluded: int
    outside_subset: int
    direction: str
    verdict: str
    boot: BootstrapCI | None = None
    detail: Result | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None

    def table(self) -> pd.DataFrame:
        h = self.hypothesis
        return pd.DataFrame(
            [
                {
                    "id": h.id,
                    "family": h.family,
                    "confirmatory": h.confirmatory,
                    "test": h.test,
                    "effect": self.effect,
                    "estimate": self.estimate,
                    "ci_low": self.ci[0],
                    "ci_high": self.ci[1],
                    "boot_ci_low": self.boot.ci[0] if self.boot else math.nan,
                    "boot_ci_high": self.boot.ci[1] if self.boot else math.nan,
                    "p": self.p,
                    "p_adjusted": self.p_adjusted,
                    "n": self.n,
                    "excluded": self.excluded,
                    "expect": h.expect,
                    "direction": self.direction,
                    "verdict": self.verdict,
                    "error": self.error or "",
                }
            ]
        )


@dataclass(frozen=True, eq=False)
class PlanResults(Result):
    plan: AnalysisPlan
    results: tuple[HypothesisResult, ...]
    n_rows: int
    seed: int
    n_boot: int
    bootstrap: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    def table(self) -> pd.DataFrame:
        return pd.concat([r.table() for r in self.results], ignore_index=True)

    def __getitem__(self, hid: str) -> HypothesisResult:
        for r in self.results:
            if r.hypothesis.id == hid:
                return r
        raise KeyError(f"no hypothesis {hid!r}; the plan has {[r.hypothesis.id for r in self.results]}")


@dataclass
class _Raw:
    effect: str
    estimate: float
    ci: tuple[float, float]
    p: float
    n: int
    excluded: int
    boot: BootstrapCI | None
    detail: Result | None


def _direction(estimate: float, null: float) -> str:
    if not math.isfinite(estimate) or estimate == null:
        return "none"
    return "positive" if estimate > null else "negative"


def _verdict(h: Hypothesis, direction: str, p_adj: float, alpha: float) -> str:
    significant = math.isfinite(p_adj) and p_adj < alpha
    if h.expect == "any":
        return "significant" if significant else "not significant"
    if direction == h.expect:
        return "supported" if significant else "same direction, not significant"
    return "opposite direction, significant" if significant else "opposite direction"


def _boot(
    data: pd.DataFrame,
    statistic: str,
    columns: list[str],
    plan: AnalysisPlan,
    seed: int,
    n_boot: int,
    **kw: Any,
) -> BootstrapCI | None:
    complete = data[columns].dropna()
    method = plan.boot_method if plan.boot_method in ("bca", "percentile") else "bca"
    if method == "bca" and n_boot <= len(complete):
        method = "percentile"  # boot's regression acceleration needs more resamples than cases
    return bootstrap_ci(data, statistic, columns=columns, seed=seed, n_boot=n_boot, method=method, **kw)  # type: ignore[arg-type]


def _run_one(
    h: Hypothesis, data: pd.DataFrame, plan: AnalysisPlan, seed: int, n_boot: int, boot: bool
) -> _Raw:
    cols = h.columns
    if h.test == "correlate":
        covar = list(cols.get("covar", ()))
        res = correlate(data, cols["x"], cols["y"], covar=covar or None, method=h.method)  # type: ignore[arg-type]
        if h.method == "pearson":
            stat = "partial" if covar else "pearson"
        else:
            stat = "partial_spearman" if covar else "spearman"
        b = (
            _boot(data, stat, [cols["x"], cols["y"], *covar], plan, seed, n_boot)
            if boot and h.bootstrap
            else None
        )
        label = "partial r" if covar else ("r" if h.method == "pearson" else "rho")
        return _Raw(label, res.r, res.ci, res.p, res.n, res.excluded, b, res)
    if h.test == "compare_groups":
        groups = list(h.groups) if h.groups else None
        res_g = compare_groups(data, cols["dv"], cols["group"], groups=groups)
        b = None
        if boot and h.bootstrap:
            sub = data[data[cols["group"]].isin(res_g.groups)]
            cols_g = [cols["dv"], cols["group"]]
            b = _boot(sub, "hedges_g", cols_g, plan, seed, n_boot, groups=res_g.groups, strata=cols["group"])
        n = int(res_g.means["n"].sum()) if "n" in res_g.means else len(data)
        return _Raw("Hedges' g", res_g.hedges_g, res_g.g_ci, res_g.p, n, res_g.excluded, b, res_g)
    if h.test == "crosstab":
        a, bcol = cols["a"], cols["b"]
        sub = data
        for col, levels in h.levels.items():
            sub = sub[sub[col].isin(levels)]
        res_c = crosstab_test(sub, a, bcol)
        obs = res_c.observed
        if obs.shape != (2, 2):
            raise DataError(f"hypothesis {h.id}: a crosstab hypothesis needs a 2x2 table; got {obs.shape}")
        if res_c.odds_ratio is None or res_c.odds_ratio_ci is None:
            # A zero cell: the sample odds ratio is 0 or infinite. Use the Haldane-Anscombe correction
            # (0.5 added to every cell) and say so.
            cells = obs.to_numpy(dtype=float) + 0.5
            odds = float(cells[0, 0] * cells[1, 1] / (cells[0, 1] * cells[1, 0]))
            se = float(np.sqrt((1.0 / cells).sum()))
            z = 1.959963984540054
            lo_hi = (float(np.exp(np.log(odds) - z * se)), float(np.exp(np.log(odds) + z * se)))
            warnings.warn(
                f"{h.id}: a cell of the {a} x {bcol} table is empty; the odds ratio adds 0.5 to every cell "
                "(Haldane-Anscombe)",
                SmallSampleWarning,
                stacklevel=2,
            )
        else:
            odds, lo_hi = res_c.odds_ratio, res_c.odds_ratio_ci
        order_a = list(h.levels.get(a, obs.index))
        flip = [str(v) for v in obs.index] != [str(v) for v in order_a]
        lo, hi = lo_hi
        if flip:
            odds, lo, hi = 1 / odds, 1 / hi, 1 / lo
        return _Raw("odds ratio", odds, (lo, hi), res_c.p, res_c.n, res_c.excluded, None, res_c)
    if h.test == "moderation":
        covar = list(cols.get("covar", ()))
        res_m = moderation(data, cols["y"], cols["x"], cols["m"], covar=covar or None)
        term = f"{cols['x']}:{cols['m']}"
        coefs = res_m.coefficients
        picked = coefs.loc[term] if term in coefs.index else coefs.iloc[3]
        row = {str(k): v for k, v in picked.to_dict().items()}
        ci = (float(row["ci_low"]), float(row["ci_high"]))
        return _Raw(
            "b (interaction)",
            float(row["estimate"]),
            ci,
            float(row["p"]),
            res_m.n,
            res_m.excluded,
            None,
            res_m,
        )
    raise DataError(f"hypothesis {h.id}: test {h.test!r} is not supported by the plan runner")


def run_plan(
    data: pd.DataFrame,
    plan: AnalysisPlan | str | Path | Mapping[str, Any] | None = None,
    *,
    seed: int = 2024,
    n_boot: int | None = None,
    bootstrap: bool = True,
    missing: str = "error",
) -> PlanResults:
    """Run every hypothesis of ``plan`` on scored ``data`` (columns ``<prefix>_<subscale>`` etc.).

    Columns the plan names but the data lacks raise one DataError before anything runs. Problems specific to
    one hypothesis (too few cases, a constant variable) are recorded on that hypothesis as ``error`` and its
    verdict is ``"not run"``. With ``missing="skip"``, hypotheses that need columns the data lacks are not run
    (and say which columns) instead of stopping the whole plan.
    """
    p = load_plan(plan)
    if missing not in ("error", "skip"):
        raise DataError(f"missing must be 'error' or 'skip', not {missing!r}")
    if missing == "error":
        p.check(data)
    n_boot = p.n_boot if n_boot is None else n_boot
    raws: list[tuple[Hypothesis, _Raw | None, str | None, tuple[str, ...], int]] = []
    for i, h in enumerate(p.hypotheses):
        absent = [c for c in h.variables() if c not in data.columns]
        if absent:
            raws.append((h, None, f"needs columns the data lacks: {', '.join(absent)}", (), 0))
            continue
        subset = h.select(data[list(dict.fromkeys([*h.variables(), *h.levels]))])
        outside = len(data) - len(subset)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                raw: _Raw | None = _run_one(h, subset, p, seed + i, n_boot, bootstrap)
                err = None
            except DataError as exc:
                raw, err = None, exc.summary if exc.problems else str(exc)
        messages = tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
        raws.append((h, raw, err, messages, outside))

    adjusted: dict[str, float] = {}
    for members in p.families().values():
        ids = [h.id for h in members]
        by_id = {hh.id: r for hh, r, *_ in raws}
        ps = [by_id[hid].p if by_id.get(hid) is not None else math.nan for hid in ids]  # type: ignore[union-attr]
        finite = [(hid, pv) for hid, pv in zip(ids, ps, strict=True) if math.isfinite(pv)]
        if finite:
            method = "none" if p.correction == "none" else p.correction
            adj = (
                [pv for _, pv in finite]
                if method == "none"
                else list(np.asarray(adjust_p([pv for _, pv in finite], method=method)))  # type: ignore[arg-type]
            )
            adjusted.update({hid: float(a) for (hid, _), a in zip(finite, adj, strict=True)})

    results = []
    for h, raw, err, messages, outside in raws:
        if raw is None:
            results.append(
                HypothesisResult(
                    h,
                    "",
                    math.nan,
                    (math.nan, math.nan),
                    math.nan,
                    math.nan,
                    0,
                    0,
                    outside,
                    "none",
                    "not run",
                    warnings=messages,
                    error=err,
                )
            )
            continue
        null = 1.0 if raw.effect == "odds ratio" else 0.0
        direction = _direction(raw.estimate, null)
        p_adj = adjusted.get(h.id, math.nan)
        results.append(
            HypothesisResult(
                hypothesis=h,
                effect=raw.effect,
                estimate=raw.estimate,
                ci=raw.ci,
                p=raw.p,
                p_adjusted=p_adj,
                n=raw.n,
                excluded=raw.excluded,
                outside_subset=outside,
                direction=direction,
                verdict=_verdict(h, direction, p_adj, p.alpha),
                boot=raw.boot,
                detail=raw.detail,
                warnings=messages,
            )
        )
    return PlanResults(
        plan=p, results=tuple(results), n_rows=len(data), seed=seed, n_boot=n_boot, bootstrap=bootstrap
    )
