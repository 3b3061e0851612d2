"""The battery's report figures as charts (:mod:`lacrima.report._chart`): the report embeds them as SVG;
``chart.to_figure()`` gives a matplotlib Figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lacrima import _dist
from lacrima.report._chart import PALETTE, Axis, Band, Bars, Chart, ErrorBars, Line, Points

__all__ = ["group_plot", "prevalence_plot", "scatter_fit", "simple_slopes_plot"]

MAX_POINTS = 5000


def scatter_fit(
    data: pd.DataFrame, x: str, y: str, *, xlabel: str, ylabel: str, level: float = 0.95
) -> Chart:
    """Scatter plot with the OLS line and its confidence band for the mean."""
    d = data[[x, y]].dropna().astype(float)
    rng = np.random.default_rng(0)
    jitter = 0.0 if d[x].nunique() > 15 else 0.04 * (d[x].max() - d[x].min() or 1.0)
    shown = d if len(d) <= MAX_POINTS else d.sample(MAX_POINTS, random_state=0)
    layers: list[Any] = [
        Points(
            shown[x].to_numpy() + rng.uniform(-jitter, jitter, len(shown)),
            shown[y].to_numpy(),
            size=14.0,
            alpha=0.55,
        )
    ]
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
        layers += [Band(grid, fit - tq * se, fit + tq * se), Line(grid, fit, width=2.0)]
    return Chart(tuple(layers), x=Axis(xlabel), y=Axis(ylabel))


def group_plot(
    data: pd.DataFrame, dv: str, group: str, *, order: Sequence[Any], labels: Sequence[str], ylabel: str
) -> Chart:
    """Raw points per group with the mean and its 95% CI."""
    rng = np.random.default_rng(1)
    layers: list[Any] = []
    for i, level in enumerate(order):
        vals = data.loc[data[group] == level, dv].dropna().astype(float).to_numpy()
        if len(vals) == 0:
            continue
        pts = vals if len(vals) <= MAX_POINTS else rng.choice(vals, MAX_POINTS, replace=False)
        layers.append(
            Points(i + rng.uniform(-0.15, 0.15, len(pts)), pts, color=PALETTE[i % 6], size=12.0, alpha=0.45)
        )
        m = vals.mean()
        half = 0.0
        if len(vals) > 1:
            half = float(_dist.t_ppf(0.975, len(vals) - 1) * vals.std(ddof=1) / np.sqrt(len(vals)))
        at = np.array([i + 0.3])
        layers.append(
            ErrorBars(at, np.array([m]), np.array([m - half]), np.array([m + half]), cap=4.0 if half else 0.0)
        )
    ticks = tuple((float(i), str(lab)) for i, lab in enumerate(labels))
    return Chart(tuple(layers), x=Axis(ticks=ticks), y=Axis(ylabel), width=4.4)


def prevalence_plot(table: pd.DataFrame, *, title: str = "") -> Chart:
    """Bar chart of shares with Wilson CIs; ``table`` has columns group, share, ci_low, ci_high (0-1)."""
    y = np.arange(len(table), dtype=float)
    share = table["share"].to_numpy(dtype=float) * 100
    low = table["ci_low"].to_numpy(dtype=float) * 100
    high = table["ci_high"].to_numpy(dtype=float) * 100
    ticks = tuple((float(i), str(g)) for i, g in enumerate(table["group"]))
    return Chart(
        (Bars(y, share), ErrorBars(share, y, low, high, horizontal=True, cap=3.0, marker=None)),
        x=Axis("% who cried in therapy (95% CI)", limits=(0.0, 100.0)),
        y=Axis(ticks=ticks, inverted=True),
        height=1.0 + 0.4 * max(len(table), 2),
        title=title,
    )


def simple_slopes_plot(
    slopes: pd.DataFrame, *, x_range: tuple[float, float], xlabel: str, ylabel: str, mlabel: str
) -> Chart:
    """Lines of predicted y over x at levels of the moderator.

    ``slopes`` has columns label, intercept, slope (on the centred scale of x as used in the model).
    """
    grid = np.linspace(x_range[0], x_range[1], 50)
    rows = zip(slopes["label"], slopes["intercept"].astype(float), slopes["slope"].astype(float), strict=True)
    lines = tuple(
        Line(grid, intercept + slope * grid, color=PALETTE[i % 6], width=2.0, label=str(label))
        for i, (label, intercept, slope) in enumerate(rows)
    )
    return Chart(lines, x=Axis(xlabel), y=Axis(ylabel), legend=True, legend_title=mlabel)
