"""Forest plot of a meta-analysis, as a chart (:mod:`lacrima.report._chart`): SVG in the report, a matplotlib
Figure from :func:`forest_plot`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lacrima.report._chart import PALETTE, Area, Axis, Chart, Points, Rule, Segments

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lacrima.crosscultural.meta import MetaResult

__all__ = ["forest_chart", "forest_plot"]

_MEASURE_LABEL = {"r": "Correlation (r)", "smd": "Standardised mean difference (g)", "generic": "Effect"}


def forest_plot(result: MetaResult, ax: Any = None, *, xlabel: str | None = None) -> Figure:
    """Draw a forest plot: one row per study (square sized by weight, CI line) and the pooled diamond.

    Parameters
    ----------
    result : MetaResult
        From :func:`lacrima.crosscultural.meta.meta` (intercept-only model).
    ax : matplotlib Axes, optional
        Axes to draw into; a new Figure is made when omitted.
    xlabel : str, optional
        Axis label; defaults to the measure's name.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the plot. The prediction interval is drawn as a thin line through the diamond,
        and each row is annotated with its estimate, interval and weight (the only place these are rounded).

    Notes
    -----
    Layout follows metafor's ``forest(res)``: study intervals use the normal quantile, the pooled row
    shows the CI as a diamond.
    """
    return forest_chart(result, xlabel=xlabel).to_figure(ax)


def forest_chart(result: MetaResult, *, xlabel: str | None = None) -> Chart:
    """The forest plot of :func:`forest_plot` as a chart (the report draws it as SVG)."""
    if not hasattr(result, "study_table") or not hasattr(result, "pi"):
        from lacrima.errors import DataError

        raise DataError(
            f"forest_plot needs a MetaResult from meta() without moderators; got {type(result).__name__}"
        )
    studies = result.study_table()
    k = len(studies)
    ys = np.arange(k, 0, -1, dtype=float) + 1.0
    weights = studies["weight"].to_numpy(dtype=float)
    sizes = 20.0 + 180.0 * weights / max(float(weights.max()), 1e-12)
    est, (lo, hi), (plo, phi) = result.estimate, result.ci, result.pi
    y0 = 0.0
    layers: list[Any] = [
        Rule(0.0),
        Segments(studies["ci_low"].to_numpy(dtype=float), studies["ci_high"].to_numpy(dtype=float), ys),
        Points(studies["estimate"].to_numpy(dtype=float), ys, size=sizes, marker="s", color=PALETTE[0]),
    ]
    if result.method != "FE":
        ends = np.array([plo]), np.array([phi]), np.array([y0])
        layers.append(Segments(*ends, color=PALETTE[1], label="prediction interval"))
    diamond = Area(np.array([lo, est, hi, est]), np.array([y0, y0 + 0.3, y0, y0 - 0.3]), color=PALETTE[1])
    layers.append(diamond)
    labels = [*studies["label"].astype(str).tolist(), f"Pooled ({result.method})"]
    rows = zip(studies["estimate"], studies["ci_low"], studies["ci_high"], weights, strict=True)
    text = [f"{e:.2f} [{a:.2f}, {b:.2f}]  {w:.1f}%" for e, a, b, w in rows]
    text.append(f"{est:.2f} [{lo:.2f}, {hi:.2f}]  100%")
    positions = [*ys.tolist(), y0]
    return Chart(
        tuple(layers),
        x=Axis(xlabel or _MEASURE_LABEL.get(result.measure, "Effect")),
        y=Axis(
            ticks=tuple(zip(positions, labels, strict=True)),
            limits=(-1.0, float(ys.max()) + 1.0),
            line=False,
            tick_marks=False,
        ),
        width=7.0,
        height=1.2 + 0.32 * (k + 2),
        title=(
            f"k = {result.k}, tau\u00b2 = {result.tau2:.3f}, I\u00b2 = {result.i2:.0f}%, Q({result.q_df}) = "
            f"{result.q:.2f}, p = {result.q_p:.3f}"
        ),
        title_left=True,
        grid=False,
        notes=tuple(zip(positions, text, strict=True)),
    )
