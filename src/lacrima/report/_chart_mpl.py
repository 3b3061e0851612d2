"""Draw a :class:`~lacrima.report._chart.Chart` with matplotlib (Agg), for notebooks and image files.

Marks are drawn with increasing z-order in the chart's order, as the SVG renderer draws them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lacrima.report._chart import (
    Area,
    Band,
    Bars,
    Chart,
    ErrorBars,
    Layer,
    Line,
    Points,
    Rule,
    Segments,
    Span,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["render_figure"]


def _draw(layer: Layer, ax: Any, z: float) -> None:
    if isinstance(layer, Points):
        ax.scatter(
            layer.x, layer.y, s=layer.size, alpha=layer.alpha, color=layer.color, marker=layer.marker, lw=0,
            label=layer.label, zorder=z,
        )  # fmt: skip
    elif isinstance(layer, Line):
        ax.plot(
            layer.x, layer.y, color=layer.color, lw=layer.width, ls="--" if layer.dashed else "-",
            alpha=layer.alpha, marker=layer.marker, ms=layer.marker_size, label=layer.label, zorder=z,
        )  # fmt: skip
    elif isinstance(layer, Band):
        ax.fill_between(layer.x, layer.low, layer.high, color=layer.color, alpha=layer.alpha, lw=0, zorder=z)
    elif isinstance(layer, ErrorBars):
        spread = [layer.y - layer.low, layer.high - layer.y] if not layer.horizontal else None
        xspread = [layer.x - layer.low, layer.high - layer.x] if layer.horizontal else None
        ax.errorbar(
            layer.x, layer.y, yerr=spread, xerr=xspread, fmt=layer.marker or "none", color=layer.color,
            capsize=layer.cap, ms=layer.marker_size, elinewidth=layer.width, zorder=z,
        )  # fmt: skip
    elif isinstance(layer, Bars):
        draw = ax.barh if layer.horizontal else ax.bar
        draw(layer.position, layer.length, layer.thickness, color=layer.color, alpha=layer.alpha, zorder=z)
    elif isinstance(layer, Area):
        from matplotlib.patches import Polygon

        ax.add_patch(
            Polygon(
                np.column_stack([layer.x, layer.y]),
                closed=True,
                color=layer.color,
                alpha=layer.alpha,
                zorder=z,
            )
        )
    elif isinstance(layer, Span):
        ax.axvspan(layer.low, layer.high, color=layer.color, alpha=layer.alpha, lw=0, zorder=z)
    elif isinstance(layer, Rule):
        line = ax.axvline if layer.vertical else ax.axhline
        line(layer.value, color=layer.color, lw=layer.width, ls="--" if layer.dashed else "-", zorder=z)
    elif isinstance(layer, Segments):
        ax.hlines(layer.y, layer.x0, layer.x1, color=layer.color, lw=layer.width, label=layer.label, zorder=z)


def render_figure(chart: Chart, ax: Any = None) -> Figure:
    """Draw ``chart`` into ``ax`` (or a new constrained-layout Figure of the chart's size); return the
    Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(chart.width, chart.height), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for i, layer in enumerate(chart.layers):
        _draw(layer, ax, 2.0 + 0.01 * i)
    (xlo, xhi), (ylo, yhi) = chart.limits()
    ax.set_xlim(xlo, xhi)
    ax.set_ylim(ylo, yhi)
    for axis, which in ((chart.x, "x"), (chart.y, "y")):
        if axis.ticks is not None:
            setter = ax.set_xticks if which == "x" else ax.set_yticks
            setter([p for p, _ in axis.ticks], [t for _, t in axis.ticks])
        if axis.inverted:
            (ax.invert_xaxis if which == "x" else ax.invert_yaxis)()
        if not axis.tick_marks:
            ax.tick_params(axis=which, length=0)
    ax.set_xlabel(chart.x.label)
    ax.set_ylabel(chart.y.label)
    hidden = ["top", "right"] + ([] if chart.y.line else ["left"]) + ([] if chart.x.line else ["bottom"])
    ax.spines[hidden].set_visible(False)
    if chart.grid:
        ax.grid(alpha=0.25, linewidth=0.6)
        ax.set_axisbelow(True)
    if chart.title:
        ax.set_title(chart.title, fontsize=10, loc="left" if chart.title_left else "center")
    if chart.legend and chart.labelled():
        ax.legend(title=chart.legend_title or None, frameon=False, fontsize=8, loc=chart.legend_loc)
    for y, text in chart.notes:
        ax.annotate(
            text, xy=(1.0, y), xycoords=("axes fraction", "data"), xytext=(6, 0), textcoords="offset points",
            va="center", ha="left", fontsize=8,
        )  # fmt: skip
    return fig
