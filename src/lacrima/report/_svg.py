"""Draw a :class:`~lacrima.report._chart.Chart` as inline SVG: axes with round ticks, the marks, a legend.

Text cannot be measured in a browser ahead of time, so label widths come from DejaVu Sans' advance widths
(the font the figures name first, and matplotlib's default); other fonts are close enough for margins.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence

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
    nice_ticks,
    tick_labels,
)

__all__ = ["render_svg", "text_width"]

PX_PER_INCH = 100.0
PX_PER_POINT = PX_PER_INCH / 72.0
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
TICK_FS = 12.5
LABEL_FS = 13.5
TITLE_FS = 13.5
LEGEND_FS = 11.5
NOTE_FS = 11.0
TICK_LEN = 4.0
INK = "#1f2430"

# Advance widths of DejaVu Sans for the characters " " to "~", in thousandths of an em.
_WIDTHS = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636,
    636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775,
    752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390,
    337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)  # fmt: skip


def text_width(text: str, size: float) -> float:
    """Approximate rendered width in px of ``text`` at font size ``size`` px."""
    total = 0
    for ch in text:
        code = ord(ch)
        total += _WIDTHS[code - 32] if 32 <= code < 127 else 640
    return total * size / 1000.0


def _f(v: float) -> str:
    return f"{v:.1f}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


class _Frame:
    """Pixel geometry of the plot area and the data-to-pixel maps."""

    def __init__(
        self,
        chart: Chart,
        limits: tuple[tuple[float, float], tuple[float, float]],
        margins: tuple[float, float, float, float],
    ) -> None:
        left, right, top, bottom = margins
        self.width = chart.width * PX_PER_INCH
        self.height = chart.height * PX_PER_INCH
        self.x0, self.x1 = left, self.width - right
        self.y0, self.y1 = top, self.height - bottom
        (self.xlo, self.xhi), (self.ylo, self.yhi) = limits
        self.xinv, self.yinv = chart.x.inverted, chart.y.inverted

    def sx(self, v: np.ndarray | float) -> np.ndarray:
        u = (np.asarray(v, dtype=float) - self.xlo) / (self.xhi - self.xlo)
        if self.xinv:
            u = 1.0 - u
        return self.x0 + u * (self.x1 - self.x0)

    def sy(self, v: np.ndarray | float) -> np.ndarray:
        u = (np.asarray(v, dtype=float) - self.ylo) / (self.yhi - self.ylo)
        if self.yinv:
            u = 1.0 - u
        return self.y1 - u * (self.y1 - self.y0)


def _ticks(
    axis_ticks: tuple[tuple[float, str], ...] | None, lo: float, hi: float, length_px: float, per_tick: float
) -> tuple[list[float], list[str]]:
    if axis_ticks is not None:
        inside = [(p, t) for p, t in axis_ticks if min(lo, hi) - 1e-9 <= p <= max(lo, hi) + 1e-9]
        return [p for p, _ in inside], [t for _, t in inside]
    target = int(min(9, max(3, round(length_px / per_tick))))
    values = nice_ticks(lo, hi, target)
    return values.tolist(), tick_labels(values)


def render_svg(chart: Chart, *, ident: str = "chart", description: str = "") -> str:
    """Inline SVG markup of ``chart`` (no XML declaration or namespace: meant for an HTML page)."""
    width, height = chart.width * PX_PER_INCH, chart.height * PX_PER_INCH
    limits = chart.limits()
    (xlo, xhi), (ylo, yhi) = limits
    top = 10.0 + (TITLE_FS + 8.0 if chart.title else 0.0)
    bottom = 8.0 + (LABEL_FS + 6.0 if chart.x.label else 0.0) + TICK_FS + TICK_LEN + 6.0
    ypos, ylabels = _ticks(chart.y.ticks, ylo, yhi, height - top - bottom, 42.0)
    ywidth = max((text_width(t, TICK_FS) for t in ylabels), default=0.0)
    left = 8.0 + (LABEL_FS + 8.0 if chart.y.label else 0.0) + ywidth + TICK_LEN + 5.0
    note_width = max((text_width(t, NOTE_FS) for _, t in chart.notes), default=0.0)
    right = 14.0 + (note_width + 10.0 if chart.notes else 0.0)
    fr = _Frame(chart, limits, (left, right, top, bottom))
    xpos, xlabels = _ticks(chart.x.ticks, xlo, xhi, fr.x1 - fr.x0, 65.0)

    out: list[str] = [
        f'<svg class="chart" viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" '
        f'height="{_f(height)}" role="img" aria-label="{_esc(description or chart.title or "chart")}" '
        f'font-family="{FONT}" fill="{INK}">',
        f"<title>{_esc(description or chart.title or 'chart')}</title>",
        f'<defs><clipPath id="{_esc(ident)}-clip"><rect x="{_f(fr.x0)}" y="{_f(fr.y0)}" '
        f'width="{_f(fr.x1 - fr.x0)}" height="{_f(fr.y1 - fr.y0)}"/></clipPath></defs>',
        f'<rect width="{_f(width)}" height="{_f(height)}" fill="#ffffff"/>',
    ]
    out.append(_grid_and_axes(chart, fr, xpos, xlabels, ypos, ylabels))
    out.append(f'<g clip-path="url(#{_esc(ident)}-clip)">')
    out.extend(_layer(layer, fr) for layer in chart.layers)
    out.append("</g>")
    out.append(_labels(chart, fr))
    if chart.legend and chart.labelled():
        out.append(_legend(chart, fr))
    out.append("</svg>")
    return "".join(out)


def _grid_and_axes(
    chart: Chart, fr: _Frame, xpos: Sequence[float], xlabels: Sequence[str], ypos: Sequence[float],
    ylabels: Sequence[str],
) -> str:  # fmt: skip
    parts: list[str] = []
    xs, ys = fr.sx(np.array(xpos, dtype=float)), fr.sy(np.array(ypos, dtype=float))
    if chart.grid:
        grid = [f"M{_f(x)} {_f(fr.y0)}V{_f(fr.y1)}" for x in xs]
        grid += [f"M{_f(fr.x0)} {_f(y)}H{_f(fr.x1)}" for y in ys]
        if grid:
            parts.append(
                f'<path d="{"".join(grid)}" stroke="#000000" stroke-opacity="0.12" stroke-width="0.8"/>'
            )
    if chart.x.line:
        parts.append(f'<path d="M{_f(fr.x0)} {_f(fr.y1)}H{_f(fr.x1)}" stroke="{INK}" stroke-width="1"/>')
    if chart.y.line:
        parts.append(f'<path d="M{_f(fr.x0)} {_f(fr.y0)}V{_f(fr.y1)}" stroke="{INK}" stroke-width="1"/>')
    marks = []
    if chart.x.tick_marks:
        marks += [f"M{_f(x)} {_f(fr.y1)}v{_f(TICK_LEN)}" for x in xs]
    if chart.y.tick_marks:
        marks += [f"M{_f(fr.x0)} {_f(y)}h{_f(-TICK_LEN)}" for y in ys]
    if marks:
        parts.append(f'<path d="{"".join(marks)}" stroke="{INK}" stroke-width="1"/>')
    ty = fr.y1 + TICK_LEN + 3.0 + TICK_FS * 0.8
    parts.append(f'<g font-size="{TICK_FS}" text-anchor="middle">')
    parts.extend(f'<text x="{_f(x)}" y="{_f(ty)}">{_esc(t)}</text>' for x, t in zip(xs, xlabels, strict=True))
    parts.append("</g>")
    tx = fr.x0 - TICK_LEN - 4.0
    parts.append(f'<g font-size="{TICK_FS}" text-anchor="end">')
    parts.extend(
        f'<text x="{_f(tx)}" y="{_f(y + TICK_FS * 0.35)}">{_esc(t)}</text>'
        for y, t in zip(ys, ylabels, strict=True)
    )
    parts.append("</g>")
    return "".join(parts)


def _labels(chart: Chart, fr: _Frame) -> str:
    parts: list[str] = []
    if chart.x.label:
        y = fr.height - 8.0 - LABEL_FS * 0.25
        parts.append(
            f'<text x="{_f((fr.x0 + fr.x1) / 2)}" y="{_f(y)}" font-size="{LABEL_FS}" '
            f'text-anchor="middle">{_esc(chart.x.label)}</text>'
        )
    if chart.y.label:
        x, y = 8.0 + LABEL_FS * 0.8, (fr.y0 + fr.y1) / 2
        parts.append(
            f'<text transform="translate({_f(x)} {_f(y)}) rotate(-90)" font-size="{LABEL_FS}" '
            f'text-anchor="middle">{_esc(chart.y.label)}</text>'
        )
    if chart.title:
        x, anchor = (fr.x0, "start") if chart.title_left else ((fr.x0 + fr.x1) / 2, "middle")
        parts.append(
            f'<text x="{_f(x)}" y="{_f(10.0 + TITLE_FS * 0.8)}" font-size="{TITLE_FS}" '
            f'text-anchor="{anchor}">{_esc(chart.title)}</text>'
        )
    if chart.notes:
        parts.append(f'<g font-size="{NOTE_FS}">')
        for value, text in chart.notes:
            y = float(fr.sy(value))
            parts.append(f'<text x="{_f(fr.x1 + 8.0)}" y="{_f(y + NOTE_FS * 0.35)}">{_esc(text)}</text>')
        parts.append("</g>")
    return "".join(parts)


# --- marks ---------------------------------------------------------------------------------------------


def _opacity(attr: str, alpha: float) -> str:
    return f' {attr}="{alpha:.3g}"' if alpha < 1 else ""


def _marker_path(marker: str, x: float, y: float, half: float) -> str:
    """Path data of one marker of half-width ``half`` px centred at (x, y) (circles are arcs)."""
    if marker == "s":
        return f"M{_f(x - half)} {_f(y - half)}h{_f(2 * half)}v{_f(2 * half)}h{_f(-2 * half)}z"
    if marker == "v":
        return f"M{_f(x - half)} {_f(y - half)}h{_f(2 * half)}L{_f(x)} {_f(y + half)}z"
    if marker == "D":
        return (
            f"M{_f(x)} {_f(y - half)}L{_f(x + half)} {_f(y)}L{_f(x)} {_f(y + half)}L{_f(x - half)} {_f(y)}z"
        )
    r = _f(half)
    return f"M{_f(x - half)} {_f(y)}a{r} {r} 0 1 0 {_f(2 * half)} 0a{r} {r} 0 1 0 {_f(-2 * half)} 0z"


def _markers(marker: str, xs: np.ndarray, ys: np.ndarray, halves: np.ndarray) -> str:
    keep = np.isfinite(xs) & np.isfinite(ys)
    return "".join(
        _marker_path(marker, float(x), float(y), float(h))
        for x, y, h in zip(xs[keep], ys[keep], halves[keep], strict=True)
    )


def _half_from_area(marker: str, area_pt2: np.ndarray) -> np.ndarray:
    if marker == "o":
        return np.sqrt(area_pt2 / math.pi) * PX_PER_POINT
    return np.sqrt(area_pt2) / 2 * PX_PER_POINT


def _runs(mask: np.ndarray) -> Iterable[slice]:
    """Slices of consecutive True values."""
    start = None
    for i, ok in enumerate(mask.tolist()):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            yield slice(start, i)
            start = None
    if start is not None:
        yield slice(start, mask.size)


def _polyline(xs: np.ndarray, ys: np.ndarray) -> str:
    ok = np.isfinite(xs) & np.isfinite(ys)
    parts = []
    for run in _runs(ok):
        pts = [f"{_f(x)} {_f(y)}" for x, y in zip(xs[run], ys[run], strict=True)]
        parts.append("M" + "L".join(pts))
    return "".join(parts)


def _points(layer: Points, fr: _Frame) -> str:
    xs, ys = fr.sx(layer.x), fr.sy(layer.y)
    size = np.broadcast_to(np.asarray(layer.size, dtype=float), xs.shape)
    d = _markers(layer.marker, xs, ys, _half_from_area(layer.marker, size))
    return f'<path d="{d}" fill="{layer.color}"{_opacity("fill-opacity", layer.alpha)}/>' if d else ""


def _line(layer: Line, fr: _Frame) -> str:
    xs, ys = fr.sx(layer.x), fr.sy(layer.y)
    d = _polyline(xs, ys)
    dash = (
        f' stroke-dasharray="{_f(3.7 * layer.width * PX_PER_POINT)} {_f(1.6 * layer.width * PX_PER_POINT)}"'
    )
    out = (
        f'<path d="{d}" fill="none" stroke="{layer.color}" stroke-width="{_f(layer.width * PX_PER_POINT)}"'
        f'{dash if layer.dashed else ""}{_opacity("stroke-opacity", layer.alpha)} stroke-linejoin="round"/>'
    )
    if layer.marker:
        half = np.full(xs.shape, layer.marker_size / 2 * PX_PER_POINT)
        m = _markers(layer.marker, xs, ys, half)
        out += f'<path d="{m}" fill="{layer.color}"{_opacity("fill-opacity", layer.alpha)}/>'
    return out


def _band(layer: Band, fr: _Frame) -> str:
    xs, lo, hi = fr.sx(layer.x), fr.sy(layer.low), fr.sy(layer.high)
    ok = np.isfinite(xs) & np.isfinite(lo) & np.isfinite(hi)
    parts = []
    for run in _runs(ok):
        upper = [f"{_f(x)} {_f(y)}" for x, y in zip(xs[run], hi[run], strict=True)]
        lower = [f"{_f(x)} {_f(y)}" for x, y in zip(xs[run][::-1], lo[run][::-1], strict=True)]
        parts.append("M" + "L".join(upper + lower) + "z")
    d = "".join(parts)
    return f'<path d="{d}" fill="{layer.color}"{_opacity("fill-opacity", layer.alpha)}/>' if d else ""


def _errorbars(layer: ErrorBars, fr: _Frame) -> str:
    xs, ys = fr.sx(layer.x), fr.sy(layer.y)
    cap = layer.cap * PX_PER_POINT
    # each interval as its two pixel ends, and the caps as offsets across the interval's direction
    if layer.horizontal:
        ends = np.broadcast_arrays(fr.sx(layer.low), ys, fr.sx(layer.high), ys)
        across = (0.0, cap)
    else:
        ends = np.broadcast_arrays(xs, fr.sy(layer.low), xs, fr.sy(layer.high))
        across = (cap, 0.0)
    rows = np.column_stack(ends)
    segs = []
    for x0, y0, x1, y1 in rows[np.isfinite(rows).all(axis=1)]:
        segs.append(f"M{_f(x0)} {_f(y0)}L{_f(x1)} {_f(y1)}")
        if cap > 0:
            dx, dy = across
            segs += [f"M{_f(x - dx)} {_f(y - dy)}l{_f(2 * dx)} {_f(2 * dy)}" for x, y in ((x0, y0), (x1, y1))]
    out = (
        f'<path d="{"".join(segs)}" fill="none" stroke="{layer.color}" '
        f'stroke-width="{_f(layer.width * PX_PER_POINT)}"/>'
    )
    if layer.marker:
        half = np.full(xs.shape, layer.marker_size / 2 * PX_PER_POINT)
        out += f'<path d="{_markers(layer.marker, xs, ys, half)}" fill="{layer.color}"/>'
    return out


def _bars(layer: Bars, fr: _Frame) -> str:
    rects = []
    half = layer.thickness / 2
    for pos, length in zip(layer.position, layer.length, strict=True):
        if not (np.isfinite(pos) and np.isfinite(length)):
            continue
        if layer.horizontal:
            xa, xb = sorted((float(fr.sx(0.0)), float(fr.sx(length))))
            ya, yb = sorted((float(fr.sy(pos - half)), float(fr.sy(pos + half))))
        else:
            xa, xb = sorted((float(fr.sx(pos - half)), float(fr.sx(pos + half))))
            ya, yb = sorted((float(fr.sy(0.0)), float(fr.sy(length))))
        rects.append(f'<rect x="{_f(xa)}" y="{_f(ya)}" width="{_f(xb - xa)}" height="{_f(yb - ya)}"/>')
    return f'<g fill="{layer.color}"{_opacity("fill-opacity", layer.alpha)}>{"".join(rects)}</g>'


def _area(layer: Area, fr: _Frame) -> str:
    d = _polyline(fr.sx(layer.x), fr.sy(layer.y))
    return f'<path d="{d}z" fill="{layer.color}"{_opacity("fill-opacity", layer.alpha)}/>' if d else ""


def _span(layer: Span, fr: _Frame) -> str:
    xa, xb = sorted((float(fr.sx(layer.low)), float(fr.sx(layer.high))))
    return (
        f'<rect x="{_f(xa)}" y="{_f(fr.y0)}" width="{_f(xb - xa)}" height="{_f(fr.y1 - fr.y0)}" '
        f'fill="{layer.color}"{_opacity("fill-opacity", layer.alpha)}/>'
    )


def _rule(layer: Rule, fr: _Frame) -> str:
    if layer.vertical:
        x = float(fr.sx(layer.value))
        d = f"M{_f(x)} {_f(fr.y0)}V{_f(fr.y1)}"
    else:
        y = float(fr.sy(layer.value))
        d = f"M{_f(fr.x0)} {_f(y)}H{_f(fr.x1)}"
    dash = ' stroke-dasharray="4 3"' if layer.dashed else ""
    return f'<path d="{d}" stroke="{layer.color}" stroke-width="{_f(layer.width * PX_PER_POINT)}"{dash}/>'


def _segments(layer: Segments, fr: _Frame) -> str:
    a, b, ys = fr.sx(layer.x0), fr.sx(layer.x1), fr.sy(layer.y)
    ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(ys)
    d = "".join(f"M{_f(p)} {_f(y)}H{_f(q)}" for p, q, y in zip(a[ok], b[ok], ys[ok], strict=True))
    return f'<path d="{d}" stroke="{layer.color}" stroke-width="{_f(layer.width * PX_PER_POINT)}"/>'


_DRAW: dict[type, Callable[..., str]] = {
    Points: _points,
    Line: _line,
    Band: _band,
    ErrorBars: _errorbars,
    Bars: _bars,
    Area: _area,
    Span: _span,
    Rule: _rule,
    Segments: _segments,
}


def _layer(layer: Layer, fr: _Frame) -> str:
    return _DRAW[type(layer)](layer, fr)


# --- legend --------------------------------------------------------------------------------------------


def _obstacles(chart: Chart, fr: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions of the marks, to find the emptiest corner for the legend."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for layer in chart.layers:
        if isinstance(layer, Points | Line | Area):
            xs.append(fr.sx(layer.x))
            ys.append(fr.sy(layer.y))
        elif isinstance(layer, Band):
            xs += [fr.sx(layer.x)] * 2
            ys += [fr.sy(layer.low), fr.sy(layer.high)]
        elif isinstance(layer, ErrorBars):
            xs.append(fr.sx(layer.x))
            ys.append(fr.sy(layer.y))
    if not xs:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs), np.concatenate(ys)


def _legend(chart: Chart, fr: _Frame) -> str:
    entries = chart.labelled()
    row = LEGEND_FS * 1.45
    swatch = 22.0
    labels = [str(getattr(e, "label", "")) for e in entries]
    widths = [swatch + 6.0 + text_width(t, LEGEND_FS) for t in labels]
    inner = max([*widths, text_width(chart.legend_title, LEGEND_FS)])
    box_w = inner + 12.0
    box_h = row * (len(entries) + (1 if chart.legend_title else 0)) + 8.0
    inset = 6.0
    corners = {
        "upper right": (fr.x1 - inset - box_w, fr.y0 + inset),
        "upper left": (fr.x0 + inset, fr.y0 + inset),
        "lower left": (fr.x0 + inset, fr.y1 - inset - box_h),
        "lower right": (fr.x1 - inset - box_w, fr.y1 - inset - box_h),
    }
    if chart.legend_loc in corners:
        bx, by = corners[chart.legend_loc]
    else:
        px, py = _obstacles(chart, fr)

        def covered(corner: tuple[float, float]) -> int:
            x, y = corner
            return int(np.sum((px >= x) & (px <= x + box_w) & (py >= y) & (py <= y + box_h)))

        bx, by = min(corners.values(), key=covered)
    parts = [
        f'<g font-size="{LEGEND_FS}"><rect x="{_f(bx)}" y="{_f(by)}" width="{_f(box_w)}" '
        f'height="{_f(box_h)}" fill="#ffffff" fill-opacity="0.85"/>'
    ]
    y = by + 4.0 + row * 0.5
    if chart.legend_title:
        parts.append(
            f'<text x="{_f(bx + 6)}" y="{_f(y + LEGEND_FS * 0.35)}">{_esc(chart.legend_title)}</text>'
        )
        y += row
    for entry, text in zip(entries, labels, strict=True):
        sx = bx + 6.0
        if isinstance(entry, Points):
            half = float(_half_from_area(entry.marker, np.array([min(float(np.max(entry.size)), 60.0)]))[0])
            d = _marker_path(entry.marker, sx + swatch / 2, y, half)
            parts.append(
                f'<path d="{d}" fill="{entry.color}"{_opacity("fill-opacity", max(entry.alpha, 0.6))}/>'
            )
        else:
            color = getattr(entry, "color", INK)
            width = getattr(entry, "width", 1.5) * PX_PER_POINT
            dash = ' stroke-dasharray="5 2.5"' if getattr(entry, "dashed", False) else ""
            parts.append(
                f'<path d="M{_f(sx)} {_f(y)}h{_f(swatch)}" stroke="{color}" '
                f'stroke-width="{_f(width)}"{dash}/>'
            )
        parts.append(f'<text x="{_f(sx + swatch + 6)}" y="{_f(y + LEGEND_FS * 0.35)}">{_esc(text)}</text>')
        y += row
    parts.append("</g>")
    return "".join(parts)
