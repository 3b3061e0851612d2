"""Forest plot of a meta-analysis (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lacrima.crosscultural.meta import MetaResult

__all__ = ["forest_plot"]

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
    if not hasattr(result, "study_table") or not hasattr(result, "pi"):
        from lacrima.errors import DataError

        raise DataError(
            f"forest_plot needs a MetaResult from meta() without moderators; got {type(result).__name__}"
        )
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon

    studies = result.study_table()
    k = len(studies)
    if ax is None:
        fig = Figure(figsize=(7.0, 1.2 + 0.32 * (k + 2)), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ys = np.arange(k, 0, -1, dtype=float) + 1.0
    weights = studies["weight"].to_numpy(dtype=float)
    sizes = 20.0 + 180.0 * weights / max(float(weights.max()), 1e-12)
    ax.hlines(ys, studies["ci_low"], studies["ci_high"], color="#333333", linewidth=1.0)
    ax.scatter(studies["estimate"], ys, s=sizes, marker="s", color="#2f5d8a", zorder=3)

    est, (lo, hi), (plo, phi) = result.estimate, result.ci, result.pi
    y0 = 0.0
    if result.method != "FE":
        ax.hlines([y0], [plo], [phi], color="#c0504d", linewidth=1.0, label="prediction interval")
    ax.add_patch(
        Polygon(
            [(lo, y0), (est, y0 + 0.3), (hi, y0), (est, y0 - 0.3)], closed=True, color="#c0504d", zorder=3
        )
    )
    null = 0.0
    ax.axvline(null, color="#888888", linewidth=0.8, linestyle="--")
    labels = [*studies["label"].tolist(), f"Pooled ({result.method})"]
    ax.set_yticks([*ys.tolist(), y0], labels)
    ax.set_ylim(-1.0, float(ys.max()) + 1.0)
    ax.set_xlabel(xlabel or _MEASURE_LABEL.get(result.measure, "Effect"))
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0)

    text = [
        f"{e:.2f} [{a:.2f}, {b:.2f}]  {w:.1f}%"
        for e, a, b, w in zip(
            studies["estimate"], studies["ci_low"], studies["ci_high"], weights, strict=True
        )
    ]
    text.append(f"{est:.2f} [{lo:.2f}, {hi:.2f}]  100%")
    for y, t in zip([*ys.tolist(), y0], text, strict=True):
        ax.annotate(
            t,
            xy=(1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize=8,
        )
    ax.set_title(
        f"k = {result.k}, tau\u00b2 = {result.tau2:.3f}, I\u00b2 = {result.i2:.0f}%, Q({result.q_df}) = "
        f"{result.q:.2f}, p = {result.q_p:.3f}",
        fontsize=9,
        loc="left",
    )
    return fig
