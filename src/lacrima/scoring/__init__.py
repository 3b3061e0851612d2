"""Scoring: validation of item values, subscale scores, reliability, attachment style, reliable change.

>>> import lacrima as lc
>>> from lacrima.scoring import score
>>> import pandas as pd
>>> df = pd.DataFrame({f"wai_{i:02d}": [5, 1] for i in range(1, 13)})
>>> score(df, "wai_sr")["wai_total"].tolist()
[5.0, 1.0]
"""

from lacrima.scoring._attachment import ATTACHMENT_STYLES, attachment_style
from lacrima.scoring._change import CHANGE_CATEGORIES, ReliableChangeResult, reliable_change
from lacrima.scoring._reliability import ReliabilityResult, reliability
from lacrima.scoring._score import MissingDataWarning, ScoreAllResult, score, score_all
from lacrima.scoring._validate import ValidationReport, validate

__all__ = [
    "ATTACHMENT_STYLES",
    "CHANGE_CATEGORIES",
    "MissingDataWarning",
    "ReliabilityResult",
    "ReliableChangeResult",
    "ScoreAllResult",
    "ValidationReport",
    "attachment_style",
    "reliability",
    "reliable_change",
    "score",
    "score_all",
    "validate",
]
