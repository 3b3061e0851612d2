"""Simulated session-by-session data: crying episodes and alliance across courses of therapy."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from lacrima.errors import DataError, Problem
from lacrima.instruments import Instrument, list_instruments, load_instrument
from lacrima.scoring import attachment_style
from lacrima.simulate._effects import coerce_effects
from lacrima.simulate._items import apply_show_if, cut_to_scale, items_from_latent, mcar
from lacrima.simulate._plant import (
    PlantedEvents,
    assign_events,
    missed_sessions,
    plant_after_items,
    plant_alliance,
    symptoms,
)
from lacrima.simulate._sites import GENDERS, Site, as_site_list, make_rng

__all__ = ["SessionEffects", "SimulatedSessions", "simulate_sessions"]

ECR_CENTRE = 4.0
# the labels and rule of lacrima.scoring.attachment_style (cut at the midpoint, high = strictly above)


@dataclass(frozen=True)
class SessionEffects:
    """Effects planted in :func:`~lacrima.simulate.simulate_sessions`.

    ECR scores are centred at the scale midpoint 4 (``anx_c = ecr_anxiety - 4``,
    ``avo_c = ecr_avoidance - 4``); ``woman`` is 1 for women, else 0; ``t = session - 1``.

    Crying (logistic, per session): ``logit P(cried) = cry_intercept + cry_anxiety * anx_c +
    cry_avoidance * avo_c + cry_woman * woman + u_client + u_therapist`` with
    ``u_client ~ N(0, cry_client_sd**2)`` and ``u_therapist ~ N(0, cry_therapist_sd**2)``.

    Alliance (linear, on the 1-7 scale of the check-in alliance items, not clipped):
    ``alliance = alliance_intercept + alliance_session * t + alliance_lag_cried * cried_previous +
    alliance_cried * cried + alliance_avoidance * avo_c + b0_client + b1_client * t + b_therapist + e``
    with ``(b0, b1)`` bivariate normal (SDs ``client_intercept_sd``, ``client_slope_sd``, correlation
    ``client_slope_corr``), ``b_therapist ~ N(0, therapist_sd**2)``, ``e ~ N(0, residual_sd**2)``;
    ``cried_previous`` is 0 at a client's first session.

    Crying experience in a session with tears (latent, roughly SD 1): ``intensity = 0.25 * anx_c +
    0.5 * c_int + 0.8 * e``, ``positive_feelings = 0.3 * (alliance - 5) + 0.4 * c_pos + 0.8 * e``,
    ``negative_feelings = 0.2 * anx_c + 0.2 * avo_c + 0.4 * c_neg + 0.85 * e`` with standard normal client
    effects ``c_*`` (coefficients fixed; see ``truth["experience"]``).
    """

    cry_intercept: float = -2.0
    cry_anxiety: float = 0.35
    cry_avoidance: float = -0.30
    cry_woman: float = 0.5
    cry_client_sd: float = 0.8
    cry_therapist_sd: float = 0.3
    alliance_intercept: float = 4.5
    alliance_session: float = 0.03
    alliance_lag_cried: float = 0.15
    alliance_cried: float = 0.0
    alliance_avoidance: float = -0.15
    client_intercept_sd: float = 0.5
    client_slope_sd: float = 0.02
    client_slope_corr: float = -0.2
    therapist_sd: float = 0.25
    residual_sd: float = 0.5
    alliance_item_sd: float = 0.6
    ecr_anxiety_mean: float = 3.6
    ecr_anxiety_sd: float = 1.1
    ecr_avoidance_mean: float = 3.0
    ecr_avoidance_sd: float = 1.0
    ecr_corr: float = 0.25

    def problems(self) -> list[Problem]:
        out = []
        for name in (
            "cry_client_sd",
            "cry_therapist_sd",
            "client_intercept_sd",
            "client_slope_sd",
            "therapist_sd",
            "residual_sd",
            "alliance_item_sd",
            "ecr_anxiety_sd",
            "ecr_avoidance_sd",
        ):
            if getattr(self, name) < 0:
                out.append(Problem(f"{name} is {getattr(self, name)}; a standard deviation must be >= 0"))
        for name in ("client_slope_corr", "ecr_corr"):
            if not -1.0 < getattr(self, name) < 1.0:
                out.append(Problem(f"{name} is {getattr(self, name)}; give a correlation in (-1, 1)"))
        return out


_EXPERIENCE = {
    "intensity": {"anx_c": 0.25, "client": 0.5, "residual": 0.8},
    "positive_feelings": {"alliance_minus_5": 0.3, "client": 0.4, "residual": 0.8},
    "negative_feelings": {"anx_c": 0.2, "avo_c": 0.2, "client": 0.4, "residual": 0.85},
}


# check-in 1.1 items: latent = 0.3 (alliance - 5) + 0.9 residual (session-level only)
_LATE_TOPICS = ("felt_understood", "therapist_response")
_LATE_EXPERIENCE = {t: {"alliance_minus_5": 0.3, "residual": 0.9} for t in _LATE_TOPICS}


@dataclass(frozen=True, repr=False)
class SimulatedSessions:
    """Simulated session-by-session data.

    Attributes
    ----------
    data
        Session table: ``client_id, therapist_id, site, session, date, cried``, the check-in item columns
        of ``session_checkin`` (``chk_*``; when that instrument is available), then ``alliance`` (the
        session's true alliance on the 1-7 scale), ``ecr_anxiety``, ``ecr_avoidance``,
        ``attachment_style`` and ``gender`` of the client.
    clients
        One row per client: ``client_id, therapist_id, site, gender, age, ecr_anxiety, ecr_avoidance,
        attachment_style, n_sessions``.
    truth
        ``effects`` (the :class:`SessionEffects` as a dict), ``experience`` (coefficients of the crying
        experience model), ``client_effects`` and ``therapist_effects`` (DataFrames of the drawn random
        effects), ``sessions`` (min, max), ``attachment_cutoff`` and ``seed``.
    """

    data: pd.DataFrame
    clients: pd.DataFrame
    truth: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"SimulatedSessions({len(self.data)} sessions of {len(self.clients)} clients, "
            f"seed={self.truth.get('seed')})"
        )


def _checkin_instrument(given: Instrument | None) -> Instrument | None:
    if given is not None:
        return given
    if "session_checkin" in list_instruments():
        return load_instrument("session_checkin")
    return None


def _draw_by_site(
    site_idx: np.ndarray, sites: Sequence[Site], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Gender and age of each client, from the mix of the client's site."""
    n = site_idx.shape[0]
    weights = np.stack([s.gender_weights() for s in sites])[site_idx]
    u = rng.random(size=int(n))
    gidx = (u[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
    gidx = np.minimum(gidx, len(GENDERS) - 1)
    gender = np.asarray(GENDERS, dtype=object)[gidx]
    mean = np.array([s.age_mean for s in sites])[site_idx]
    sd = np.array([s.age_sd for s in sites])[site_idx]
    lo = np.array([s.age_min for s in sites])[site_idx]
    hi = np.array([s.age_max for s in sites])[site_idx]
    age = np.clip(np.rint(mean + sd * rng.standard_normal(n)), lo, hi).astype(np.int64)
    return gender, age


def simulate_sessions(
    n_clients: int = 500,
    n_therapists: int = 25,
    sessions: tuple[int, int] = (8, 30),
    *,
    seed: int | np.random.Generator,
    effects: SessionEffects | Mapping[str, Any] | None = None,
    sites: Site | Sequence[Site] | None = None,
    missing: float = 0.02,
    instrument: Instrument | None = None,
    start: str = "2024-01-08",
    plant: PlantedEvents | Mapping[str, Any] | None = None,
) -> SimulatedSessions:
    """Simulate weekly therapy sessions with crying episodes, alliance and client attachment.

    Parameters
    ----------
    n_clients, n_therapists
        Numbers of clients and therapists; each client sees one therapist drawn at random.
    sessions
        (min, max): each client has a whole number of sessions drawn uniformly from this range.
    seed
        Seed (or numpy Generator) of all randomness.
    effects
        A :class:`SessionEffects` or a dict of its fields (defaults documented there).
    sites
        Sites (only name, gender mix and ages are used; ``n`` is ignored): therapists are spread over
        them in turn and clients belong to their therapist's site. Default :func:`default_sites`.
    missing
        Share of check-in answers blanked completely at random (default 0.02; ``cried`` is never blank).
    instrument
        Check-in instrument to use instead of the shipped ``session_checkin``. Without either, the table
        has no item columns.
    start
        Earliest first-session date; first sessions are spread over the following year, then weekly
        (+-2 days).
    plant
        Clinical events to plant for scoring alert rules (default none: the output is then exactly what it
        was without this option): a :class:`~lacrima.simulate.PlantedEvents` or a dict of its fields, e.g.
        ``{"rupture": 0.1, "deterioration": 0.1, "risk": 0.05, "difficult_crying": 0.1, "missed": 0.05}``
        (shares of clients; one event per client at most) -- alliance ruptures with or without repair,
        difficult crying episodes, symptom deterioration and risk answers on PHQ-9 item 9 (with PHQ-9 and
        GAD-7 item columns on scheduled sessions), and runs of missed check-ins (rows dropped). The events
        are in ``truth["planted"]``: ``client_id, kind, session`` (onset), ``lowest_session``,
        ``repaired``, ``repair_session``, ``last_session``, ``size``; ``truth["symptom_intake"]`` has each
        client's intake totals. See ``lacrima/simulate/_plant.py`` for the event model.

    Returns
    -------
    SimulatedSessions
        ``.data`` (session table), ``.clients`` and ``.truth``.

    Notes
    -----
    Model equations and planted defaults are those of :class:`SessionEffects`: crying in about 20% of
    sessions, more for anxious clients (+0.35 log odds per ECR point), less for avoidant clients
    (-0.30) and more for women (+0.5); alliance grows 0.03 per session, with a client random intercept
    (SD 0.5) and slope (SD 0.02), therapist intercept (SD 0.25), residual SD 0.5, and a lagged effect of
    crying in the previous session of +0.15. ECR scores are normal (anxiety 3.6 +- 1.1, avoidance
    3.0 +- 1.0, r = 0.25), clipped to 1-7. Generation is vectorised (no Python loop per session), so
    archives of hundreds of thousands of sessions are cheap to make.

    Examples
    --------
    >>> import lacrima as lc
    >>> sim = lc.simulate_sessions(n_clients=200, n_therapists=10, seed=3)  # doctest: +SKIP
    >>> sim.data["cried"].mean()  # doctest: +SKIP
    """
    eff = coerce_effects(SessionEffects, effects, "session effects")
    plan = coerce_effects(PlantedEvents, plant, "clinical events") if plant is not None else None
    site_list = as_site_list(sites)
    problems = []
    if not isinstance(n_clients, (int, np.integer)) or n_clients < 1:
        problems.append(Problem(f"n_clients is {n_clients!r}; give a whole number >= 1"))
    if not isinstance(n_therapists, (int, np.integer)) or n_therapists < 1:
        problems.append(Problem(f"n_therapists is {n_therapists!r}; give a whole number >= 1"))
    if len(sessions) != 2 or not 1 <= int(sessions[0]) <= int(sessions[1]):
        problems.append(Problem(f"sessions is {sessions!r}; give (min, max) with 1 <= min <= max"))
    if not 0.0 <= missing < 1.0:
        problems.append(Problem(f"missing is {missing}; give the share of answers to blank, in [0, 1)"))
    if problems:
        raise DataError("simulate_sessions cannot run with these settings", problems)
    inst = _checkin_instrument(instrument)
    rng = make_rng(seed)
    # Child generators for what was added after the first release (check-in 1.1 items, their blanks, planted
    # events): spawning draws nothing from rng, so every earlier column keeps its values for a given seed,
    # and each child is the same whatever else is switched on.
    late_items_rng, late_blanks_rng, prng = rng.spawn(3)
    n_c, n_t = int(n_clients), int(n_therapists)

    # therapists and clients
    ther_site = np.arange(n_t) % len(site_list)
    ther_effect = rng.standard_normal(n_t) * eff.therapist_sd
    ther_cry = rng.standard_normal(n_t) * eff.cry_therapist_sd
    therapist = rng.integers(0, n_t, size=n_c)
    c_site = ther_site[therapist]
    gender, age = _draw_by_site(c_site, site_list, rng)
    woman = (gender == "woman").astype(float)
    z = rng.standard_normal((n_c, 2))
    z2 = eff.ecr_corr * z[:, 0] + np.sqrt(1 - eff.ecr_corr**2) * z[:, 1]
    anxiety = np.clip(eff.ecr_anxiety_mean + eff.ecr_anxiety_sd * z[:, 0], 1.0, 7.0)
    avoidance = np.clip(eff.ecr_avoidance_mean + eff.ecr_avoidance_sd * z2, 1.0, 7.0)
    anx_c, avo_c = anxiety - ECR_CENTRE, avoidance - ECR_CENTRE
    style = attachment_style(
        pd.DataFrame({"ecr_anxiety": anxiety, "ecr_avoidance": avoidance}), cut=ECR_CENTRE
    ).to_numpy(dtype=object)
    u_cry = rng.standard_normal(n_c) * eff.cry_client_sd
    zb = rng.standard_normal((n_c, 2))
    b0 = eff.client_intercept_sd * zb[:, 0]
    b1 = eff.client_slope_sd * (
        eff.client_slope_corr * zb[:, 0] + np.sqrt(1 - eff.client_slope_corr**2) * zb[:, 1]
    )
    c_exp = rng.standard_normal((n_c, 3))
    n_sess = rng.integers(int(sessions[0]), int(sessions[1]) + 1, size=n_c)
    first = np.datetime64(start, "D") + rng.integers(0, 365, size=n_c).astype("timedelta64[D]")

    # sessions, one row each, clients in order
    client = np.repeat(np.arange(n_c), n_sess)
    total = client.shape[0]
    offsets = np.concatenate([[0], np.cumsum(n_sess)[:-1]])
    session = np.arange(total) - offsets[client] + 1
    t = (session - 1).astype(float)
    cry_logit = (
        eff.cry_intercept
        + eff.cry_anxiety * anx_c
        + eff.cry_avoidance * avo_c
        + eff.cry_woman * woman
        + u_cry
        + ther_cry[therapist]
    )
    cried = (rng.random(total) < special.expit(cry_logit[client])).astype(np.int64)
    lag = np.zeros(total, dtype=np.int64)
    lag[1:] = cried[:-1]
    lag[session == 1] = 0
    alliance = (
        eff.alliance_intercept
        + eff.alliance_session * t
        + eff.alliance_lag_cried * lag
        + eff.alliance_cried * cried
        + eff.alliance_avoidance * avo_c[client]
        + b0[client]
        + b1[client] * t
        + ther_effect[therapist][client]
        + eff.residual_sd * rng.standard_normal(total)
    )
    jitter = rng.integers(-2, 3, size=total)
    jitter[session == 1] = 0
    date = first[client] + (7 * (session - 1) + jitter).astype("timedelta64[D]")
    planted: list[dict[str, Any]] = []
    if plan is not None:
        kinds = assign_events(plan, n_sess, prng)
        planted += plant_alliance(plan, prng, kinds, n_sess, offsets, alliance, cried)

    client_ids = np.asarray([f"c{i:05d}" for i in range(1, n_c + 1)], dtype=object)
    ther_ids = np.asarray([f"t{i:04d}" for i in range(1, n_t + 1)], dtype=object)
    site_names = np.asarray([s.name for s in site_list], dtype=object)
    columns: dict[str, Any] = {
        "client_id": client_ids[client],
        "therapist_id": ther_ids[therapist][client],
        "site": site_names[c_site][client],
        "session": session.astype(np.int64),
        "date": pd.to_datetime(date),
        "cried": cried,
    }
    if inst is not None:
        columns.update(
            _checkin_items(
                inst,
                rng,
                cried,
                alliance,
                anx_c[client],
                avo_c[client],
                c_exp[client],
                eff.alliance_item_sd,
                late_items_rng,
            )
        )
    columns.update(
        {
            "alliance": alliance,
            "ecr_anxiety": anxiety[client],
            "ecr_avoidance": avoidance[client],
            "attachment_style": style[client],
            "gender": gender[client],
        }
    )
    data = pd.DataFrame(columns)
    if inst is not None:
        apply_show_if(inst, data)
        gates = {it.show_if[0] for it in inst.items if it.show_if is not None} | {"cried"}
        late = set(_late_columns(inst))
        mcar(
            data,
            [it.column for it in inst.items if it.column in data and it.column not in gates | late],
            missing,
            rng,
        )
        if late:
            # the items added in check-in 1.1 get their blanks from a child generator, like their values
            mcar(data, [c for c in inst.columns if c in late and c in data], missing, late_blanks_rng)
    intakes = None
    if plan is not None:
        plant_after_items(plan, prng, inst, data, planted, offsets)
        if plan.any_symptoms:
            cols, rows, intakes = symptoms(
                plan, prng, kinds, n_sess, client, session, load_instrument("phq9"), load_instrument("gad7")
            )
            planted += rows
            data = pd.concat([data, pd.DataFrame(cols, index=data.index)], axis=1)
        drop, rows = missed_sessions(plan, prng, kinds, n_sess, offsets)
        planted += rows
        if drop.size:
            data = data.drop(index=data.index[drop]).reset_index(drop=True)

    clients = pd.DataFrame(
        {
            "client_id": client_ids,
            "therapist_id": ther_ids[therapist],
            "site": site_names[c_site],
            "gender": gender,
            "age": age,
            "ecr_anxiety": anxiety,
            "ecr_avoidance": avoidance,
            "attachment_style": style,
            "n_sessions": n_sess.astype(np.int64),
        }
    )
    truth: dict[str, Any] = {
        "effects": dataclasses.asdict(eff),
        "experience": {k: dict(v) for k, v in {**_EXPERIENCE, **_LATE_EXPERIENCE}.items()},
        "client_effects": pd.DataFrame(
            {"client_id": client_ids, "cry": u_cry, "alliance_intercept": b0, "alliance_slope": b1}
        ),
        "therapist_effects": pd.DataFrame(
            {"therapist_id": ther_ids, "cry": ther_cry, "alliance": ther_effect}
        ),
        "sessions": (int(sessions[0]), int(sessions[1])),
        "attachment_cutoff": ECR_CENTRE,
        "seed": seed if isinstance(seed, int) else None,
    }
    if plan is not None:
        truth["plant"] = dataclasses.asdict(plan)
        truth["planted"] = _planted_table(planted, client_ids)
        if intakes is not None:
            truth["symptom_intake"] = intakes.assign(client_id=client_ids)[
                ["client_id", "intake_phq9", "intake_gad7", "recovery"]
            ]
    return SimulatedSessions(data=data, clients=clients, truth=truth)


_PLANTED_COLUMNS = [
    "client_id",
    "kind",
    "session",
    "lowest_session",
    "repaired",
    "repair_session",
    "last_session",
    "size",
]


def _planted_table(rows: list[dict[str, Any]], client_ids: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["client", *_PLANTED_COLUMNS[1:]])
    frame.insert(0, "client_id", client_ids[frame.pop("client").to_numpy(dtype=np.int64)])
    return frame.sort_values(["client_id", "session"], kind="stable").reset_index(drop=True)


def _checkin_items(
    inst: Instrument,
    rng: np.random.Generator,
    cried: np.ndarray,
    alliance: np.ndarray,
    anx_c: np.ndarray,
    avo_c: np.ndarray,
    c_exp: np.ndarray,
    item_sd: float,
    late_rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    n = cried.shape[0]
    e = rng.standard_normal((n, 3))
    x = _EXPERIENCE
    latent = {
        "intensity": x["intensity"]["anx_c"] * anx_c
        + x["intensity"]["client"] * c_exp[:, 0]
        + x["intensity"]["residual"] * e[:, 0],
        "positive_feelings": x["positive_feelings"]["alliance_minus_5"] * (alliance - 5.0)
        + x["positive_feelings"]["client"] * c_exp[:, 1]
        + x["positive_feelings"]["residual"] * e[:, 1],
        "negative_feelings": x["negative_feelings"]["anx_c"] * anx_c
        + x["negative_feelings"]["avo_c"] * avo_c
        + x["negative_feelings"]["client"] * c_exp[:, 2]
        + x["negative_feelings"]["residual"] * e[:, 2],
    }
    alliance_items = []
    if "alliance" in inst.subscales:
        alliance_items = [inst.item(k) for k in inst.subscales["alliance"].items]
    late = _late_columns(inst)
    skip = ["cried", *(it.column for it in alliance_items), *late]
    location = {"intensity": 0.5, "positive_feelings": 0.55, "negative_feelings": 0.4}
    out = items_from_latent(inst, latent, rng, n=n, loading=0.8, location=location, skip=skip)
    out["cried"] = cried
    for it in alliance_items:
        scale = it.scale
        if scale is None:
            continue
        # the alliance is on a 1-7 scale; items on another range are rescaled linearly
        ratio = (scale.max - scale.min) / 6.0
        y = scale.min + (alliance - 1.0) * ratio + item_sd * ratio * rng.standard_normal(n)
        y = cut_to_scale(y, scale)
        out[it.column] = scale.min + scale.max - y if it.reverse else y
    if late:
        # Items added in check-in 1.1 (felt understood, the therapist's response) are drawn from a child
        # generator, so that every column the check-in had before keeps its values for a given seed.
        e_late = late_rng.standard_normal((n, 2))
        x_late = {
            topic: _LATE_EXPERIENCE[topic]["alliance_minus_5"] * (alliance - 5.0)
            + _LATE_EXPERIENCE[topic]["residual"] * e_late[:, j]
            for j, topic in enumerate(_LATE_TOPICS)
        }
        drawn = items_from_latent(
            inst,
            x_late,
            late_rng,
            n=n,
            loading=0.8,
            location={"felt_understood": 0.6, "therapist_response": 0.65},
            skip=[c for c in inst.columns if c not in late],
        )
        out.update({c: drawn[c] for c in inst.columns if c in late})
    return out


def _late_columns(inst: Instrument) -> list[str]:
    """Columns of the check-in items that simulate from their own child generator (see _checkin_items)."""
    return [it.column for it in inst.items if it.topic in _LATE_TOPICS and it.type in ("likert", "numeric")]
