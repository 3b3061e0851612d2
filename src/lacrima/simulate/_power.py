"""Power by simulation for the two effects a crying study most often plans for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from lacrima._results import Result
from lacrima.errors import DataError, Problem
from lacrima.simulate._sites import make_rng

__all__ = ["PowerCurve", "power_by_simulation"]

# largest number of simulated values held in memory at once
_CHUNK = 4_000_000


@dataclass(frozen=True, eq=False)
class PowerCurve(Result):
    """Power at each sample size, estimated from repeated simulated studies.

    ``power[i]`` is the share of ``n_sims`` simulated studies of total size ``n[i]`` whose two-sided
    test had ``p < alpha``; ``se[i]`` is its Monte Carlo standard error.
    """

    test: str
    effect: float
    alpha: float
    n_sims: int
    seed: int | None
    n: tuple[int, ...]
    power: tuple[float, ...]
    se: tuple[float, ...]

    def table(self) -> pd.DataFrame:
        """One row per sample size: ``n, power, se, n_sims``."""
        return pd.DataFrame(
            {"n": list(self.n), "power": list(self.power), "se": list(self.se), "n_sims": self.n_sims}
        )


def _p_correlation(r: float, n: int, sims: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((sims, n))
    y = r * x + np.sqrt(1.0 - r**2) * rng.standard_normal((sims, n))
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    rr = (xc * yc).sum(axis=1) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    rr = np.clip(rr, -1.0 + 1e-15, 1.0 - 1e-15)
    t = rr * np.sqrt((n - 2) / (1.0 - rr**2))
    p: np.ndarray = 2.0 * stats.t.sf(np.abs(t), n - 2)
    return p


def _p_difference(d: float, n: int, share: float, sims: int, rng: np.random.Generator) -> np.ndarray:
    n1 = round(n * share)
    n2 = n - n1
    a = d + rng.standard_normal((sims, n1))
    b = rng.standard_normal((sims, n2))
    va, vb = a.var(axis=1, ddof=1) / n1, b.var(axis=1, ddof=1) / n2
    t = (a.mean(axis=1) - b.mean(axis=1)) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (n1 - 1) + vb**2 / (n2 - 1))
    p: np.ndarray = 2.0 * stats.t.sf(np.abs(t), df)
    return p


def power_by_simulation(
    test: Literal["correlation", "difference"],
    effect: float,
    n: Sequence[int],
    *,
    seed: int,
    n_sims: int = 2000,
    alpha: float = 0.05,
    share: float = 0.5,
) -> PowerCurve:
    """Power of a correlation test or a two-group comparison at several sample sizes, by simulation.

    Parameters
    ----------
    test
        ``"correlation"``: Pearson correlation test (t with n - 2 df) on bivariate normal data with
        correlation ``effect``. ``"difference"``: Welch t test (as :func:`lacrima.compare_groups`) of two
        normal groups with SD 1 whose means differ by ``effect`` (Cohen's d).
    effect
        Population correlation (in (-1, 1)) or standardised mean difference.
    n
        Total sample sizes (both groups together for ``"difference"``).
    seed
        Seed of the simulation.
    n_sims
        Simulated studies per sample size.
    alpha
        Two-sided significance level.
    share
        For ``"difference"``: share of the sample in the first group (e.g. 0.8 for criers).

    Returns
    -------
    PowerCurve

    Notes
    -----
    For equal groups the result agrees, within Monte Carlo error, with R's
    ``power.t.test(n = n / 2, delta = effect, sd = 1, sig.level = alpha)`` (checked in
    ``tests/reference/simulate_power.R``).
    """
    problems: list[Problem] = []
    if test not in ("correlation", "difference"):
        problems.append(Problem(f"test is {test!r}; choose 'correlation' or 'difference'"))
    if test == "correlation" and not -1.0 < effect < 1.0:
        problems.append(Problem(f"a correlation of {effect} is impossible; give a value in (-1, 1)"))
    if not 0.0 < alpha < 1.0:
        problems.append(Problem(f"alpha is {alpha}; give a level in (0, 1)"))
    if n_sims < 1:
        problems.append(Problem(f"n_sims is {n_sims}; simulate at least one study"))
    if not 0.0 < share < 1.0:
        problems.append(Problem(f"share is {share}; give the first group's share in (0, 1)"))
    sizes = [int(v) for v in n]
    if not sizes:
        problems.append(Problem("n is empty; give at least one sample size"))
    for v in sizes:
        if test == "correlation" and v < 4:
            problems.append(Problem(f"n = {v} is too small for a correlation test; give n >= 4"))
        if test == "difference" and (round(v * share) < 2 or v - round(v * share) < 2):
            problems.append(Problem(f"n = {v} leaves a group with fewer than 2 people; give a larger n"))
    if problems:
        raise DataError("power_by_simulation cannot run with these settings", problems)

    rng = make_rng(seed)
    power: list[float] = []
    for size in sizes:
        per_chunk = max(1, _CHUNK // (2 * size))
        hits = 0
        done = 0
        while done < n_sims:
            sims = min(per_chunk, n_sims - done)
            if test == "correlation":
                p = _p_correlation(float(effect), size, sims, rng)
            else:
                p = _p_difference(float(effect), size, share, sims, rng)
            hits += int(np.count_nonzero(p < alpha))
            done += sims
        power.append(hits / n_sims)
    se = tuple(float(np.sqrt(p * (1 - p) / n_sims)) for p in power)
    return PowerCurve(
        test=test,
        effect=float(effect),
        alpha=alpha,
        n_sims=n_sims,
        seed=seed,
        n=tuple(sizes),
        power=tuple(power),
        se=se,
    )
