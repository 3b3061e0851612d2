"""Site effects of the battery: random-effects meta-analysis per hypothesis, and gender x crying by site.

Private helpers of :mod:`lacrima.crosscultural.multisite`. Nothing here rounds numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lacrima.analysis import crosstab_test
from lacrima.analysis.runner import HypothesisResult, PlanResults
from lacrima.crosscultural.meta import MetaResult, meta
from lacrima.errors import DataError

__all__ = [
    "META_EFFECTS",
    "GenderCrying",
    "effects_table",
    "gender_crying",
    "log_odds_ratio",
    "meta_by_hypothesis",
    "meta_inputs",
]

#: battery effects that are meta-analysed across sites, and the metafor measure they correspond to
META_EFFECTS = {"r": "ZCOR", "partial r": "ZPCOR", "Hedges' g": "SMD", "odds ratio": "OR"}


def _warning_notes(caught: Sequence[warnings.WarningMessage], where: str) -> list[str]:
    return list(dict.fromkeys(f"{where}: {w.category.__name__}: {w.message}" for w in caught))


def log_odds_ratio(cells: np.ndarray) -> tuple[float, float, bool]:
    """Log odds ratio ``log(a d / (b c))`` of a 2x2 table ``[[a, b], [c, d]]`` and its Woolf standard error.

    A table with a zero cell gets 0.5 added to every cell first (metafor's ``escalc`` default,
    ``add = 1/2, to = "only0"``); the third value says whether that happened.
    """
    x = np.asarray(cells, dtype=float)
    corrected = bool(np.any(x == 0))
    if corrected:
        x = x + 0.5
    lor = float(np.log(x[0, 0]) + np.log(x[1, 1]) - np.log(x[0, 1]) - np.log(x[1, 0]))
    return lor, float(np.sqrt(np.sum(1.0 / x))), corrected


def _smd_se(g: float, n1: float, n2: float) -> float:
    # large-sample variance of Hedges' g (escalc "SMD", vtype "LS")
    return math.sqrt(1.0 / n1 + 1.0 / n2 + g * g / (2.0 * (n1 + n2)))


def meta_inputs(hr: HypothesisResult) -> tuple[float, float, str] | None:
    """``(effect, n_or_se, kind)`` for meta-analysing one site's result, or None when it cannot enter.

    ``kind`` is ``"n"`` for correlations (the second value is the sample size to give :func:`meta`; for a
    partial correlation with q covariates it is n - q, so that the variance of Fisher's z is
    Fisher's 1 / (n - q - 3); metafor's ZPCOR uses 1 / (n - q - 2)) and ``"se"`` otherwise (Hedges' g;
    log odds ratio).
    """
    if hr.error is not None or not math.isfinite(hr.estimate):
        return None
    effect = hr.effect
    if effect == "r":
        return (hr.estimate, float(hr.n), "n") if hr.n > 3 and abs(hr.estimate) < 1 else None
    if effect == "partial r":
        q = len(hr.hypothesis.columns.get("covar", ()))
        n_eff = float(hr.n - q)
        return (hr.estimate, n_eff, "n") if n_eff > 3 and abs(hr.estimate) < 1 else None
    if effect == "Hedges' g":
        detail: Any = hr.detail
        counts = detail.means["n"].to_numpy(dtype=float) if detail is not None else np.array([])
        if counts.size != 2 or np.any(counts < 2):
            return None
        return hr.estimate, _smd_se(hr.estimate, float(counts[0]), float(counts[1])), "se"
    if effect == "odds ratio":
        det: Any = hr.detail
        if det is None or det.observed.shape != (2, 2):
            return None
        obs = det.observed
        lor, se, _ = log_odds_ratio(obs.to_numpy(dtype=float))
        # orient as the runner does: the first level of ``a`` named in the plan is the reference
        a = hr.hypothesis.columns["a"]
        order = list(hr.hypothesis.levels.get(a, obs.index))
        if [str(v) for v in obs.index] != [str(v) for v in order]:
            lor = -lor
        return lor, se, "se"
    return None


def meta_by_hypothesis(
    per_site: Mapping[str, PlanResults], hypotheses: Sequence[str]
) -> tuple[dict[str, MetaResult], list[str]]:
    """A REML random-effects meta-analysis of each meta-analysable hypothesis across sites."""
    out: dict[str, MetaResult] = {}
    notes: list[str] = []
    for hid in hypotheses:
        effects: list[float] = []
        second: list[float] = []
        labels: list[str] = []
        kind = effect_name = ""
        for site, res in per_site.items():
            hr = res[hid]
            effect_name = effect_name or hr.effect
            got = meta_inputs(hr)
            if got is None:
                continue
            effects.append(got[0])
            second.append(got[1])
            kind = got[2]
            labels.append(site)
        if effect_name and effect_name not in META_EFFECTS:
            notes.append(
                f"{hid}: its effect ({effect_name}) is not meta-analysed across sites; only correlations, "
                "partial correlations, Hedges' g and odds ratios are"
            )
            continue
        if len(effects) < 2:
            notes.append(
                f"{hid}: not meta-analysed; it could be estimated at {len(effects)} site(s) and a "
                "meta-analysis needs at least 2"
            )
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if kind == "n":
                    res_m = meta(effects, n=second, measure="r", method="REML", labels=labels)
                elif effect_name == "Hedges' g":
                    res_m = meta(effects, se=second, measure="smd", method="REML", labels=labels)
                else:
                    res_m = meta(effects, se=second, measure="generic", method="REML", labels=labels)
            except DataError as exc:
                notes.append(f"{hid}: meta-analysis not run: {exc.summary}")
                continue
        notes.extend(_warning_notes(caught, f"{hid} meta-analysis"))
        out[hid] = res_m
    return out, notes


def _plan_row(hr: HypothesisResult, source: str, label: str) -> dict[str, Any]:
    h = hr.hypothesis
    return {
        "hypothesis": h.id,
        "title": h.title,
        "effect": hr.effect,
        "source": source,
        "label": label,
        "estimate": hr.estimate,
        "ci_low": hr.ci[0],
        "ci_high": hr.ci[1],
        "p": hr.p,
        "p_adjusted": hr.p_adjusted,
        "n": hr.n,
        "verdict": hr.verdict,
        "k": math.nan,
        "tau2": math.nan,
        "i2": math.nan,
        "q": math.nan,
        "q_df": math.nan,
        "q_p": math.nan,
        "pi_low": math.nan,
        "pi_high": math.nan,
        "error": hr.error or "",
    }


def _meta_row(hid: str, pooled: HypothesisResult, m: MetaResult, n_total: float) -> dict[str, Any]:
    # odds ratios are pooled on the log scale; the table shows them as odds ratios
    back = math.exp if pooled.effect == "odds ratio" else float
    return {
        "hypothesis": hid,
        "title": pooled.hypothesis.title,
        "effect": pooled.effect,
        "source": "meta",
        "label": "random-effects meta-analysis (REML)",
        "estimate": back(m.estimate),
        "ci_low": back(m.ci[0]),
        "ci_high": back(m.ci[1]),
        "p": m.p,
        "p_adjusted": math.nan,
        "n": n_total,
        "verdict": "",
        "k": m.k,
        "tau2": m.tau2,
        "i2": m.i2,
        "q": m.q,
        "q_df": m.q_df,
        "q_p": m.q_p,
        "pi_low": back(m.pi[0]),
        "pi_high": back(m.pi[1]),
        "error": "",
    }


def effects_table(
    per_site: Mapping[str, PlanResults], pooled: PlanResults, metas: Mapping[str, MetaResult]
) -> pd.DataFrame:
    """One row per hypothesis x (each site, pooled, meta) in plan order."""
    rows: list[dict[str, Any]] = []
    for hr in pooled.results:
        hid = hr.hypothesis.id
        for site, res in per_site.items():
            rows.append(_plan_row(res[hid], "site", site))
        rows.append(_plan_row(hr, "pooled", "pooled"))
        if hid in metas:
            m = metas[hid]
            n_total = float(sum(per_site[site][hid].n for site in m.labels))
            rows.append(_meta_row(hid, hr, m, n_total))
    frame = pd.DataFrame(rows)
    frame["n"] = frame["n"].astype(float)
    return frame


@dataclass(frozen=True)
class GenderCrying:
    table: pd.DataFrame
    meta: MetaResult | None
    notes: tuple[str, ...]


def _gender_row(label: str, source: str, frame: pd.DataFrame, cried: str, gender: str) -> dict[str, Any]:
    women = pd.to_numeric(frame.loc[frame[gender] == "woman", cried], errors="coerce").dropna()
    men = pd.to_numeric(frame.loc[frame[gender] == "man", cried], errors="coerce").dropna()
    a, c = float((women == 1).sum()), float((men == 1).sum())
    b, d = float(women.size - a), float(men.size - c)
    row: dict[str, Any] = {
        "source": source,
        "label": label,
        "women_n": int(women.size),
        "women_cried": int(a),
        "women_share": a / women.size if women.size else math.nan,
        "men_n": int(men.size),
        "men_cried": int(c),
        "men_share": c / men.size if men.size else math.nan,
        "odds_ratio": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "log_or": math.nan,
        "se": math.nan,
        "corrected": False,
        "chi2": math.nan,
        "p": math.nan,
        "fisher_p": math.nan,
        "pi_low": math.nan,
        "pi_high": math.nan,
    }
    if women.size and men.size:
        lor, se, corrected = log_odds_ratio(np.array([[a, b], [c, d]]))
        row.update(
            log_or=lor,
            se=se,
            corrected=corrected,
            odds_ratio=math.exp(lor),
            ci_low=math.exp(lor - 1.959963984540054 * se),
            ci_high=math.exp(lor + 1.959963984540054 * se),
        )
    return row


def gender_crying(
    data: pd.DataFrame,
    site: str,
    sites: Sequence[str],
    *,
    cried: str = "cried_in_therapy",
    gender: str = "gender",
) -> GenderCrying:
    """Share who cried among women and men per site, each site's odds ratio (women vs men) and their
    random-effects meta-analysis on the log scale."""
    notes: list[str] = []
    missing = [c for c in (cried, gender) if c not in data.columns]
    if missing:
        return GenderCrying(
            pd.DataFrame(), None, (f"Gender x crying not compared: the data has no column(s) {missing}",)
        )
    frame = data[data[gender].isin(["woman", "man"])]
    others = int(data[gender].notna().sum() - len(frame))
    if others:
        notes.append(
            f"Gender x crying compares women and men; {others} participant(s) with another gender "
            "(non-binary, self-described, prefer not to say) are not in this comparison"
        )
    rows: list[dict[str, Any]] = []
    for name in [*sites, None]:
        sub = frame if name is None else frame[frame[site].astype("string") == name]
        row = _gender_row(
            "pooled" if name is None else name, "pooled" if name is None else "site", sub, cried, gender
        )
        if row["women_n"] and row["men_n"]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    test = crosstab_test(
                        sub.assign(**{cried: pd.to_numeric(sub[cried], errors="coerce")}), gender, cried
                    )
                    row.update(
                        chi2=test.chi2,
                        p=test.p,
                        fisher_p=test.fisher_p if test.fisher_p is not None else math.nan,
                    )
                except DataError as exc:
                    notes.append(f"Gender x crying ({row['label']}): no test: {exc.summary}")
            notes.extend(_warning_notes(caught, f"Gender x crying ({row['label']})"))
        else:
            notes.append(
                f"Gender x crying ({row['label']}): needs both women and men; the odds ratio is not computed"
            )
        if row["corrected"]:
            notes.append(f"Gender x crying ({row['label']}): a cell is empty, so 0.5 was added to every cell")
        rows.append(row)
    table = pd.DataFrame(rows)
    usable = table[(table["source"] == "site") & table["se"].notna()]
    result: MetaResult | None = None
    if len(usable) >= 2:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = meta(
                usable["log_or"].to_numpy(dtype=float),
                se=usable["se"].to_numpy(dtype=float),
                measure="generic",
                method="REML",
                labels=usable["label"].tolist(),
            )
        notes.extend(_warning_notes(caught, "Gender x crying meta-analysis"))
        meta_row = {
            "source": "meta",
            "label": "random-effects meta-analysis (REML)",
            "women_n": int(usable["women_n"].sum()),
            "women_cried": int(usable["women_cried"].sum()),
            "women_share": math.nan,
            "men_n": int(usable["men_n"].sum()),
            "men_cried": int(usable["men_cried"].sum()),
            "men_share": math.nan,
            "odds_ratio": math.exp(result.estimate),
            "ci_low": math.exp(result.ci[0]),
            "ci_high": math.exp(result.ci[1]),
            "log_or": result.estimate,
            "se": result.se_z,
            "corrected": False,
            "chi2": math.nan,
            "p": result.p,
            "fisher_p": math.nan,
            "pi_low": math.exp(result.pi[0]),
            "pi_high": math.exp(result.pi[1]),
        }
        table = pd.concat([table, pd.DataFrame([meta_row])], ignore_index=True)
    else:
        notes.append(
            f"Gender x crying: odds ratios are available at {len(usable)} site(s); the meta-analysis needs 2"
        )
    return GenderCrying(table, result, tuple(notes))
