"""The forest plot draws every study and the pooled diamond."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from lacrima.crosscultural.meta import meta
from lacrima.report._forest import forest_plot

DATA = Path(__file__).resolve().parents[1] / "reference" / "data" / "meta_molloy2014.csv"


def test_it_draws_a_forest_plot_with_one_row_per_study() -> None:
    d = pd.read_csv(DATA)
    res = meta(d["ri"], n=d["ni"], labels=d["authors"])
    fig = forest_plot(res)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:-1] == d["authors"].tolist()
    assert labels[-1] == "Pooled (REML)"
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:4] == b"\x89PNG"


def test_it_draws_into_given_axes() -> None:
    from matplotlib.figure import Figure

    d = pd.read_csv(DATA)
    res = meta(d["ri"], n=d["ni"], method="FE")
    fig = Figure()
    ax = fig.subplots()
    assert forest_plot(res, ax=ax) is fig
    assert len(ax.patches) == 1


def test_it_refuses_a_meta_regression() -> None:
    import pytest

    from lacrima.errors import DataError

    d = pd.read_csv(DATA)
    res = meta(d["ri"], n=d["ni"], moderators=d[["meanage"]])
    with pytest.raises(DataError, match="without moderators"):
        forest_plot(res)  # type: ignore[arg-type]
