"""Look at the report as a reader would: headless chromium renders it, every table and figure is there,
every figure is drawn, no NaN/None text, and a screenshot is kept under test-artifacts/."""

from __future__ import annotations

import pytest

import lacrima as lc
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


def test_it_renders_the_report_in_a_browser(tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    report = lc.analyze(lc.simulate_study(seed=5).data, seed=5, n_boot=250)
    path = report.to_html(tmp_path / "report.html")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(path.as_uri())
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        n_tables = page.locator("table.apa").count()
        charts = page.evaluate(
            "Array.from(document.querySelectorAll('figure svg.chart')).map(s => [s.getBoundingClientRect()"
            ".width, s.getBoundingClientRect().height, s.querySelectorAll('path').length])"
        )
        text = page.inner_text("body")
        headings = page.locator("h2").all_inner_texts()
        browser.close()
    assert n_tables == report_tables(report)
    assert len(charts) >= 5
    assert all(width > 300 and height > 100 and paths >= 3 for width, height, paths in charts)
    for word in ("NaN", "None", "nan", "undefined"):
        assert f" {word} " not in f" {text} ".replace("\n", " ")
    assert headings[:4] == ["Replication scorecard", "Method", "Sample", "Measures"]


def report_tables(report: lc.report.Report) -> int:  # type: ignore[name-defined]
    from lacrima.report._render import build_html

    return build_html(report).n_tables
