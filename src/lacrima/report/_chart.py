"""Charts as data: what a report figure shows, independent of how it is drawn.

A :class:`Chart` is a list of marks (points, lines, bands, error bars, bars, areas, spans, rules, segments)
on two axes. It renders to inline SVG for the HTML report (:meth:`Chart.to_svg`, in ``_svg.py``) and to a
matplotlib Figure for notebooks and image files (:meth:`Chart.to_figure`, in ``_chart_mpl.py``).

Why not matplotlib for the report: importing it and rendering the battery's five figures took about 1 s of
the 3 s that a whole ``lacrima analyze`` run on a survey of 124 people may take (``bench_battery.py``),
and a PNG is blurry when zoomed or printed. SVG needs no import, stays sharp, and its text can be searched
and copied. The two renderers read the same description, so a figure is defined once.

Sizes follow matplotlib's conventions so that both renderers agree: figure size in inches, line widths
and marker sizes in points, scatter marker areas in points squared.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, ParamSpec

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "Area",
    "Axis",
    "Band",
    "Bars",
    "Chart",
    "ErrorBars",
    "Layer",
    "Line",
    "Points",
    "Rule",
    "Segments",
    "Span",
    "as_figure",
    "nice_ticks",
    "tick_labels",
]

P = ParamSpec("P")

PALETTE = ("#2f5d8a", "#c0504d", "#6a9a3a", "#8064a2", "#d08a1e", "#3b9ab2")

Marker = Literal["o", "s", "v", "D"]


class _Mark:
    """Base of the marks: the fields named in ``_arrays`` become 1-d float arrays (from lists, Series...)."""

    _arrays: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self._arrays:
            value = getattr(self, name)
            if name != "size" or not isinstance(value, int | float):
                object.__setattr__(self, name, np.asarray(value, dtype=float).ravel())


@dataclass(frozen=True, eq=False)
class Points(_Mark):
    """Markers at ``(x, y)``; ``size`` is the marker area in points squared (one value or one per point)."""

    _arrays: ClassVar[tuple[str, ...]] = ("x", "y", "size")

    x: np.ndarray
    y: np.ndarray
    color: str = PALETTE[0]
    size: float | np.ndarray = 14.0
    alpha: float = 1.0
    marker: Marker = "o"
    label: str | None = None


@dataclass(frozen=True, eq=False)
class Line(_Mark):
    """A polyline through ``(x, y)``; a NaN leaves a gap. ``width`` and ``marker_size`` are in points."""

    _arrays: ClassVar[tuple[str, ...]] = ("x", "y")

    x: np.ndarray
    y: np.ndarray
    color: str = PALETTE[0]
    width: float = 1.5
    dashed: bool = False
    alpha: float = 1.0
    marker: Marker | None = None
    marker_size: float = 4.0
    label: str | None = None


@dataclass(frozen=True, eq=False)
class Band(_Mark):
    """The area between ``low`` and ``high`` over ``x`` (a confidence band); a NaN leaves a gap."""

    _arrays: ClassVar[tuple[str, ...]] = ("x", "low", "high")

    x: np.ndarray
    low: np.ndarray
    high: np.ndarray
    color: str = PALETTE[0]
    alpha: float = 0.18


@dataclass(frozen=True, eq=False)
class ErrorBars(_Mark):
    """Intervals from ``low`` to ``high`` (absolute ends, not offsets) with caps and an optional marker
    at ``(x, y)``; vertical unless ``horizontal``. ``cap`` is the cap's half-length in points."""

    _arrays: ClassVar[tuple[str, ...]] = ("x", "y", "low", "high")

    x: np.ndarray
    y: np.ndarray
    low: np.ndarray
    high: np.ndarray
    horizontal: bool = False
    color: str = "#000000"
    width: float = 1.0
    cap: float = 4.0
    marker: Marker | None = "o"
    marker_size: float = 5.0


@dataclass(frozen=True, eq=False)
class Bars(_Mark):
    """Bars from 0 to ``length`` at ``position`` (horizontal unless ``horizontal`` is False);
    ``thickness`` is in data units of the position axis."""

    _arrays: ClassVar[tuple[str, ...]] = ("position", "length")

    position: np.ndarray
    length: np.ndarray
    horizontal: bool = True
    thickness: float = 0.6
    color: str = PALETTE[0]
    alpha: float = 0.8


@dataclass(frozen=True, eq=False)
class Area(_Mark):
    """A filled polygon with vertices ``(x, y)`` (e.g. a forest plot's pooled diamond)."""

    _arrays: ClassVar[tuple[str, ...]] = ("x", "y")

    x: np.ndarray
    y: np.ndarray
    color: str = PALETTE[1]
    alpha: float = 1.0


@dataclass(frozen=True, eq=False)
class Span(_Mark):
    """A band across the whole height of the plot from ``low`` to ``high`` on the x axis."""

    low: float
    high: float
    color: str = PALETTE[5]
    alpha: float = 0.15


@dataclass(frozen=True, eq=False)
class Rule(_Mark):
    """A reference line across the plot at ``value`` (vertical: an x value; else a y value)."""

    value: float
    vertical: bool = True
    color: str = "#888888"
    width: float = 0.8
    dashed: bool = True


@dataclass(frozen=True, eq=False)
class Segments(_Mark):
    """Horizontal segments from ``x0`` to ``x1`` at heights ``y`` (a forest plot's intervals)."""

    _arrays: ClassVar[tuple[str, ...]] = ("x0", "x1", "y")

    x0: np.ndarray
    x1: np.ndarray
    y: np.ndarray
    color: str = "#333333"
    width: float = 1.0
    label: str | None = None


