"""Attachment style from the two ECR dimensions (anxiety, avoidance)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lacrima.errors import DataError, Problem
from lacrima.instruments import list_instruments, load_instrument

__all__ = ["ATTACHMENT_STYLES", "attachment_style"]

ATTACHMENT_STYLES = ("secure", "anxious_preoccupied", "avoidant_dismissing", "fearful")


def _scores_from_items(df: pd.DataFrame, anxiety: str, avoidance: str) -> pd.DataFrame | None:
    """Score the ECR instrument whose prefix the column names carry, when only its items are in ``df``."""
    from lacrima.scoring._score import score

    for prefix_col in (anxiety, avoidance):
        if "_" not in prefix_col:
            return None
    prefix = anxiety.rsplit("_", 1)[0]
    for inst_id in list_instruments():
        inst = load_instrument(inst_id)
        if inst.prefix == prefix and any(c in df.columns for c in inst.columns):
            scores = score(df, inst)
            if anxiety in scores.columns and avoidance in scores.columns:
                return scores
    return None


def _cut_value(values: pd.Series, cut: str | float, scale: tuple[float, float], name: str) -> float:
    if isinstance(cut, str):
        if cut == "midpoint":
            return (float(scale[0]) + float(scale[1])) / 2.0
        if cut == "median":
            if values.notna().sum() == 0:
                raise DataError(f"{name} has no scores, so it has no sample median to cut at")
            return float(values.median())
        raise DataError(f"cut must be 'midpoint', 'median', a number or a pair of numbers, not {cut!r}")
    return float(cut)


def attachment_style(
    df_or_scores: pd.DataFrame,
    *,
    anxiety: str = "ecr_anxiety",
    avoidance: str = "ecr_avoidance",
    cut: str | float | tuple[float, float] = "midpoint",
    scale: tuple[float, float] = (1, 7),
) -> pd.Series:
    """Attachment style from attachment anxiety and avoidance scores.

    Parameters
    ----------
    df_or_scores : DataFrame
        Scores (the output of ``lc.score(df, "ecr_r")``) or a table that has them. When the two score
        columns are absent but the items of the instrument with their prefix (``ecr`` for ECR-R, ``ecrs``
        for ECR-S) are present, the items are scored first.
    anxiety, avoidance : str
        Names of the two dimension columns.
    cut : {"midpoint", "median"} or float or (float, float), default "midpoint"
        Where "high" begins: the scale midpoint (4 on 1-7), each dimension's sample median, one number for
        both dimensions or a pair (anxiety cut, avoidance cut).
    scale : (lo, hi), default (1, 7)
        Range of the dimension scores (item means); scores outside it are an error.

    Returns
    -------
    Series
        Categorical named ``attachment_style``, aligned to the input's index: ``secure`` (low
        anxiety, low avoidance), ``anxious_preoccupied`` (high anxiety, low avoidance),
        ``avoidant_dismissing`` (low anxiety, high avoidance), ``fearful`` (high, high); missing where
        either score is missing.

    Notes
    -----
    A score equal to the cut counts as low (high means strictly above the cut). With ``"median"`` this
    puts every respondent tied at the median in the low group, so the groups need not be halves when many
    scores tie. Four-category typologies from two continuous dimensions lose information (Fraley &
    Waller, 1998); analyse the dimensions themselves where possible and use the styles for description.

    Examples
    --------
    >>> import pandas as pd
    >>> from lacrima.scoring import attachment_style
    >>> scores = pd.DataFrame({"ecr_anxiety": [2.0, 5.5, 4.0, 6.0], "ecr_avoidance": [3.0, 2.0, 5.0, 6.5]})
    >>> attachment_style(scores).tolist()
    ['secure', 'anxious_preoccupied', 'avoidant_dismissing', 'fearful']
    """
    if not isinstance(df_or_scores, pd.DataFrame):
        raise DataError(
            f"expected a DataFrame with {anxiety} and {avoidance}, got {type(df_or_scores).__name__}"
        )
    data = df_or_scores
    if anxiety not in data.columns or avoidance not in data.columns:
        scored = _scores_from_items(data, anxiety, avoidance)
        if scored is None:
            absent = [c for c in (anxiety, avoidance) if c not in data.columns]
            raise DataError(
                f"column(s) {', '.join(absent)} are not in the data; score the ECR first "
                "(lc.score(df, 'ecr_r')) or name your columns with anxiety=... and avoidance=..."
            )
        data = scored
    lo, hi = float(scale[0]), float(scale[1])
    if not lo < hi:
        raise DataError(f"scale must be (lowest, highest) with lowest < highest, got {scale!r}")
    problems: list[Problem] = []
    dims: dict[str, pd.Series] = {}
    for name in (anxiety, avoidance):
        col = pd.to_numeric(data[name], errors="coerce").astype("float64")
        bad = col.notna() & ((col < lo) | (col > hi))
        for label, value in col[bad].items():
            problems.append(
                Problem(
                    f"{name} is {value:g}, outside the scale {lo:g}-{hi:g}; attachment scores are item means "
                    "(did you pass sums?)",
                    row=str(label),
                    column=name,
                )
            )
        non_numeric = data[name].notna() & col.isna()
        for label in data.index[non_numeric.to_numpy()]:
            problems.append(Problem(f"{name} is not a number", row=str(label), column=name))
        dims[name] = col
    if problems:
        raise DataError("attachment scores do not fit the scale", problems)
    if isinstance(cut, tuple):
        if len(cut) != 2:
            raise DataError(f"a pair of cuts is (anxiety cut, avoidance cut), got {cut!r}")
        cut_anx, cut_avo = float(cut[0]), float(cut[1])
    else:
        cut_anx = _cut_value(dims[anxiety], cut, scale, anxiety)
        cut_avo = _cut_value(dims[avoidance], cut, scale, avoidance)
    anx, avo = dims[anxiety].to_numpy(), dims[avoidance].to_numpy()
    high_anx, high_avo = anx > cut_anx, avo > cut_avo
    codes = np.where(high_anx, np.where(high_avo, 3, 1), np.where(high_avo, 2, 0))
    codes = np.where(np.isnan(anx) | np.isnan(avo), -1, codes)
    styles = pd.Categorical.from_codes(codes.astype(np.int64), categories=pd.Index(list(ATTACHMENT_STYLES)))
    return pd.Series(styles, index=data.index, name="attachment_style")
