"""Longitudinal figures: crying and alliance across sessions; each returns a Figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lacrima.errors import DataError
from lacrima.longitudinal._archive import SessionSummary, summarise_sessions
from lacrima.longitudinal._sessions_common import binary_values, require_columns, session_numbers
from lacrima.report._figures import PALETTE, _figure, _style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "alliance_trajectories_plot",
    "client_alliance_plot",
    "crying_prevalence_plot",
    "crying_probability_plot",
]


def _levels(values: pd.Series, order: Sequence[Any] | None) -> list[Any]:
    present = [v for v in pd.unique(values) if not pd.isna(v)]
    if order is None:
        return sorted(present, key=str)
    return [v for v in order if v in set(present)]


def crying_prevalence_plot(
    data: pd.DataFrame | SessionSummary,
    *,
    session: str = "session",
    cried: str = "cried",
    group: str | None = None,
    order: Sequence[Any] | None = None,
    level: float = 0.95,
    min_n: int = 1,
    title: str = "",
) -> Figure:
    """Share of sessions with crying per session number, with Wilson confidence bands.

    Parameters
    ----------
    data
        A session table, or a :class:`~lacrima.longitudinal.sessions.SessionSummary` from
        ``summarise_sessions`` (for archives too large to load; its ``by`` must be ``(session,)`` or
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
        table = summarise_sessions(data, by=by, cried=cried, means=(), level=level).table()
    table = table[(table["n"] >= min_n) & table[session].notna()]
    fig = _figure(6.0, 3.8)
    ax = fig.add_subplot()
    groups: list[Any] = [None] if group is None else _levels(table[group], order)
    for i, g in enumerate(groups):
        part = table if g is None else table[table[group] == g]
        part = part.sort_values(session)
        x = part[session].to_numpy(dtype=float)
        colour = PALETTE[i % len(PALETTE)]
        ax.fill_between(
            x,
            part["ci_low"].to_numpy(dtype=float) * 100,
            part["ci_high"].to_numpy(dtype=float) * 100,
            color=colour,
            alpha=0.18,
            lw=0,
        )
        ax.plot(
            x,
            part["prevalence"].to_numpy(dtype=float) * 100,
            color=colour,
            lw=2,
            label=None if g is None else str(g),
        )
    ax.set_xlabel("Session")
    ax.set_ylabel(f"% of sessions with crying ({level:.0%} CI)")
    ax.set_ylim(bottom=0)
    if group is not None:
        ax.legend(title=group.replace("_", " "), frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    _style(ax)
    return fig


def alliance_trajectories_plot(
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
) -> Figure:
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
    fig = _figure(6.0, 3.8)
    ax = fig.add_subplot()
    ids = sorted(frame["c"].dropna().unique(), key=str)
    rng = np.random.default_rng(seed)
    chosen: Sequence[int] | np.ndarray = (
        rng.choice(len(ids), size=min(n_clients, len(ids)), replace=False) if ids else []
    )
    for j in chosen:
        one = frame[frame["c"] == ids[int(j)]].sort_values("s")
        ax.plot(one["s"], one["y"], color="0.55", lw=0.8, alpha=0.5)
    mean = frame.dropna(subset=["y"]).groupby("s")["y"].mean()
    ax.plot(mean.index.to_numpy(), mean.to_numpy(), color=PALETTE[0], lw=2.4, label="mean per session")
    if fitted is not None:
        fx, fy = np.asarray(fitted[0], dtype=float), np.asarray(fitted[1], dtype=float)
        if fx.shape != fy.shape or fx.ndim != 1:
            raise DataError(
                "alliance_trajectories_plot: fitted must be two 1-d arrays of equal length (sessions, values)"
            )
        ax.plot(fx, fy, color=PALETTE[1], lw=2, ls="--", label="model (population)")
    ax.set_xlabel("Session")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    _style(ax)
    return fig


def client_alliance_plot(
    data: pd.DataFrame,
    client_id: Any,
    *,
    client: str = "client_id",
    session: str = "session",
    alliance: str = "chk_alliance",
    cried: str = "cried",
    ylabel: str = "Alliance",
    title: str | None = None,
) -> Figure:
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
    fig = _figure(6.0, 3.4)
    ax = fig.add_subplot()
    ax.plot(
        frame["s"], frame["y"], color=PALETTE[0], lw=2, marker="o", ms=4, label=alliance.replace("_", " ")
    )
    cry = frame[frame["c"] == 1.0]
    top = float(np.nanmax(frame["y"])) if frame["y"].notna().any() else 1.0
    for x in cry["s"]:
        ax.axvspan(x - 0.4, x + 0.4, color=PALETTE[5], alpha=0.15, lw=0)
    ax.scatter(cry["s"], np.full(len(cry), top), marker="v", s=40, color=PALETTE[5], zorder=3, label="cried")
    ax.set_xlabel("Session")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{client} {client_id}" if title is None else title, fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    _style(ax)
    return fig


def crying_probability_plot(
    predictions: pd.DataFrame,
    *,
    order: Sequence[Any] | None = None,
    legend_title: str = "attachment style",
    title: str = "",
) -> Figure:
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
    fig = _figure(6.0, 3.8)
    ax = fig.add_subplot()
    for i, g in enumerate(_levels(predictions["group"], order)):
        part = predictions[predictions["group"] == g].sort_values("session")
        x = part["session"].to_numpy(dtype=float)
        colour = PALETTE[i % len(PALETTE)]
        ax.fill_between(
            x,
            part["ci_low"].to_numpy(dtype=float),
            part["ci_high"].to_numpy(dtype=float),
            color=colour,
            alpha=0.15,
            lw=0,
        )
        ax.plot(x, part["p"].to_numpy(dtype=float), color=colour, lw=2, label=str(g).replace("_", " "))
    ax.set_xlabel("Session")
    ax.set_ylabel("Predicted probability of crying")
    ax.set_ylim(0, None)
    ax.legend(title=legend_title, frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    _style(ax)
    return fig
