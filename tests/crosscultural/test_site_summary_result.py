"""site_summary returns a result like pool_summaries does, and still reads as the JSON object it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from lacrima.crosscultural import (
    SiteSummary,
    pool_summaries,
    read_site_summary,
    site_summary,
    write_site_summary,
)

REF = Path(__file__).parents[1] / "reference"
WHEN = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def summary() -> SiteSummary:
    raw = pd.read_csv(REF / "data" / "pooled_partial.csv")
    return site_summary(raw[raw["site"] == "rome"], ["x", "y", "c1"], site="rome", created=WHEN)


def test_it_is_a_frozen_result_that_reads_like_the_json(summary: SiteSummary, tmp_path: Path) -> None:
    assert isinstance(summary, SiteSummary)
    assert summary["site"] == summary.site == "rome"
    assert list(summary) == list(summary.to_dict())
    assert summary.table()["variable"].tolist() == ["x", "y", "c1"]
    with pytest.raises(TypeError):
        summary["n"] = 3  # type: ignore[index]
    path = write_site_summary(summary, tmp_path / "rome.json")
    assert json.loads(path.read_text(encoding="utf-8")) == summary.to_dict()
    again = read_site_summary(path)
    assert again == summary and hash(again) == hash(summary)
    assert pool_summaries([summary]).n == summary.n


def test_to_dict_is_a_mutable_copy(summary: SiteSummary) -> None:
    plain = summary.to_dict()
    plain["cov"][0][0] = -1.0
    assert summary["cov"][0][0] > 0
