"""Study sites for simulations: who takes part where, and how sites differ."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from lacrima.errors import DataError, Problem

__all__ = ["GENDERS", "Site", "as_site_list", "default_sites", "draw_ages", "draw_genders", "make_rng"]

GENDERS = ("woman", "man", "non_binary")


def _frozen(d: Mapping[str, float] | None) -> Mapping[str, float]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Site:
    """One site of a (simulated) multi-site study.

    Parameters
    ----------
    name
        Value of the ``site`` column.
    country
        ISO 3166 code for the ``country`` column.
    language
        Language code for the ``language`` column (the language the survey was answered in).
    n
        Number of participants.
    cried_share
        Expected share of participants who have cried in therapy (0-1). Gender shifts the probability
        within the site (see :class:`~lacrima.simulate.StudyEffects`); the site's intercept is solved so
        that the expected share over its gender mix is ``cried_share``.
    gender_mix
        Proportions of ``woman``, ``man`` and ``non_binary`` (normalised to sum to 1).
    age_mean, age_sd, age_min, age_max
        Ages are normal with this mean and SD, rounded to whole years and clipped to [age_min, age_max].
    attitude_shift
        Latent mean shifts (in SD units) of crying-attitude subscales at this site, e.g.
        ``{"weakness": 0.4}``.
    effect_scale
        Multiplies the planted correlations between crying experiences (``cry_*``) and both improvement
        (``chg_improvement``) and alliance (``wai_*``) at this site: sites differ slightly in effect sizes.
    """

    name: str
    country: str
    language: str
    n: int
    cried_share: float = 0.8
    gender_mix: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"woman": 0.75, "man": 0.22, "non_binary": 0.03})
    )
    age_mean: float = 35.0
    age_sd: float = 12.0
    age_min: int = 18
    age_max: int = 80
    attitude_shift: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    effect_scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "gender_mix", _frozen(self.gender_mix))
        object.__setattr__(self, "attitude_shift", _frozen(self.attitude_shift))

    def problems(self) -> list[Problem]:
        """What is wrong with this site's settings (empty when usable)."""
        out: list[Problem] = []
        where = f"site {self.name!r}"
        if not isinstance(self.n, (int, np.integer)) or self.n < 1:
            out.append(Problem(f"{where}: n is {self.n!r}; give a whole number of participants >= 1"))
        if not 0.0 < self.cried_share < 1.0:
            out.append(
                Problem(f"{where}: cried_share is {self.cried_share}; give a share strictly in (0, 1)")
            )
        unknown = sorted(set(self.gender_mix) - set(GENDERS))
        if unknown:
            out.append(Problem(f"{where}: gender_mix names {unknown}; use {list(GENDERS)}"))
        weights = [self.gender_mix.get(g, 0.0) for g in GENDERS]
        if min(weights) < 0 or sum(weights) <= 0:
            out.append(Problem(f"{where}: gender_mix {dict(self.gender_mix)} needs non-negative proportions"))
        if self.age_sd < 0 or self.age_min > self.age_max:
            out.append(Problem(f"{where}: ages need age_sd >= 0 and age_min <= age_max"))
        if self.effect_scale < 0:
            out.append(Problem(f"{where}: effect_scale is {self.effect_scale}; give a value >= 0"))
        return out

    def gender_weights(self) -> np.ndarray:
        w = np.array([self.gender_mix.get(g, 0.0) for g in GENDERS], dtype=float)
        return w / w.sum()


def default_sites() -> tuple[Site, ...]:
    """Three sites shaped like the published studies (sizes and settings are illustrative).

    - ``italy``: N = 106, Italian (``it``), the size of Genova et al. (2021).
    - ``israel``: N = 150, Hebrew (``he``); Katz et al. (2022). 150 is a round illustrative size, not the
      published N.
    - ``us``: N = 124, English (``en``), the size of the 2024 U.S. replication.

    Gender mixes (mostly women, some men, few non-binary), ages and shares who cried (70-85%) are
    plausible values chosen for the demo, not the published descriptives. Attitude differences are
    planted for illustration: more ``healing`` in Italy, more ``weakness`` and less ``acceptability`` in
    Israel; crying-outcome correlations are 10% weaker in Italy and 10% stronger in the U.S.
    """
    return (
        Site(
            name="italy",
            country="IT",
            language="it",
            n=106,
            cried_share=0.80,
            gender_mix={"woman": 0.80, "man": 0.18, "non_binary": 0.02},
            age_mean=33.0,
            age_sd=11.0,
            attitude_shift={"healing": 0.3},
            effect_scale=0.9,
        ),
        Site(
            name="israel",
            country="IL",
            language="he",
            n=150,
            cried_share=0.72,
            gender_mix={"woman": 0.74, "man": 0.24, "non_binary": 0.02},
            age_mean=36.0,
            age_sd=12.0,
            attitude_shift={"weakness": 0.4, "acceptability": -0.2},
            effect_scale=1.0,
        ),
        Site(
            name="us",
            country="US",
            language="en",
            n=124,
            cried_share=0.84,
            gender_mix={"woman": 0.72, "man": 0.22, "non_binary": 0.06},
            age_mean=34.0,
            age_sd=12.5,
            attitude_shift={},
            effect_scale=1.1,
        ),
    )


def check_sites(sites: Sequence[Site]) -> None:
    """Raise a :class:`DataError` listing every problem with the site settings."""
    if not sites:
        raise DataError("no sites were given; pass at least one Site or leave sites=None for the defaults")
    problems = [p for s in sites for p in s.problems()]
    names = [s.name for s in sites]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(Problem(f"site names {dupes} appear more than once; give each site its own name"))
    if problems:
        raise DataError("the simulated sites are not usable", problems)


def draw_genders(site: Site, n: int, rng: np.random.Generator) -> np.ndarray:
    """Genders drawn from the site's mix."""
    idx = rng.choice(len(GENDERS), size=n, p=site.gender_weights())
    return np.asarray(GENDERS, dtype=object)[idx]


def draw_ages(site: Site, n: int, rng: np.random.Generator) -> np.ndarray:
    """Whole-year ages, normal and clipped to the site's range."""
    ages = np.rint(site.age_mean + site.age_sd * rng.standard_normal(n))
    return np.clip(ages, site.age_min, site.age_max).astype(np.int64)


def as_site_list(sites: Site | Sequence[Site] | None) -> tuple[Site, ...]:
    """The default sites, one site, or a sequence of sites, as a checked tuple."""
    if sites is None:
        out = default_sites()
    elif isinstance(sites, Site):
        out = (sites,)
    else:
        out = tuple(sites)
        wrong = [type(s).__name__ for s in out if not isinstance(s, Site)]
        if wrong:
            raise DataError(f"sites must be Site objects (lacrima.simulate.Site), not {sorted(set(wrong))}")
    check_sites(out)
    return out


def make_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from an explicit seed (simulations are reproducible, so a seed is required)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise DataError(f"seed is {seed!r}; give a whole number (or a numpy Generator) so results repeat")
    return np.random.default_rng(int(seed))
