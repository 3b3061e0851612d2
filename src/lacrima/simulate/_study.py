"""Simulated multi-site survey studies of crying in therapy with planted effects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from lacrima.errors import DataError
from lacrima.instruments import Instrument
from lacrima.simulate._effects import (
    LATENT,
    LATENT_NAMES,
    StudyEffects,
    as_study_effects,
    correlation_matrix,
)
from lacrima.simulate._items import (
    apply_show_if,
    check_instrument,
    item_reliability,
    items_from_latent,
    mcar,
    require_instrument,
)
from lacrima.simulate._sites import GENDERS, Site, as_site_list, draw_ages, draw_genders, make_rng

__all__ = ["SimulatedStudy", "simulate_study"]

GATE = "cried_in_therapy"
STUDY_INSTRUMENTS = ("crying_in_therapy", "crying_attitudes", "wai_sr", "ecr_r", "change")
# codes of the demographics instrument's ``modality`` question, with illustrative shares
MODALITIES = ("psychodynamic", "cognitive_behavioural", "humanistic", "integrative", "systemic", "other")
MODALITY_WEIGHTS = (0.30, 0.25, 0.12, 0.20, 0.08, 0.05)


@dataclass(frozen=True, repr=False)
class SimulatedStudy:
    """A simulated survey study.

    Attributes
    ----------
    data
        Respondent table: ``participant_id, site, country, language, gender, age, cried_in_therapy``,
        the item columns of crying_in_therapy (``cry_*``), crying_attitudes (``cat_*``), wai_sr
        (``wai_*``), ecr_r (``ecr_*``) and change (``chg_*``), then ``modality`` and ``sessions_so_far``
        (demographics questions; illustrative, unrelated to the other variables).
    truth
        The planted values: ``latent_correlation`` (DataFrame), ``site_correlation`` (site -> DataFrame),
        ``effects`` (dict of group effects), ``sites`` (DataFrame of per-site parameters), ``planted``
        (tidy DataFrame of the headline effects), ``loading``, ``reliability`` (of each subscale's item
        mean before rounding), ``location``, ``missing`` and ``seed``.
    latent
        ``participant_id`` and the latent score of every subscale (SD units, group shifts included);
        NaN where a subscale's items were not shown (crying experiences of participants who never cried).
    """

    data: pd.DataFrame
    truth: dict[str, Any]
    latent: pd.DataFrame

    def __repr__(self) -> str:
        sites = self.data.groupby("site", sort=False).size().to_dict()
        return f"SimulatedStudy({len(self.data)} participants by site {sites}, seed={self.truth.get('seed')})"


def _instruments(given: Mapping[str, Instrument] | None) -> dict[str, Instrument]:
    needs: dict[str, list[str]] = {}
    for _, inst_id, sub in LATENT:
        needs.setdefault(inst_id, []).append(sub)
    out: dict[str, Instrument] = {}
    given = dict(given or {})
    for inst_id in STUDY_INSTRUMENTS:
        if inst_id in given:
            out[inst_id] = check_instrument(given[inst_id], inst_id, needs[inst_id])
        else:
            out[inst_id] = require_instrument(inst_id, needs[inst_id])
    return out


def _cried_intercept(site: Site, log_odds_women: float) -> float:
    """Logit intercept (men's log odds) giving the site's expected share of criers over its gender mix."""
    weights = site.gender_weights()
    shift = np.array([log_odds_women, 0.0, 0.0])

    def gap(tau: float) -> float:
        return float(np.sum(weights * special.expit(tau + shift)) - site.cried_share)

    return float(optimize.brentq(gap, -30.0, 30.0, xtol=1e-12))


def _gated_subscales(inst: Instrument) -> list[str]:
    """Subscales whose every item is shown only to some respondents (by a show_if on the gate)."""
    out = []
    for name, sub in inst.subscales.items():
        items = [inst.item(n) for n in sub.items]
        if items and all(it.show_if is not None and it.show_if[0] == GATE for it in items):
            out.append(name)
    return out


def _simulate_site(
    site: Site,
    effects: StudyEffects,
    corr: pd.DataFrame,
    instruments: Mapping[str, Instrument],
    tau: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = int(site.n)
    chol = np.linalg.cholesky(corr.to_numpy())
    z = rng.standard_normal((n, len(LATENT_NAMES))) @ chol.T
    latent = pd.DataFrame(z, columns=list(LATENT_NAMES))

    gender = draw_genders(site, n, rng)
    woman = (gender == "woman").astype(float)
    age = draw_ages(site, n, rng)
    p_cried = special.expit(tau + effects.cried_log_odds_women * woman)
    cried = (rng.random(n) < p_cried).astype(np.int64)

    latent["cry_frequency"] += effects.women_frequency_shift * woman
    latent["cry_intensity"] += effects.women_intensity_shift * woman
    latent["chg_improvement"] += effects.cried_improvement_d * cried
    for sub, shift in site.attitude_shift.items():
        col = f"cat_{sub}"
        if col not in latent:
            raise DataError(
                f"site {site.name!r} shifts the attitude {sub!r}; crying_attitudes subscales are "
                "healing, weakness, acceptability and gendered"
            )
        latent[col] += shift

    ids = [f"{site.name}-{i:05d}" for i in range(1, n + 1)]
    columns: dict[str, Any] = {
        "participant_id": ids,
        "site": [site.name] * n,
        "country": [site.country] * n,
        "language": [site.language] * n,
        "gender": gender.astype(str),
        "age": age,
        GATE: cried,
    }
    locations = effects.all_locations()
    for inst_id in STUDY_INSTRUMENTS:
        inst = instruments[inst_id]
        by_sub = {sub: latent[name].to_numpy() for name, iid, sub in LATENT if iid == inst_id}
        loc = {sub: locations[name] for name, iid, sub in LATENT if iid == inst_id}
        columns.update(
            items_from_latent(inst, by_sub, rng, n=n, loading=effects.loading, location=loc, skip=(GATE,))
        )
    columns["modality"] = rng.choice(np.asarray(MODALITIES, dtype=object), size=n, p=MODALITY_WEIGHTS)
    columns["sessions_so_far"] = 1 + rng.poisson(18.0, size=n)
    frame = pd.DataFrame(columns)

    for sub in _gated_subscales(instruments["crying_in_therapy"]):
        latent.loc[cried == 0, f"cry_{sub}"] = np.nan
    latent.insert(0, "participant_id", ids)
    return frame, latent


def simulate_study(
    sites: Site | Sequence[Site] | None = None,
    *,
    seed: int | np.random.Generator,
    effects: StudyEffects | Mapping[str, Any] | None = None,
    n: int | None = None,
    missing: float = 0.02,
    instruments: Mapping[str, Instrument] | None = None,
) -> SimulatedStudy:
    """Simulate a multi-site survey study of crying in therapy with planted effects.

    Parameters
    ----------
    sites
        The sites (a :class:`Site` or a sequence of them); default :func:`default_sites`: ``italy``
        (N = 106, it), ``israel`` (N = 150, he) and ``us`` (N = 124, en).
    seed
        Seed (or numpy Generator) of all randomness; the same seed gives the same study.
    effects
        A :class:`StudyEffects` or a dict of its fields; default the published directions below.
    n
        If given, every site gets this many participants (e.g. ``n=5000`` to check recovery).
    missing
        Share of item answers blanked completely at random (default 0.02). The gate question
        ``cried_in_therapy`` is never blanked.
    instruments
        Instrument definitions to use instead of the shipped ones, by id (``"crying_in_therapy"``,
        ``"crying_attitudes"``, ``"wai_sr"``, ``"ecr_r"``, ``"change"``).

    Returns
    -------
    SimulatedStudy
        ``.data`` (respondent table), ``.truth`` (planted values) and ``.latent`` (latent scores).

    Notes
    -----
    Model. Within each site, gender and crying group the 18 latent subscale scores (named like the
    scored columns: ``ecr_anxiety``, ``wai_bond``, ``chg_improvement``, ``cry_positive_feelings``,
    ``cat_weakness``, ...) are multivariate normal with unit variances and correlation matrix
    ``truth["latent_correlation"]`` (``DEFAULT_CORRELATIONS``; crying-outcome correlations multiplied by
    the site's ``effect_scale``; positive definiteness is checked). Then:

    - ``P(cried_in_therapy) = expit(tau_site + 0.8 * woman)``; ``tau_site`` is solved so that the
      expected share of criers over the site's gender mix is the site's ``cried_share``.
    - criers' latent improvement is higher by ``d = 0.35``;
    - women's latent crying frequency is higher by 0.4 SD and intensity by 0.2 SD;
    - the site's ``attitude_shift`` moves crying attitudes (default: ``healing`` +0.3 in Italy,
      ``weakness`` +0.4 and ``acceptability`` -0.2 in Israel).

    Headline latent correlations (published directions): positive feelings after crying with
    improvement 0.30 and with alliance (goal 0.20, task 0.20, bond 0.30); attachment anxiety with crying
    intensity 0.25, negative feelings 0.30, cognitive change 0.15 and felt understood 0.15; attachment
    avoidance with intensity 0.15, negative feelings 0.25, cognitive change 0.10, felt understood 0.10
    and holding back 0.30.

    Items follow ``item = loading * latent + sqrt(1 - loading**2) * noise`` (loading 0.75), placed at the
    subscale's ``location`` in the response range with a spread of a quarter of the range, rounded to the
    item's scale; reverse-keyed items are stored reversed. Items with ``show_if`` on
    ``cried_in_therapy`` are NaN for participants who never cried. Observed correlations of scored
    subscales are attenuated by unreliability (``truth["reliability"]``) and rounding.

    Examples
    --------
    >>> import lacrima as lc
    >>> study = lc.simulate_study(seed=1)  # doctest: +SKIP
    >>> study.data.groupby("site").size()  # doctest: +SKIP
    """
    site_list = as_site_list(sites)
    if n is not None:
        site_list = as_site_list([replace(s, n=n) for s in site_list])
    if not 0.0 <= missing < 1.0:
        raise DataError(f"missing is {missing}; give the share of answers to blank, in [0, 1)")
    eff = as_study_effects(effects)
    insts = _instruments(instruments)
    rng = make_rng(seed)

    base = correlation_matrix(eff)
    frames: list[pd.DataFrame] = []
    latents: list[pd.DataFrame] = []
    site_rows: list[dict[str, Any]] = []
    site_corr: dict[str, pd.DataFrame] = {}
    for site in site_list:
        corr = correlation_matrix(eff, site.effect_scale)
        tau = _cried_intercept(site, eff.cried_log_odds_women)
        frame, lat = _simulate_site(site, eff, corr, insts, tau, rng)
        frames.append(frame)
        latents.append(lat)
        site_corr[site.name] = corr
        site_rows.append(_site_truth(site, tau, eff))

    data = pd.concat(frames, ignore_index=True)
    latent = pd.concat(latents, ignore_index=True)
    for inst in insts.values():
        apply_show_if(inst, data)
    gates = {it.show_if[0] for inst in insts.values() for it in inst.items if it.show_if is not None}
    item_cols = [
        it.column
        for inst in insts.values()
        for it in inst.items
        if it.column in data and it.column not in gates and it.column != GATE
    ]
    mcar(data, item_cols, missing, rng)

    truth = _truth(eff, base, site_corr, site_rows, insts, missing, seed)
    return SimulatedStudy(data=data, truth=truth, latent=latent)


def _site_truth(site: Site, tau: float, eff: StudyEffects) -> dict[str, Any]:
    row: dict[str, Any] = {
        "site": site.name,
        "country": site.country,
        "language": site.language,
        "n": int(site.n),
        "cried_share": site.cried_share,
        "cried_intercept": tau,
        "p_cried_woman": float(special.expit(tau + eff.cried_log_odds_women)),
        "p_cried_man": float(special.expit(tau)),
        "p_cried_non_binary": float(special.expit(tau)),
        "effect_scale": site.effect_scale,
        "age_mean": site.age_mean,
        "age_sd": site.age_sd,
    }
    for g, w in zip(GENDERS, site.gender_weights(), strict=True):
        row[f"share_{g}"] = float(w)
    for sub in ("healing", "weakness", "acceptability", "gendered"):
        row[f"shift_{sub}"] = float(site.attitude_shift.get(sub, 0.0))
    return row


def _truth(
    eff: StudyEffects,
    base: pd.DataFrame,
    site_corr: dict[str, pd.DataFrame],
    site_rows: list[dict[str, Any]],
    insts: Mapping[str, Instrument],
    missing: float,
    seed: int | np.random.Generator,
) -> dict[str, Any]:
    reliability = {}
    for name, inst_id, sub in LATENT:
        k = len(insts[inst_id].subscales[sub].items)
        reliability[name] = item_reliability(eff.loading, k)
    effects = {
        "cried_improvement_d": eff.cried_improvement_d,
        "cried_log_odds_women": eff.cried_log_odds_women,
        "women_frequency_shift": eff.women_frequency_shift,
        "women_intensity_shift": eff.women_intensity_shift,
    }
    planted = [
        ("correlation", "cry_positive_feelings", "chg_improvement"),
        ("correlation", "cry_positive_feelings", "wai_bond"),
        ("correlation", "cry_positive_feelings", "wai_goal"),
        ("correlation", "cry_felt_understood", "wai_bond"),
        ("correlation", "ecr_anxiety", "cry_intensity"),
        ("correlation", "ecr_anxiety", "cry_negative_feelings"),
        ("correlation", "ecr_anxiety", "cry_cognitive_change"),
        ("correlation", "ecr_anxiety", "cry_felt_understood"),
        ("correlation", "ecr_avoidance", "cry_intensity"),
        ("correlation", "ecr_avoidance", "cry_negative_feelings"),
        ("correlation", "ecr_avoidance", "cry_cognitive_change"),
        ("correlation", "ecr_avoidance", "cry_felt_understood"),
        ("correlation", "ecr_avoidance", "cry_holding_back"),
    ]
    rows = [
        {
            "effect": kind,
            "x": a,
            "y": b,
            "value": float(base.to_numpy()[LATENT_NAMES.index(a), LATENT_NAMES.index(b)]),
            "scale": "latent r",
        }
        for kind, a, b in planted
    ]
    rows += [
        {
            "effect": "mean difference",
            "x": "cried_in_therapy",
            "y": "chg_improvement",
            "value": eff.cried_improvement_d,
            "scale": "latent d (criers - non-criers)",
        },
        {
            "effect": "log odds ratio",
            "x": "gender (woman vs man)",
            "y": "cried_in_therapy",
            "value": eff.cried_log_odds_women,
            "scale": "log odds",
        },
        {
            "effect": "mean difference",
            "x": "gender (woman vs man)",
            "y": "cry_frequency",
            "value": eff.women_frequency_shift,
            "scale": "latent d (women - men)",
        },
        {
            "effect": "mean difference",
            "x": "gender (woman vs man)",
            "y": "cry_intensity",
            "value": eff.women_intensity_shift,
            "scale": "latent d (women - men)",
        },
    ]
    return {
        "latent_correlation": base,
        "site_correlation": site_corr,
        "effects": effects,
        "sites": pd.DataFrame(site_rows).set_index("site"),
        "planted": pd.DataFrame(rows),
        "loading": eff.loading,
        "reliability": reliability,
        "location": eff.all_locations(),
        "missing": missing,
        "seed": seed if isinstance(seed, int) else None,
    }
