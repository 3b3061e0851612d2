"""Report figures (matplotlib, Agg backend). Each function returns a Figure; the report embeds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lacrima import _dist

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["group_plot", "prevalence_plot", "scatter_fit", "simple_slopes_plot"]

MAX_POINTS = 5000
PALETTE = ["#2f5d8a", "#c0504d", "#6a9a3a", "#8064a2", "#d08a1e", "#3b9ab2"]


def _figure(width: float = 5.2, height: float = 3.6, *, fixed: bool = False) -> Figure:
    """A figure for the report. ``fixed`` uses fixed margins (for plots whose labels have a known size),
    which renders about twice as fast as matplotlib's constrained layout."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    if fixed:
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(
            left=0.8 / width, right=1 - 0.15 / width, bottom=0.6 / height, top=1 - 0.15 / height
        )
        return fig
    return Figure(figsize=(width, height), layout="constrained")


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.25, linewidth=0.6)


def scatter_fit(
    data: pd.DataFrame, x: str, y: str, *, xlabel: str, ylabel: str, level: float = 0.95
) -> Figure:
    """Scatter plot with the OLS line and its confidence band for the mean."""
    d = data[[x, y]].dropna().astype(float)
    fig = _figure(fixed=True)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    jitter = 0.0 if d[x].nunique() > 15 else 0.04 * (d[x].max() - d[x].min() or 1.0)
    shown = d if len(d) <= MAX_POINTS else d.sample(MAX_POINTS, random_state=0)
    ax.scatter(
        shown[x] + rng.uniform(-jitter, jitter, len(shown)),
        shown[y],
        s=14,
        alpha=0.55,
        color=PALETTE[0],
        lw=0,
    )
    n = len(d)
    if n >= 3 and d[x].std() > 0:
        X = np.column_stack([np.ones(n), d[x].to_numpy()])
        beta, *_ = np.linalg.lstsq(X, d[y].to_numpy(), rcond=None)
        resid = d[y].to_numpy() - X @ beta
        s2 = resid @ resid / (n - 2)
        grid = np.linspace(d[x].min(), d[x].max(), 100)
        G = np.column_stack([np.ones_like(grid), grid])
        se = np.sqrt(s2 * np.einsum("ij,jk,ik->i", G, np.linalg.inv(X.T @ X), G))
        tq = _dist.t_ppf(0.5 + level / 2, n - 2)
        fit = G @ beta
        ax.fill_between(grid, fit - tq * se, fit + tq * se, color=PALETTE[0], alpha=0.18, lw=0)
        ax.plot(grid, fit, color=PALETTE[0], lw=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _style(ax)
    return fig


def group_plot(
    data: pd.DataFrame, dv: str, group: str, *, order: Sequence[Any], labels: Sequence[str], ylabel: str
) -> Figure:
    """Raw points per group with the mean and its 95% CI."""
    fig = _figure(4.4, 3.6, fixed=True)
    ax = fig.add_subplot()
    rng = np.random.default_rng(1)
    for i, level in enumerate(order):
        vals = data.loc[data[group] == level, dv].dropna().astype(float).to_numpy()
        if len(vals) == 0:
            continue
        pts = vals if len(vals) <= MAX_POINTS else rng.choice(vals, MAX_POINTS, replace=False)
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(pts)), pts, s=12, alpha=0.45, color=PALETTE[i % 6], lw=0)
        m = vals.mean()
        if len(vals) > 1:
            half = _dist.t_ppf(0.975, len(vals) - 1) * vals.std(ddof=1) / np.sqrt(len(vals))
            ax.errorbar(i + 0.3, m, yerr=half, fmt="o", color="black", capsize=4, ms=5)
        else:
            ax.plot(i + 0.3, m, "o", color="black", ms=5)
    ax.set_xticks(range(len(order)), labels)
    ax.set_ylabel(ylabel)
    _style(ax)
    return fig


def prevalence_plot(table: pd.DataFrame, *, title: str = "") -> Figure:
    """Bar chart of shares with Wilson CIs; ``table`` has columns group, share, ci_low, ci_high (0-1)."""
    fig = _figure(5.2, 0.5 + 0.45 * max(len(table), 2))
    ax = fig.add_subplot()
    y = np.arange(len(table))
    share = table["share"].to_numpy(dtype=float) * 100
    lo = share - table["ci_low"].to_numpy(dtype=float) * 100
    hi = table["ci_high"].to_numpy(dtype=float) * 100 - share
    ax.barh(y, share, color=PALETTE[0], alpha=0.8, height=0.6)
    ax.errorbar(share, y, xerr=[lo, hi], fmt="none", color="black", capsize=3)
    ax.set_yticks(y, [str(g) for g in table["group"]])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% who cried in therapy (95% CI)")
    if title:
        ax.set_title(title, fontsize=10)
    _style(ax)
    return fig


def simple_slopes_plot(
    slopes: pd.DataFrame, *, x_range: tuple[float, float], xlabel: str, ylabel: str, mlabel: str
) -> Figure:
    """Lines of predicted y over x at levels of the moderator.

    ``slopes`` has columns label, intercept, slope (on the centred scale of x as used in the model).
    """
    fig = _figure()
    ax = fig.add_subplot()
    grid = np.linspace(x_range[0], x_range[1], 50)
    for i, (label, intercept, slope) in enumerate(
        zip(slopes["label"], slopes["intercept"].astype(float), slopes["slope"].astype(float), strict=True)
    ):
        ax.plot(grid, intercept + slope * grid, color=PALETTE[i % 6], lw=2, label=str(label))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(title=mlabel, frameon=False, fontsize=8)
    _style(ax)
    return fig
