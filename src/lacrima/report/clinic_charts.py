"""Charts for the clinic pages: a client's session timeline, symptom trajectory and a caseload sparkline.

Public so that the web app draws its figures with the report's renderer instead of its own. Every axis
of a clinical measure is the instrument's own fixed scale (alliance 1-7, PHQ-9 0-27), never zoomed to the
data: a fall from 6 to 5 must not look like a collapse. The functions render results computed elsewhere
(scores from ``lc.score``, bands from the feedback library); they compute nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lacrima.report._chart import PALETTE, Axis, Band, Chart, Line, Points, Rule, Span

__all__ = ["alliance_timeline_chart", "sparkline_svg", "symptom_trajectory_chart"]

_CRY = PALETTE[1]
_RUPTURE = "#d08a1e"


def _session_ticks(sessions: np.ndarray) -> tuple[tuple[float, str], ...] | None:
    if sessions.size == 0:
        return None
    lo, hi = int(sessions.min()), int(sessions.max())
    step = max(1, int(np.ceil((hi - lo + 1) / 10)))
    return tuple((float(s), str(s)) for s in range(lo, hi + 1, step))


def alliance_timeline_chart(
    scores: pd.DataFrame,
    *,
    scale: tuple[float, float] = (1.0, 7.0),
    episodes: Sequence[tuple[int, int | None]] = (),
    ylabel: str = "Session alliance",
    xlabel: str = "Session",
    cried_label: str = "cried (size: intensity)",
    width: float = 6.4,
    height: float = 3.2,
) -> Chart:
    """Session alliance on the check-in's fixed scale, crying sessions marked by intensity.

    ``scores`` has columns ``session``, ``alliance``, ``cried`` (0/1) and ``intensity`` (the instrument's
    1-7, NaN when not crying); ``episodes`` are rupture episodes as (start session, repair session or None),
    drawn as shaded spans to the repair (or the last session).
    """
    s = scores["session"].to_numpy(dtype=float)
    y = pd.to_numeric(scores["alliance"], errors="coerce").to_numpy(dtype=float)
    cried = pd.to_numeric(scores["cried"], errors="coerce").fillna(0).to_numpy(dtype=float) == 1.0
    intensity = pd.to_numeric(scores["intensity"], errors="coerce").to_numpy(dtype=float)
    lo, hi = scale
    last = float(s.max()) if s.size else 1.0
    layers: list = [
        Span(float(a) - 0.4, (float(b) if b is not None else last) + 0.4, color=_RUPTURE, alpha=0.12)
        for a, b in episodes
    ]
    layers.append(Line(s, y, width=2.0, marker="o", marker_size=4.5, label=ylabel))
    if cried.any():
        inten = np.where(np.isfinite(intensity[cried]), intensity[cried], lo)
        size = 18.0 + 14.0 * (inten - lo)  # marker area grows with intensity
        layers.append(
            Points(
                s[cried], np.full(int(cried.sum()), hi), marker="v", size=size, color=_CRY, label=cried_label
            )
        )
    pad = 0.06 * (hi - lo)
    ticks = tuple((float(v), f"{v:g}") for v in np.arange(lo, hi + 1))
    xpad = (float(s.min()) - 0.6, last + 0.6) if s.size else (0.4, 1.6)
    return Chart(
        tuple(layers),
        x=Axis(xlabel, limits=xpad, ticks=_session_ticks(s)),
        y=Axis(ylabel, limits=(lo - pad, hi + pad), ticks=ticks),
        width=width,
        height=height,
        legend=True,
        legend_loc="lower left",
    )


def symptom_trajectory_chart(
    sessions: Sequence[float],
    totals: Sequence[float],
    *,
    scale: tuple[float, float],
    cutoff: float | None = None,
    band: tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]] | None = None,
    ylabel: str = "Symptom total",
    xlabel: str = "Session",
    band_label: str = "expected recovery",
    width: float = 6.4,
    height: float = 3.0,
) -> Chart:
    """A symptom total by session on the instrument's whole range, with the expected-recovery band
    ``(sessions, expected, lower, upper)`` and the cut-off as a dashed rule."""
    s = np.asarray(sessions, dtype=float)
    t = np.asarray(totals, dtype=float)
    layers: list = []
    if band is not None:
        bx, mid, low, high = (np.asarray(b, dtype=float) for b in band)
        layers.append(Band(bx, low, high, color=PALETTE[2], alpha=0.2))
        layers.append(Line(bx, mid, color=PALETTE[2], width=1.0, dashed=True, label=band_label))
    if cutoff is not None:
        layers.append(Rule(float(cutoff), vertical=False, color=PALETTE[1]))
    layers.append(Line(s, t, width=2.0, marker="o", marker_size=4.5, color=PALETTE[3], label=ylabel))
    lo, hi = scale
    pad = 0.04 * (hi - lo)
    xs = np.concatenate([s, np.asarray(band[0], dtype=float)]) if band is not None else s
    xlim = (float(xs.min()) - 0.6, float(xs.max()) + 0.6) if xs.size else (0.4, 1.6)
    return Chart(
        tuple(layers),
        x=Axis(xlabel, limits=xlim, ticks=_session_ticks(np.concatenate([[1.0], s])) if s.size else None),
        y=Axis(ylabel, limits=(lo - pad, hi + pad)),
        width=width,
        height=height,
        legend=True,
        legend_loc="upper right",
    )


def sparkline_svg(
    values: Sequence[float | None],
    *,
    scale: tuple[float, float] = (1.0, 7.0),
    width: int = 96,
    height: int = 24,
    label: str = "",
) -> str:
    """A small inline SVG line of ``values`` (one per session) on a fixed scale, last point marked.

    Missing values leave gaps. Cheap enough to draw one per caseload row.
    """
    import html

    v = np.array([np.nan if x is None else float(x) for x in values], dtype=float)
    lo, hi = scale
    n = v.size
    xs = np.linspace(2.0, width - 4.0, n) if n > 1 else np.array([width / 2.0])
    ys = height - 2.0 - (np.clip(v, lo, hi) - lo) / (hi - lo) * (height - 4.0)
    parts: list[str] = []
    pen = "M"
    for x, y in zip(xs, ys, strict=True):
        if not np.isfinite(y):
            pen = "M"
            continue
        parts.append(f"{pen}{x:.1f} {y:.1f}")
        pen = "L"
    path = "".join(parts)
    last = [(x, y) for x, y in zip(xs, ys, strict=True) if np.isfinite(y)]
    dot = (
        f'<circle cx="{last[-1][0]:.1f}" cy="{last[-1][1]:.1f}" r="2.2" fill="{PALETTE[0]}"/>' if last else ""
    )
    mid = height - 2.0 - 0.5 * (height - 4.0)
    text = html.escape(label, quote=True)
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{text}"><title>{text}</title>'
        f'<path d="M2 {mid:.1f}H{width - 4}" stroke="#dde2ea" stroke-width="1"/>'
        f'<path d="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.6"/>{dot}</svg>'
    )
