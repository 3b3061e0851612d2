"""Longitudinal figures: crying and alliance across sessions.

Each ``*_chart`` function returns a chart (:mod:`lacrima.report._chart`; the report draws it as SVG); the
``*_plot`` function of the same name returns it as a matplotlib Figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lacrima.errors import DataError
from lacrima.longitudinal import SessionSummary, summarize_sessions
from lacrima.longitudinal.columns import binary_values, require_columns, session_numbers
from lacrima.report._chart import PALETTE, Axis, Band, Chart, Line, Points, Span, as_figure

__all__ = [
    "alliance_trajectories_chart",
    "alliance_trajectories_plot",
    "client_alliance_chart",
    "client_alliance_plot",
    "crying_prevalence_chart",
    "crying_prevalence_plot",
    "crying_probability_chart",
    "crying_probability_plot",
]


def _levels(values: pd.Series, order: Sequence[Any] | None) -> list[Any]:
    present = [v for v in pd.unique(values) if not pd.isna(v)]
    if order is None:
        return sorted(present, key=str)
    return [v for v in order if v in set(present)]


def crying_prevalence_chart(
    data: pd.DataFrame | SessionSummary,
    *,
    session: str = "session",
    cried: str = "cried",
    group: str | None = None,
    order: Sequence[Any] | None = None,
    level: float = 0.95,
    min_n: int = 1,
    title: str = "",
) -> Chart:
    """Share of sessions with crying per session number, with Wilson confidence bands.

    Parameters
    ----------
    data
        A session table, or a :class:`~lacrima.longitudinal.sessions.SessionSummary` from
        ``summarize_sessions`` (for archives too large to load; its ``by`` must be ``(session,)`` or
        ``(session, group)``).
    session, cried
        Columns of the session table.
    group
        Optional grouping column (e.g. ``attachment_style``): one line per group.
    order
        Order of the groups in the legend (default sorted).
    level
        Confidence level of the bands (ignored for a SessionSummary, which has its own).
    min_n
        Session numbers with fewer observed sessions than this (in a group) are not drawn.
    title
        Optional title.
    """
    by = (session,) if group is None else (session, group)
    if isinstance(data, SessionSummary):
        if tuple(data.by) != by:
            raise DataError(
                f"crying_prevalence_plot: the summary is by {data.by}, but the plot needs by={by}; "
                "summarise with that by, or pass the session table"
            )
        table = data.table()
        level = data.level
    else:
        require_columns(data, [*by, cried], "crying_prevalence_plot")
        table = summarize_sessions(data, by=by, cried=cried, means=(), level=level).table()
    table = table[(table["n"] >= min_n) & table[session].notna()]
    groups: list[Any] = [None] if group is None else _levels(table[group], order)
    layers: list[Any] = []
    for i, g in enumerate(groups):
        part = table if g is None else table[table[group] == g]
        part = part.sort_values(session)
        x = part[session].to_numpy(dtype=float)
        colour = PALETTE[i % len(PALETTE)]
        layers.append(
            Band(
                x,
                part["ci_low"].to_numpy(dtype=float) * 100,
                part["ci_high"].to_numpy(dtype=float) * 100,
                color=colour,
            )
        )
        layers.append(
            Line(
                x,
                part["prevalence"].to_numpy(dtype=float) * 100,
                color=colour,
                width=2.0,
                label=None if g is None else str(g),
            )
        )
    return Chart(
        tuple(layers),
        x=Axis("Session"),
        y=Axis(f"% of sessions with crying ({level:.0%} CI)", limits=(0.0, None)),
        width=6.0,
        height=3.8,
        title=title,
        legend=group is not None,
        legend_title="" if group is None else group.replace("_", " "),
    )


def alliance_trajectories_chart(
    data: pd.DataFrame,
    *,
    client: str = "client_id",
    session: str = "session",
    alliance: str = "chk_alliance",
    n_clients: int = 30,
    seed: int = 0,
    fitted: tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray] | None = None,
    ylabel: str = "Alliance",
    title: str = "",
) -> Chart:
    """Alliance over sessions: thin lines for a random sample of clients, the mean per session, and
    optionally a model's population curve.

    Parameters
    ----------
    data
        Session table.
    client, session, alliance
        Columns.
    n_clients
        Number of clients drawn (without replacement, with ``seed``) for the individual lines.
    seed
        Seed of the sample.
    fitted
        Optional ``(sessions, values)`` arrays: the population-level curve of a model (e.g.
        ``fit.predict(newdata, re_form="~0")`` over a grid of sessions), drawn dashed.
    ylabel, title
        Labels.
    """
    require_columns(data, [client, session, alliance], "alliance_trajectories_plot")
    if n_clients < 0:
        raise DataError(f"alliance_trajectories_plot: n_clients is {n_clients}; give 0 or more")
    s = session_numbers(data, session, "alliance_trajectories_plot")
    frame = pd.DataFrame(
        {"c": data[client].to_numpy(), "s": s.to_numpy(), "y": pd.to_numeric(data[alliance], errors="coerce")}
    )
    ids = sorted(frame["c"].dropna().unique(), key=str)
    rng = np.random.default_rng(seed)
    chosen: Sequence[int] | np.ndarray = (
        rng.choice(len(ids), size=min(n_clients, len(ids)), replace=False) if ids else []
    )
    layers: list[Any] = []
    for j in chosen:
        one = frame[frame["c"] == ids[int(j)]].sort_values("s")
        layers.append(Line(one["s"], one["y"], color="#8c8c8c", width=0.8, alpha=0.5))
    mean = frame.dropna(subset=["y"]).groupby("s")["y"].mean()
    layers.append(Line(mean.index.to_numpy(), mean.to_numpy(), width=2.4, label="mean per session"))
    if fitted is not None:
        fx, fy = np.asarray(fitted[0], dtype=float), np.asarray(fitted[1], dtype=float)
        if fx.shape != fy.shape or fx.ndim != 1:
            raise DataError(
                "alliance_trajectories_plot: fitted must be two 1-d arrays of equal length (sessions, values)"
            )
        layers.append(Line(fx, fy, color=PALETTE[1], width=2.0, dashed=True, label="model (population)"))
    return Chart(
        tuple(layers), x=Axis("Session"), y=Axis(ylabel), width=6.0, height=3.8, title=title, legend=True
    )


def client_alliance_chart(
    data: pd.DataFrame,
    client_id: Any,
    *,
    client: str = "client_id",
    session: str = "session",
    alliance: str = "chk_alliance",
    cried: str = "cried",
    ylabel: str = "Alliance",
    title: str | None = None,
) -> Chart:
    """One client's alliance across sessions with the sessions in which they cried marked (therapist view).

    Sessions with crying get a shaded band and a marker above the line; a session without an alliance
    answer leaves a gap in the line.
    """
    require_columns(data, [client, session, alliance, cried], "client_alliance_plot")
    one = data[data[client] == client_id]
    if one.empty:
        raise DataError(f"client_alliance_plot: no sessions for {client} {client_id!r}; check the id")
    s = session_numbers(one, session, "client_alliance_plot")
    c = binary_values(one, cried, "client_alliance_plot")
    frame = pd.DataFrame(
        {"s": s.to_numpy(), "y": pd.to_numeric(one[alliance], errors="coerce").to_numpy(), "c": c}
    ).sort_values("s")
    cry = frame[frame["c"] == 1.0]
    top = float(np.nanmax(frame["y"])) if frame["y"].notna().any() else 1.0
    layers: list[Any] = [Span(x - 0.4, x + 0.4) for x in cry["s"].astype(float)]
    layers.append(
        Line(
            frame["s"].to_numpy(dtype=float),
            frame["y"].to_numpy(dtype=float),
            width=2.0,
            marker="o",
            marker_size=4.0,
            label=alliance.replace("_", " "),
        )
    )
    marks = cry["s"].to_numpy(dtype=float)
    tops = np.full(marks.size, top)
    layers.append(Points(marks, tops, marker="v", size=40.0, color=PALETTE[5], label="cried"))
    return Chart(
        tuple(layers),
        x=Axis("Session"),
        y=Axis(ylabel),
        width=6.0,
        height=3.4,
        title=f"{client} {client_id}" if title is None else title,
        legend=True,
    )


def crying_probability_chart(
    predictions: pd.DataFrame,
    *,
    order: Sequence[Any] | None = None,
    legend_title: str = "attachment style",
    title: str = "",
) -> Chart:
    """Predicted probability of crying over sessions per group (e.g. attachment style), with CI bands.

    Parameters
    ----------
    predictions
        Columns ``session, group, p, ci_low, ci_high`` (probabilities 0-1), e.g. from a logistic mixed
        model's population-level predictions.
    order
        Order of the groups (default sorted).
    legend_title, title
        Labels.
    """
    require_columns(predictions, ["session", "group", "p", "ci_low", "ci_high"], "crying_probability_plot")
    values = predictions[["p", "ci_low", "ci_high"]].apply(pd.to_numeric, errors="coerce")
    outside = ((values < 0) | (values > 1)).to_numpy().any()
    if outside:
        raise DataError(
            "crying_probability_plot: p, ci_low and ci_high must be probabilities between 0 and 1"
        )
    layers: list[Any] = []
    for i, g in enumerate(_levels(predictions["group"], order)):
        part = predictions[predictions["group"] == g].sort_values("session")
        x = part["session"].to_numpy(dtype=float)
        colour = PALETTE[i % len(PALETTE)]
        layers.append(
            Band(
                x,
                part["ci_low"].to_numpy(dtype=float),
                part["ci_high"].to_numpy(dtype=float),
                color=colour,
                alpha=0.15,
            )
        )
        layers.append(
            Line(x, part["p"].to_numpy(dtype=float), color=colour, width=2.0, label=str(g).replace("_", " "))
        )
    return Chart(
        tuple(layers),
        x=Axis("Session"),
        y=Axis("Predicted probability of crying", limits=(0.0, None)),
        width=6.0,
        height=3.8,
        title=title,
        legend=True,
        legend_title=legend_title,
    )


crying_prevalence_plot = as_figure(crying_prevalence_chart)
alliance_trajectories_plot = as_figure(alliance_trajectories_chart)
client_alliance_plot = as_figure(client_alliance_chart)
crying_probability_plot = as_figure(crying_probability_chart)
