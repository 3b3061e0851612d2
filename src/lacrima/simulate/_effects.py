"""Planted effects of the simulated survey study: the latent correlation structure and group shifts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from lacrima.errors import DataError, Problem

__all__ = [
    "DEFAULT_CORRELATIONS",
    "DEFAULT_LOCATION",
    "LATENT",
    "LATENT_NAMES",
    "StudyEffects",
    "as_study_effects",
    "coerce_effects",
    "correlation_matrix",
]

# (instrument id, subscale) of every latent score, named like the scored column it drives.
LATENT: tuple[tuple[str, str, str], ...] = (
    ("ecr_anxiety", "ecr_r", "anxiety"),
    ("ecr_avoidance", "ecr_r", "avoidance"),
    ("wai_goal", "wai_sr", "goal"),
    ("wai_task", "wai_sr", "task"),
    ("wai_bond", "wai_sr", "bond"),
    ("chg_improvement", "change", "improvement"),
    ("cry_frequency", "crying_in_therapy", "frequency"),
    ("cry_intensity", "crying_in_therapy", "intensity"),
    ("cry_positive_feelings", "crying_in_therapy", "positive_feelings"),
    ("cry_negative_feelings", "crying_in_therapy", "negative_feelings"),
    ("cry_cognitive_change", "crying_in_therapy", "cognitive_change"),
    ("cry_felt_understood", "crying_in_therapy", "felt_understood"),
    ("cry_therapist_response", "crying_in_therapy", "therapist_response"),
    ("cry_holding_back", "crying_in_therapy", "holding_back"),
    ("cat_healing", "crying_attitudes", "healing"),
    ("cat_weakness", "crying_attitudes", "weakness"),
    ("cat_acceptability", "crying_attitudes", "acceptability"),
    ("cat_gendered", "crying_attitudes", "gendered"),
)
LATENT_NAMES: tuple[str, ...] = tuple(name for name, _, _ in LATENT)

# Latent correlations within a site, gender and crying group; pairs not listed are 0. Directions follow
# the published findings (Genova et al., 2021; Katz et al., 2022; the 2024 U.S. replication); sizes are
# plausible choices for a demo, not meta-analytic estimates.
DEFAULT_CORRELATIONS: Mapping[tuple[str, str], float] = MappingProxyType(
    {
        # attachment dimensions and alliance
        ("ecr_anxiety", "ecr_avoidance"): 0.25,
        ("wai_goal", "wai_task"): 0.75,
        ("wai_goal", "wai_bond"): 0.60,
        ("wai_task", "wai_bond"): 0.65,
        ("ecr_anxiety", "wai_goal"): -0.10,
        ("ecr_anxiety", "wai_task"): -0.10,
        ("ecr_anxiety", "wai_bond"): -0.15,
        ("ecr_avoidance", "wai_goal"): -0.20,
        ("ecr_avoidance", "wai_task"): -0.20,
        ("ecr_avoidance", "wai_bond"): -0.30,
        # improvement with alliance and attachment
        ("chg_improvement", "wai_goal"): 0.40,
        ("chg_improvement", "wai_task"): 0.40,
        ("chg_improvement", "wai_bond"): 0.35,
        ("chg_improvement", "ecr_anxiety"): -0.15,
        ("chg_improvement", "ecr_avoidance"): -0.15,
        # crying experiences with improvement and alliance (scaled per site by Site.effect_scale)
        ("cry_positive_feelings", "chg_improvement"): 0.30,
        ("cry_positive_feelings", "wai_goal"): 0.20,
        ("cry_positive_feelings", "wai_task"): 0.20,
        ("cry_positive_feelings", "wai_bond"): 0.30,
        ("cry_negative_feelings", "chg_improvement"): -0.10,
        ("cry_cognitive_change", "chg_improvement"): 0.25,
        ("cry_cognitive_change", "wai_goal"): 0.15,
        ("cry_cognitive_change", "wai_task"): 0.15,
        ("cry_cognitive_change", "wai_bond"): 0.20,
        ("cry_felt_understood", "chg_improvement"): 0.20,
        ("cry_felt_understood", "wai_goal"): 0.30,
        ("cry_felt_understood", "wai_task"): 0.30,
        ("cry_felt_understood", "wai_bond"): 0.40,
        ("cry_therapist_response", "chg_improvement"): 0.15,
        ("cry_therapist_response", "wai_goal"): 0.25,
        ("cry_therapist_response", "wai_task"): 0.25,
        ("cry_therapist_response", "wai_bond"): 0.40,
        # crying experiences among themselves
        ("cry_negative_feelings", "cry_positive_feelings"): -0.30,
        ("cry_cognitive_change", "cry_positive_feelings"): 0.45,
        ("cry_felt_understood", "cry_positive_feelings"): 0.50,
        ("cry_felt_understood", "cry_cognitive_change"): 0.35,
        ("cry_therapist_response", "cry_felt_understood"): 0.55,
        ("cry_therapist_response", "cry_positive_feelings"): 0.35,
        ("cry_holding_back", "cry_negative_feelings"): 0.40,
        ("cry_holding_back", "cry_positive_feelings"): -0.20,
        ("cry_frequency", "cry_intensity"): 0.35,
        ("cry_frequency", "cry_positive_feelings"): 0.10,
        ("cry_intensity", "cry_negative_feelings"): 0.20,
        ("cry_intensity", "cry_holding_back"): 0.15,
        # attachment insecurity: more intense crying, more discomfort, but also more meaning and
        # feeling understood; avoidance goes with holding back
        ("cry_frequency", "ecr_anxiety"): 0.20,
        ("cry_intensity", "ecr_anxiety"): 0.25,
        ("cry_intensity", "ecr_avoidance"): 0.15,
        ("cry_negative_feelings", "ecr_anxiety"): 0.30,
        ("cry_negative_feelings", "ecr_avoidance"): 0.25,
        ("cry_cognitive_change", "ecr_anxiety"): 0.15,
        ("cry_cognitive_change", "ecr_avoidance"): 0.10,
        ("cry_felt_understood", "ecr_anxiety"): 0.15,
        ("cry_felt_understood", "ecr_avoidance"): 0.10,
        ("cry_holding_back", "ecr_avoidance"): 0.30,
        # attitudes to crying
        ("cat_healing", "cat_weakness"): -0.40,
        ("cat_healing", "cat_acceptability"): 0.45,
        ("cat_weakness", "cat_acceptability"): -0.45,
        ("cat_gendered", "cat_weakness"): 0.35,
        ("cat_healing", "cry_positive_feelings"): 0.30,
        ("cat_healing", "cry_frequency"): 0.15,
        ("cat_acceptability", "cry_frequency"): 0.15,
        ("cat_weakness", "cry_negative_feelings"): 0.30,
        ("cat_weakness", "cry_holding_back"): 0.30,
        ("cat_weakness", "ecr_avoidance"): 0.25,
    }
)

# Where each subscale's centre sits in its response range (0 = scale minimum, 1 = maximum).
DEFAULT_LOCATION: Mapping[str, float] = MappingProxyType(
    {
        "ecr_anxiety": 0.45,
        "ecr_avoidance": 0.35,
        "wai_goal": 0.68,
        "wai_task": 0.66,
        "wai_bond": 0.72,
        "chg_improvement": 0.62,
        "cry_frequency": 0.35,
        "cry_intensity": 0.50,
        "cry_positive_feelings": 0.55,
        "cry_negative_feelings": 0.40,
        "cry_cognitive_change": 0.55,
        "cry_felt_understood": 0.65,
        "cry_therapist_response": 0.70,
        "cry_holding_back": 0.50,
        "cat_healing": 0.62,
        "cat_weakness": 0.35,
        "cat_acceptability": 0.55,
        "cat_gendered": 0.40,
    }
)


def _is_outcome_pair(a: str, b: str) -> bool:
    """A crying-experience/outcome pair, whose correlation Site.effect_scale scales."""

    def outcome(v: str) -> bool:
        return v == "chg_improvement" or v.startswith("wai_")

    return (a.startswith("cry_") and outcome(b)) or (b.startswith("cry_") and outcome(a))


@dataclass(frozen=True)
class StudyEffects:
    """Effects planted in :func:`~lacrima.simulate.simulate_study` (latent SD units unless stated).

    Parameters
    ----------
    correlations
        Latent correlations to set, as ``{(name_a, name_b): r}`` with names from ``LATENT_NAMES`` (the
        scored column names, e.g. ``"cry_positive_feelings"``). They are laid over
        ``DEFAULT_CORRELATIONS``; set a pair to 0 to remove it. The matrix must stay positive definite.
    cried_improvement_d
        Mean difference in latent improvement, criers minus non-criers (Cohen's d on the latent scale;
        default 0.35).
    cried_log_odds_women
        Log odds ratio of having cried in therapy, women versus men (default 0.8, odds ratio 2.2).
        Non-binary participants have the men's odds.
    women_frequency_shift
        Mean shift of latent crying frequency for women who cried, versus men (default 0.4).
    women_intensity_shift
        Mean shift of latent crying intensity for women who cried, versus men (default 0.2).
    loading
        Standardised loading of every item on its subscale (default 0.75).
    location
        Overrides of ``DEFAULT_LOCATION``: where a subscale's centre sits in its response range (0-1).
    """

    correlations: Mapping[tuple[str, str], float] = field(default_factory=dict)
    cried_improvement_d: float = 0.35
    cried_log_odds_women: float = 0.8
    women_frequency_shift: float = 0.4
    women_intensity_shift: float = 0.2
    loading: float = 0.75
    location: Mapping[str, float] = field(default_factory=dict)

    def all_correlations(self) -> dict[tuple[str, str], float]:
        """Default correlations with this object's overrides laid over them (pairs in canonical order)."""
        out = {_canonical(a, b): r for (a, b), r in DEFAULT_CORRELATIONS.items()}
        for (a, b), r in self.correlations.items():
            out[_canonical(a, b)] = float(r)
        return out

    def all_locations(self) -> dict[str, float]:
        return {**DEFAULT_LOCATION, **{k: float(v) for k, v in self.location.items()}}

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for pair, r in self.correlations.items():
            if not (isinstance(pair, tuple) and len(pair) == 2):
                out.append(Problem(f"correlation key {pair!r} is not a pair of latent names"))
                continue
            unknown = [v for v in pair if v not in LATENT_NAMES]
            if unknown:
                out.append(Problem(f"correlation {pair} names unknown latent scores {unknown}"))
            elif pair[0] == pair[1]:
                out.append(Problem(f"correlation {pair} pairs a score with itself"))
            if not -1.0 < float(r) < 1.0:
                out.append(Problem(f"correlation {pair} is {r}; give a value strictly between -1 and 1"))
        for name, value in self.location.items():
            if name not in LATENT_NAMES:
                out.append(Problem(f"location names unknown latent score {name!r}"))
            elif not 0.0 <= float(value) <= 1.0:
                out.append(Problem(f"location of {name} is {value}; give a fraction of the range in [0, 1]"))
        if not 0.0 < self.loading < 1.0:
            out.append(Problem(f"loading is {self.loading}; give a value strictly between 0 and 1"))
        return out


