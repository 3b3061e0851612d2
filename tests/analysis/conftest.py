"""Shared fixtures: the R reference values and the data the R script used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="session")
def ref() -> dict[str, Any]:
    return json.loads((REF / "battery.json").read_text())


@pytest.fixture(scope="session")
def bfi() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "battery_bfi.csv")


@pytest.fixture(scope="session")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "battery_mtcars.csv")
