from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from lacrima.instruments import Scale, instrument_from_dict
from lacrima.simulate._items import apply_show_if, cut_to_scale, items_from_latent, mcar

DOC = Path(__file__).parents[2] / "docs" / "simulation.md"


def test_it_cuts_continuous_answers_to_the_scale_steps() -> None:
    scale = Scale(min=0.0, max=3.0, step=0.5)
    got = cut_to_scale(np.array([-4.0, 0.2, 0.3, 1.74, 2.9, 9.0]), scale)
    assert list(got) == [0.0, 0.0, 0.5, 1.5, 3.0, 3.0]


def _instrument() -> object:
    return instrument_from_dict(
        {
            "id": "toy",
            "name": "toy",
            "version": "1",
            "prefix": "toy",
            "source": "test",
            "licence": {"name": "test", "redistribute_text": False},
            "languages": ["en"],
            "scale": {"min": 1, "max": 5},
            "items": [
                {
                    "number": 1,
                    "column": "gate",
                    "type": "choice",
                    "options": [
                        {"code": "yes", "label": {"en": "yes"}},
                        {"code": "no", "label": {"en": "no"}},
                    ],
                },
                {"number": 2},
                {"number": 3, "reverse": True},
                {"number": 4, "show_if": {"column": "gate", "in": ["yes"]}},
                {"number": 5, "type": "text", "show_if": {"column": "gate", "in": ["yes"]}},
            ],
            "subscales": {"a": {"items": [2, 3, 4]}},
        }
    )


def test_it_reverses_reverse_keyed_items_and_honours_text_gates() -> None:
    inst = _instrument()
    rng = np.random.default_rng(0)
    eta = rng.standard_normal(4000)
    cols = items_from_latent(inst, {"a": eta}, rng, n=4000, loading=0.9, location={"a": 0.5})  # type: ignore[arg-type]
    frame = pd.DataFrame(cols)
    assert set(frame["gate"]) == {"yes", "no"}
    assert np.corrcoef(eta, frame["toy_02"])[0, 1] > 0.7
    assert np.corrcoef(eta, frame["toy_03"])[0, 1] < -0.7  # stored reversed
    apply_show_if(inst, frame)  # type: ignore[arg-type]
    hidden = frame["gate"] == "no"
    assert frame.loc[hidden, ["toy_04", "toy_05"]].isna().all().all()
    assert frame.loc[~hidden, "toy_04"].notna().all()
    mcar(frame, ["toy_02", "gate"], 0.5, rng)
    assert 0.45 < frame["toy_02"].isna().mean() < 0.55
    assert 0.45 < frame["gate"].isna().mean() < 0.55


def test_it_runs_every_example_in_the_simulation_guide() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"print": lambda *a, **k: None})