Layer = Points | Line | Band | ErrorBars | Bars | Area | Span | Rule | Segments


@dataclass(frozen=True)
class Axis:
    """One axis. ``limits`` fixes either end (``None`` for automatic, e.g. ``(0, None)``); ``ticks`` gives
    categorical positions and their labels instead of automatic numeric ticks."""

    label: str = ""
    limits: tuple[float | None, float | None] | None = None
    ticks: tuple[tuple[float, str], ...] | None = None
    inverted: bool = False
    line: bool = True
    tick_marks: bool = True


@dataclass(frozen=True, eq=False)
class Chart:
    """A two-dimensional chart: marks drawn in order (later on top), axes, a title and a legend.

    ``notes`` are texts placed right of the plot area at data heights (a forest plot's estimates). The
    legend lists the marks that have a ``label``; ``legend_loc`` is ``"best"`` (the corner with the fewest
    marks under it) or a corner such as ``"lower right"``.
    """

    layers: tuple[Layer, ...]
    x: Axis = field(default_factory=Axis)
    y: Axis = field(default_factory=Axis)
    width: float = 5.2
    height: float = 3.6
    title: str = ""
    title_left: bool = False
    legend: bool = False
    legend_title: str = ""
    legend_loc: str = "best"
    notes: tuple[tuple[float, str], ...] = ()
    grid: bool = True

    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The x and y ranges shown: the marks' extent with 5% margins (as matplotlib), then the fixed
        ends of each axis."""
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        for layer in self.layers:
            lx, ly = _extent(layer)
            xs.extend(lx)
            ys.extend(ly)
        return _range(xs, self.x.limits), _range(ys, self.y.limits)

    def labelled(self) -> list[Layer]:
        """Marks that appear in the legend."""
        return [layer for layer in self.layers if getattr(layer, "label", None)]

    def to_svg(self, *, ident: str = "chart", description: str = "") -> str:
        """Inline SVG markup (for an HTML page); ``ident`` must be unique in the page."""
        from lacrima.report._svg import render_svg

        return render_svg(self, ident=ident, description=description)

    def to_figure(self, ax: Any = None) -> Figure:
        """A matplotlib Figure of the chart (drawn into ``ax`` when given)."""
        from lacrima.report._chart_mpl import render_figure

        return render_figure(self, ax)


def _extent(layer: Layer) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if isinstance(layer, Points | Line | Area):
        return [layer.x], [layer.y]
    if isinstance(layer, Band):
        return [layer.x], [layer.low, layer.high]
    if isinstance(layer, ErrorBars):
        if layer.horizontal:
            return [layer.x, layer.low, layer.high], [layer.y]
        return [layer.x], [layer.y, layer.low, layer.high]
    if isinstance(layer, Bars):
        half = layer.thickness / 2
        pos = [layer.position - half, layer.position + half]
        length = [layer.length, np.zeros(1)]
        return (length, pos) if layer.horizontal else (pos, length)
    if isinstance(layer, Span):
        return [np.array([layer.low, layer.high])], []
    if isinstance(layer, Rule):
        return ([np.array([layer.value])], []) if layer.vertical else ([], [np.array([layer.value])])
    return [layer.x0, layer.x1], [layer.y]


def _range(
    parts: Sequence[np.ndarray], fixed: tuple[float | None, float | None] | None
) -> tuple[float, float]:
    values = np.concatenate([np.asarray(p, dtype=float) for p in parts]) if parts else np.empty(0)
    values = values[np.isfinite(values)]
    if values.size:
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = 0.0, 1.0
    if hi == lo:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    else:
        pad = 0.05 * (hi - lo)
        lo, hi = lo - pad, hi + pad
    if fixed is not None:
        lo = lo if fixed[0] is None else float(fixed[0])
        hi = hi if fixed[1] is None else float(fixed[1])
        if hi <= lo:
            hi = lo + 1.0
    return lo, hi


def nice_ticks(lo: float, hi: float, target: int = 6) -> np.ndarray:
    """Round tick values inside ``[lo, hi]``: steps of 1, 2, 2.5 or 5 times a power of ten, about
    ``target`` intervals (the rule of R's ``pretty`` and matplotlib's MaxNLocator)."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return np.array([lo])
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next((m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw * (1 - 1e-9)), 10.0 * mag)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = np.arange(first, last + 1) * step
    ticks[np.abs(ticks) < step * 1e-9] = 0.0
    return ticks


def tick_labels(ticks: np.ndarray) -> list[str]:
    """Labels with as many decimals as the step needs, and a true minus sign (as matplotlib)."""
    if ticks.size == 0:
        return []
    step = float(np.min(np.diff(ticks))) if ticks.size > 1 else abs(float(ticks[0])) or 1.0
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    out = []
    for t in ticks:
        text = f"{t:.{decimals}f}"
        if float(text) == 0:
            text = f"{0:.{decimals}f}"
        out.append(text.replace("-", "\u2212"))
    return out


def as_figure(chart_function: Callable[P, Chart]) -> Callable[P, Figure]:
    """A function with the same parameters as ``chart_function`` that returns its chart drawn as a
    matplotlib Figure (for the public ``*_plot`` functions; the report uses the charts)."""

    @functools.wraps(chart_function)
    def plot(*args: P.args, **kwargs: P.kwargs) -> Figure:
        return chart_function(*args, **kwargs).to_figure()

    plot.__name__ = plot.__qualname__ = chart_function.__name__.removesuffix("_chart") + "_plot"
    plot.__doc__ = (
        f"{(chart_function.__doc__ or '').strip()}\n\n"
        f"Returns a matplotlib Figure (:func:`{chart_function.__name__}` gives the chart itself)."
    )
    return plot
