"""Charts as data: round ticks, SVG that puts each mark where its numbers say, and the same chart as a
matplotlib Figure."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from lacrima.report._chart import (
    Area,
    Axis,
    Band,
    Bars,
    Chart,
    ErrorBars,
    Line,
    Points,
    Rule,
    Segments,
    Span,
    nice_ticks,
    tick_labels,
)
from lacrima.report._figures import group_plot, prevalence_plot, scatter_fit, simple_slopes_plot
from lacrima.report._svg import PX_PER_INCH, text_width


def _svg(chart: Chart) -> ElementTree.Element:
    return ElementTree.fromstring(chart.to_svg(ident="t", description="test chart"))


def _numbers(d: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]


def _frame(root: ElementTree.Element) -> tuple[float, float, float, float]:
    rect = root.find("defs/clipPath/rect")
    assert rect is not None
    x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
    return x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))


@pytest.mark.parametrize(
    ("lo", "hi", "want"),
    [
        (0.0, 10.0, [0, 2, 4, 6, 8, 10]),
        (1.2, 5.3, [2, 3, 4, 5]),
        (-2.1, 1.9, [-2, -1, 0, 1]),
        (0.0, 1.0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.0, 100.0, [0, 20, 40, 60, 80, 100]),
        (3.9, 6.1, [4, 4.5, 5, 5.5, 6]),
    ],
)
def test_it_picks_round_ticks_inside_the_range(lo: float, hi: float, want: list[float]) -> None:
    np.testing.assert_allclose(nice_ticks(lo, hi, 5), want)


def test_it_labels_ticks_with_the_decimals_the_step_needs() -> None:
    assert tick_labels(np.array([0.0, 2.5, 5.0, 7.5])) == ["0.0", "2.5", "5.0", "7.5"]
    assert tick_labels(np.array([-2.0, -1.0, 0.0, 1.0])) == ["\u22122", "\u22121", "0", "1"]
    assert tick_labels(np.array([0.0, 0.25, 0.5])) == ["0.00", "0.25", "0.50"]


def test_it_measures_text_from_font_metrics() -> None:
    assert text_width("", 12) == 0
    assert text_width("iii", 10) < text_width("WWW", 10)
    assert text_width("100", 10) == pytest.approx(3 * 6.36)


def test_it_places_points_where_their_values_map() -> None:
    chart = Chart((Points([0.0, 10.0], [0.0, 5.0]),), x=Axis("x", limits=(0, 10)), y=Axis("y", limits=(0, 5)))
    root = _svg(chart)
    x0, y0, x1, y1 = _frame(root)
    marks = [p for p in root.iter("path") if p.get("fill") == "#2f5d8a"]
    assert len(marks) == 1
    nums = _numbers(marks[0].get("d", ""))
    # each circle starts at its left edge (cx - r, cy): the first at the lower left corner, the second at
    # the upper right one
    r = np.sqrt(14.0 / np.pi) * PX_PER_INCH / 72
    assert nums[0] == pytest.approx(x0 - r, abs=0.1) and nums[1] == pytest.approx(y1, abs=0.1)
    second = nums[len(nums) // 2 :]
    assert second[0] == pytest.approx(x1 - r, abs=0.1) and second[1] == pytest.approx(y0, abs=0.1)


def test_it_leaves_gaps_for_missing_values() -> None:
    line = Line([1, 2, 3, 4, 5], [1.0, 2.0, np.nan, 4.0, 5.0])
    d = next(p.get("d", "") for p in _svg(Chart((line,))).iter("path") if p.get("fill") == "none")
    assert d.count("M") == 2 and "nan" not in d
    band = Band([1, 2, 3], [0.0, np.nan, 0.0], [1.0, 1.0, 1.0])
    svg = Chart((band,)).to_svg()
    assert "nan" not in svg.lower()


def test_it_inverts_an_axis_and_uses_categorical_ticks() -> None:
    ticks = ((0.0, "first"), (1.0, "second"))
    bars = Bars([0.0, 1.0], [30.0, 60.0])
    chart = Chart((bars,), x=Axis(limits=(0, 100)), y=Axis(ticks=ticks, inverted=True))
    root = _svg(chart)
    texts = {t.text: float(t.get("y", 0)) for t in root.iter("text")}
    assert texts["first"] < texts["second"]  # inverted: the first category is on top
    rects = [r for g in root.iter("g") if g.get("fill") == "#2f5d8a" for r in g.iter("rect")]
    x0, _, x1, _ = _frame(root)
    widths = sorted(float(r.get("width", 0)) for r in rects)
    assert widths == pytest.approx([0.3 * (x1 - x0), 0.6 * (x1 - x0)], abs=0.2)


def test_it_puts_the_legend_in_the_emptiest_corner() -> None:
    x = np.linspace(0, 1, 50)
    rising = (Line(x, x, label="a"), Line(x, x + 0.1, label="b"))  # data along the diagonal
    root = _svg(Chart(rising, legend=True, legend_title="group"))
    x0, y0, x1, y1 = _frame(root)
    box = next(r for r in root.iter("rect") if r.get("fill-opacity") == "0.85")
    bx, by = float(box.get("x", 0)), float(box.get("y", 0))
    assert bx < (x0 + x1) / 2 and by < (y0 + y1) / 2  # upper left: the rising lines leave it empty
    labels = [t.text for t in root.iter("text")]
    assert {"group", "a", "b"} <= set(labels)


def test_it_escapes_text_and_names_the_figure_for_screen_readers() -> None:
    chart = Chart((Points([1], [1]),), x=Axis("a < b & c"), title='say "hi"')
    svg = chart.to_svg(ident="f9", description="Scatter <of> things")
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Scatter <of> things"
    assert root.findtext("title") == "Scatter <of> things"
    assert "a < b & c" in [t.text for t in root.iter("text")]
    assert 'id="f9-clip"' in svg


def test_it_draws_every_kind_of_mark_in_both_renderers() -> None:
    layers = (
        Span(1.0, 2.0),
        Band([0, 1, 2], [0, 0, 0], [1, 2, 1]),
        Line([0, 1, 2], [0.5, 1, 0.5], marker="o", label="line"),
        Points([0, 1, 2], [0, 1, 2], marker="s", size=[10, 20, 30], label="points"),
        ErrorBars([0.5], [1.0], [0.5], [1.5]),
        Area([0, 0.5, 1, 0.5], [0, 0.2, 0, -0.2]),
        Rule(0.5),
        Rule(1.0, vertical=False),
        Segments([0, 1], [1, 2], [2, 2.5]),
        Bars([0.2], [0.4], horizontal=False, thickness=0.1),
    )
    chart = Chart(layers, x=Axis("x"), y=Axis("y"), title="all", legend=True, notes=((1.0, "note"),))
    root = _svg(chart)
    assert len(list(root.iter("path"))) >= 12
    fig = chart.to_figure()
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()][:1] == ["line"]
    assert ax.get_xlabel() == "x" and ax.get_title() == "all"
    assert ax.get_legend() is not None
    # limits are the same in both renderers
    (xlo, xhi), (ylo, yhi) = chart.limits()
    assert ax.get_xlim() == pytest.approx((xlo, xhi)) and ax.get_ylim() == pytest.approx((ylo, yhi))


def test_it_draws_the_battery_figures_from_the_data() -> None:
    rng = np.random.default_rng(4)
    d = pd.DataFrame({"x": rng.normal(size=80), "g": rng.integers(0, 2, 80)})
    d["y"] = 0.5 * d["x"] + rng.normal(size=80)
    scatter = scatter_fit(d, "x", "y", xlabel="X", ylabel="Y")
    assert [type(layer).__name__ for layer in scatter.layers] == ["Points", "Band", "Line"]
    fit = scatter.layers[2]
    assert isinstance(fit, Line)
    slope = np.polyfit(d["x"], d["y"], 1)[0]
    assert (fit.y[-1] - fit.y[0]) / (fit.x[-1] - fit.x[0]) == pytest.approx(slope)
    groups = group_plot(d, "y", "g", order=[0, 1], labels=["zero", "one"], ylabel="Y")
    bars = [layer for layer in groups.layers if isinstance(layer, ErrorBars)]
    assert [float(b.y[0]) for b in bars] == pytest.approx(d.groupby("g")["y"].mean().tolist())
    prev = prevalence_plot(pd.DataFrame({"group": ["a", "b"], "share": [0.2, 0.5], "ci_low": [0.1, 0.4],
                                         "ci_high": [0.3, 0.6]}))  # fmt: skip
    assert prev.y.ticks == ((0.0, "a"), (1.0, "b")) and prev.x.limits == (0.0, 100.0)
    slopes = simple_slopes_plot(
        pd.DataFrame({"label": ["-1 SD", "+1 SD"], "intercept": [1.0, 2.0], "slope": [0.5, -0.5]}),
        x_range=(-1.0, 1.0),
        xlabel="X",
        ylabel="Y",
        mlabel="M",
    )
    assert [layer.label for layer in slopes.labelled()] == ["-1 SD", "+1 SD"]
    for chart in (scatter, groups, prev, slopes):
        assert ElementTree.fromstring(chart.to_svg()).tag == "svg"
