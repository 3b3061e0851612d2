"""Longitudinal figures: each returns a matplotlib Figure drawing the numbers it was given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lacrima.errors import DataError
from lacrima.longitudinal.sessions import summarize_sessions
from lacrima.report._longitudinal_figures import (
    alliance_trajectories_plot,
    client_alliance_plot,
    crying_prevalence_plot,
    crying_probability_plot,
)


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    from lacrima.simulate import simulate_sessions

    return simulate_sessions(80, 8, sessions=(6, 12), seed=21).data


def _lines(fig: Figure) -> list[np.ndarray]:
    return [np.asarray(line.get_ydata(), dtype=float) for line in fig.axes[0].get_lines()]


def test_it_draws_crying_prevalence_per_session(sim: pd.DataFrame) -> None:
    fig = crying_prevalence_plot(sim)
    assert isinstance(fig, Figure)
    want = sim.groupby("session")["cried"].mean().to_numpy() * 100
    np.testing.assert_allclose(_lines(fig)[0], want)
    assert len(fig.axes[0].collections) == 1  # the confidence band
    assert "95% CI" in fig.axes[0].get_ylabel()


def test_it_draws_one_line_per_group_and_drops_thin_sessions(sim: pd.DataFrame) -> None:
    fig = crying_prevalence_plot(sim, group="attachment_style", min_n=5, order=["secure", "fearful"])
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["secure", "fearful"]
    counts = sim[sim["attachment_style"] == "secure"].groupby("session")["cried"].count()
    assert len(_lines(fig)[0]) == int((counts >= 5).sum())


def test_it_draws_prevalence_from_an_archive_summary(sim: pd.DataFrame) -> None:
    summary = summarize_sessions(sim, means=(), level=0.9)
    fig = crying_prevalence_plot(summary)
    np.testing.assert_allclose(_lines(fig)[0], summary.table()["prevalence"] * 100)
    assert "90% CI" in fig.axes[0].get_ylabel()
    with pytest.raises(DataError, match="summary is by"):
        crying_prevalence_plot(summary, group="site")


def test_it_draws_alliance_trajectories_with_a_fitted_curve(sim: pd.DataFrame) -> None:
    grid = np.arange(1, 13)
    fig = alliance_trajectories_plot(
        sim, alliance="alliance", n_clients=10, seed=3, fitted=(grid, 4.5 + 0.03 * grid)
    )
    lines = fig.axes[0].get_lines()
    assert len(lines) == 12  # 10 clients, the mean per session, the model
    np.testing.assert_allclose(_lines(fig)[10], sim.groupby("session")["alliance"].mean().to_numpy())
    np.testing.assert_allclose(_lines(fig)[11], 4.5 + 0.03 * grid)
    again = alliance_trajectories_plot(sim, alliance="alliance", n_clients=10, seed=3)
    np.testing.assert_allclose(_lines(again)[0], _lines(fig)[0])  # the seed fixes the sample
    with pytest.raises(DataError, match="two 1-d arrays"):
        alliance_trajectories_plot(sim, alliance="alliance", fitted=(grid, grid[:-1]))


def test_it_marks_a_clients_crying_sessions(sim: pd.DataFrame) -> None:
    counts = sim.groupby("client_id")["cried"].sum()
    who = counts[counts >= 2].index[0]
    one = sim[sim["client_id"] == who].sort_values("session")
    fig = client_alliance_plot(sim, who, alliance="alliance")
    np.testing.assert_allclose(_lines(fig)[0], one["alliance"])
    marks = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(marks)[:, 0], one.loc[one["cried"] == 1, "session"])
    assert who in fig.axes[0].get_title()
    with pytest.raises(DataError, match="no sessions"):
        client_alliance_plot(sim, "nobody", alliance="alliance")


def test_it_draws_predicted_probabilities_by_attachment_style() -> None:
    sessions = np.arange(1, 11)
    pred = pd.concat(
        [
            pd.DataFrame({"session": sessions, "group": g, "p": p, "ci_low": p * 0.8, "ci_high": p * 1.2})
            for g, p in [("secure", 0.1 + 0.01 * sessions), ("fearful", 0.2 + 0.01 * sessions)]
        ]
    )
    fig = crying_probability_plot(pred)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["fearful", "secure"]
    np.testing.assert_allclose(_lines(fig)[1], 0.1 + 0.01 * sessions)
    with pytest.raises(DataError, match="between 0 and 1"):
        crying_probability_plot(pred.assign(p=pred["p"] * 10))
    with pytest.raises(DataError, match="'ci_high'"):
        crying_probability_plot(pred.drop(columns="ci_high"))