def _canonical(a: str, b: str) -> tuple[str, str]:
    ia = LATENT_NAMES.index(a) if a in LATENT_NAMES else -1
    ib = LATENT_NAMES.index(b) if b in LATENT_NAMES else -1
    return (a, b) if ia <= ib else (b, a)


class _Effects(Protocol):
    def problems(self) -> list[Problem]: ...


E = TypeVar("E", bound=_Effects)


def coerce_effects(cls: type[E], effects: E | Mapping[str, Any] | None, what: str) -> E:
    """An effects dataclass of type ``cls`` from ``None`` (defaults), an instance, or a mapping of field
    values; every problem with the values raises one DataError naming ``what``."""
    if effects is None:
        result = cls()
    elif isinstance(effects, cls):
        result = effects
    elif isinstance(effects, Mapping):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(effects) - names)
        if unknown:
            raise DataError(f"effects names unknown settings {unknown}; the settings are {sorted(names)}")
        result = cls(**dict(effects))
    else:
        raise DataError(
            f"effects is a {type(effects).__name__}; pass None, a {cls.__name__} or a dict of its fields"
        )
    problems = result.problems()
    if problems:
        raise DataError(f"the planted {what} are not usable", problems)
    return result


def as_study_effects(effects: StudyEffects | Mapping[str, Any] | None) -> StudyEffects:
    """Build and check a :class:`StudyEffects` from ``None``, an instance, or a mapping of field values."""
    return coerce_effects(StudyEffects, effects, "effects")


def correlation_matrix(effects: StudyEffects, effect_scale: float = 1.0) -> pd.DataFrame:
    """The latent correlation matrix, crying-outcome pairs multiplied by ``effect_scale``.

    Raises a :class:`DataError` when the matrix is not positive definite.
    """
    k = len(LATENT_NAMES)
    mat = np.eye(k)
    for (a, b), r in effects.all_correlations().items():
        value = r * effect_scale if _is_outcome_pair(a, b) else r
        i, j = LATENT_NAMES.index(a), LATENT_NAMES.index(b)
        mat[i, j] = mat[j, i] = value
    smallest = float(np.linalg.eigvalsh(mat)[0])
    if smallest <= 1e-8:
        raise DataError(
            f"the latent correlation matrix (effect scale {effect_scale}) is not positive definite "
            f"(smallest eigenvalue {smallest:.3g}); choose correlations that can hold together, e.g. "
            "smaller values or fewer strong pairs"
        )
    return pd.DataFrame(mat, index=list(LATENT_NAMES), columns=list(LATENT_NAMES))
