"""Subscale scores: reverse keying, prorating over answered items, severity bands."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lacrima._results import Result
from lacrima.errors import DataError, MissingDataWarning
from lacrima.instruments import Instrument, Subscale, list_instruments
from lacrima.scoring._validate import as_instrument, shown_masks, validate_with_masks

__all__ = ["MissingDataWarning", "ScoreAllResult", "score", "score_all"]


def _needed(min_answered: float, k: np.ndarray) -> np.ndarray:
    """Fewest answered items for a score, per row, given ``k`` items shown to that row."""
    if min_answered <= 1:
        return np.ceil(min_answered * k - 1e-9).astype(int)
    return np.minimum(int(min_answered), k)


def _check_min_answered(min_answered: float) -> float:
    if isinstance(min_answered, bool) or not isinstance(min_answered, (int, float, np.number)):
        raise DataError(f"min_answered must be a fraction in (0, 1] or a count above 1, not {min_answered!r}")
    m = float(min_answered)
    if not m > 0 or math.isnan(m) or (m > 1 and not m.is_integer()):
        raise DataError(
            f"min_answered={min_answered!r} is not usable: give a fraction in (0, 1] of a subscale's items "
            "(0.75) or a whole count above 1 (3)"
        )
    return m


def _subscale_score(
    values: Mapping[str, np.ndarray],
    shown: Mapping[str, np.ndarray],
    columns: list[str],
    sub: Subscale,
    min_answered: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Prorated score of one subscale and a mask of rows that were shown at least one of its items."""
    n = len(values[columns[0]])
    total = np.zeros(n)
    answered = np.zeros(n, dtype=np.int64)
    k_shown = np.zeros(n, dtype=np.int64)
    for c in columns:
        ok = shown[c] & ~np.isnan(values[c])
        total += np.where(ok, values[c], 0.0)
        answered += ok
        k_shown += shown[c]
    enough = (answered >= _needed(min_answered, k_shown)) & (answered > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(enough, total / answered, np.nan)
    if sub.method == "sum":
        result = result * len(columns)
    return result, k_shown > 0


def score(
    df: pd.DataFrame,
    instrument: str | Instrument,
    *,
    min_answered: float | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """Score every subscale of an instrument.

    Parameters
    ----------
    df : DataFrame
        Respondent or session table with item columns named ``<prefix>_<nn>`` (plus any other columns,
        which are ignored). Missing answers are NaN.
    instrument : str or Instrument
        Instrument id (``"ecr_r"``) or an :class:`~lacrima.instruments.Instrument`.
    min_answered : float, optional
        Fewest answered items for a subscale score: a fraction in (0, 1] of the subscale's items (``0.8``;
        ``1`` means all of them) or a whole count above 1 (``3``; a count larger than a subscale is capped
        at its number of items). Default: the instrument's missing-data rule (``min_answered`` for
        ``prorate``, all items for ``complete``).
    strict : bool, default True
        Raise one :class:`~lacrima.errors.DataError` listing every bad value (outside the scale, off its
        step, not a number, answered though not shown), every column named like an item the instrument
        lacks, and every item column that is absent. With ``strict=False`` bad values are treated as
        missing and absent item columns as unanswered, and a :class:`MissingDataWarning` says how many.

    Returns
    -------
    DataFrame
        Aligned to ``df.index``, one float column ``<prefix>_<subscale>`` per subscale in the instrument's
        order, each followed by an ordered categorical ``<prefix>_<subscale>_band`` where the instrument
        defines severity bands (``phq_total_band``).

    Notes
    -----
    Reverse-keyed items are scored as ``scale.min + scale.max - x`` on the item's scale. A subscale score is
    the mean of the answered items when at least ``min_answered`` of them are answered, otherwise NaN;
    ``sum`` subscales are prorated as that mean times the number of items (the plain sum when all are
    answered). Items whose ``show_if`` condition is not met for a row (``cry_05`` when
    ``cried_in_therapy`` is 0) were not asked: they are left out of that row's count of items, so a row
    shown none of a subscale's items gets NaN without complaint. When the gate column is absent or NaN the
    items count as shown.

    Examples
    --------
    >>> import pandas as pd, lacrima as lc
    >>> from lacrima.scoring import score
    >>> df = pd.DataFrame({f"wai_{i:02d}": [4, 2] for i in range(1, 13)})
    >>> score(df, "wai_sr")["wai_bond"].tolist()
    [4.0, 2.0]
    """
    inst = as_instrument(instrument)
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of item columns, got {type(df).__name__}")
    report, masks = validate_with_masks(df, inst)
    if strict:
        report.raise_if_invalid()
    m = _check_min_answered(
        min_answered
        if min_answered is not None
        else (1.0 if inst.missing_rule == "complete" else inst.min_answered)
    )
    if not isinstance(df.columns, pd.Index) or df.columns.has_duplicates:
        df = df.loc[:, ~df.columns.duplicated()]
    n = len(df)
    values: dict[str, np.ndarray] = {}
    shown: dict[str, np.ndarray] = {}
    n_set_missing = 0
    gates = shown_masks(df, inst)
    for item in inst.items:
        if not item.is_scored or item.scale is None:
            continue
        if item.column not in df.columns:
            values[item.column] = np.full(n, np.nan)
            shown[item.column] = np.ones(n, dtype=bool)
            continue
        x, non_numeric, off_scale, hidden = masks[item.column]
        bad = off_scale | hidden
        n_set_missing += int(bad.sum() + non_numeric.sum())
        x = np.where(bad, np.nan, x)
        if item.reverse:
            x = item.scale.min + item.scale.max - x
        values[item.column] = x
        shown[item.column] = gates[item.column]
    if not strict and (n_set_missing or report.missing_columns):
        parts = []
        if n_set_missing:
            parts.append(f"{n_set_missing} bad value(s) were treated as missing")
        if report.missing_columns:
            parts.append(
                f"absent item columns {', '.join(report.missing_columns)} were treated as unanswered"
            )
        warnings.warn(
            f"scoring {inst.id}: {'; '.join(parts)}; run lacrima.scoring.validate(df, {inst.id!r}) for the "
            "list and fix the data to use every answer",
            MissingDataWarning,
            stacklevel=2,
        )
    out: dict[str, pd.Series] = {}
    for name, sub in inst.subscales.items():
        columns = inst.subscale_columns(name)
        if not all(c in values for c in columns):
            raise DataError(
                f"subscale {name!r} of {inst.id} includes items that are not scored (text or choice); "
                "fix the instrument definition"
            )
        result, any_shown = _subscale_score(values, shown, columns, sub, m)
        col = f"{inst.prefix}_{name}"
        if n and any_shown.any() and np.isnan(result[any_shown]).all():
            warnings.warn(
                f"{col} could not be computed for any of the {int(any_shown.sum())} rows that were shown its "
                f"items: no row answered enough of {', '.join(columns)} (min_answered={m:g}); those "
                "scores are NaN",
                MissingDataWarning,
                stacklevel=2,
            )
        out[col] = pd.Series(result, index=df.index, name=col, dtype="float64")
        bands = inst.bands.get(name)
        if bands:
            labels = [b.label for b in sorted(bands, key=lambda b: b.min)]
            # Instrument.band applied to the whole column: the last band (in the instrument's order) whose
            # minimum the score reaches; NaN scores have no band
            band_values = np.full(n, None, dtype=object)
            with np.errstate(invalid="ignore"):
                for b in bands:
                    band_values[result >= b.min] = b.label
            out[f"{col}_band"] = pd.Series(
                pd.Categorical(band_values, categories=list(dict.fromkeys(labels)), ordered=True),
                index=df.index,
                name=f"{col}_band",
            )
    return pd.DataFrame(out, index=df.index)


@dataclass(frozen=True, eq=False)
class ScoreAllResult(Result):
    """Scores of every instrument found in a table, and which instruments were scored or skipped.

    Attributes
    ----------
    scores : DataFrame
        All score (and band) columns side by side, aligned to the input's index.
    scored : tuple of str
        Ids of the instruments that were scored.
    skipped : Mapping[str, str]
        Id of each instrument not scored and why.
    """

    scores: pd.DataFrame
    scored: tuple[str, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per instrument considered: ``instrument``, ``status`` (scored/skipped), ``reason``."""
        rows = [{"instrument": i, "status": "scored", "reason": ""} for i in self.scored]
        rows += [{"instrument": i, "status": "skipped", "reason": r} for i, r in self.skipped.items()]
        return pd.DataFrame(rows, columns=["instrument", "status", "reason"])


def score_all(
    df: pd.DataFrame,
    instruments: Iterable[str | Instrument] | None = None,
    *,
    min_answered: float | None = None,
    strict: bool = True,
) -> ScoreAllResult:
    """Score every instrument whose item columns are in ``df``.

    Parameters
    ----------
    df : DataFrame
        Respondent or session table.
    instruments : iterable of str or Instrument, optional
        Instruments to consider; default every shipped instrument (:func:`lacrima.list_instruments`).
    min_answered, strict
        Passed to :func:`score`.

    Returns
    -------
    ScoreAllResult
        ``.scores`` holds every score column; ``.scored`` and ``.skipped`` say which instruments were
        scored and why others were not.

    Notes
    -----
    An instrument is scored when all of its item columns are present. One with none of them present, or
    without subscales (demographics), is skipped. One with only some of its item columns present is an
    error under ``strict=True`` (the usual cause is a renamed column) and is scored with the columns that
    are there under ``strict=False``.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of item columns, got {type(df).__name__}")
    chosen = list(instruments) if instruments is not None else list(list_instruments())
    frames: list[pd.DataFrame] = []
    scored: list[str] = []
    skipped: dict[str, str] = {}
    for spec in chosen:
        inst = as_instrument(spec)
        present = [c for c in inst.columns if c in df.columns]
        if not inst.subscales:
            skipped[inst.id] = "defines no subscales to score"
            continue
        if not present:
            skipped[inst.id] = "none of its item columns are in the data"
            continue
        frames.append(score(df, inst, min_answered=min_answered, strict=strict))
        scored.append(inst.id)
    scores = pd.concat(frames, axis=1) if frames else pd.DataFrame(index=df.index)
    return ScoreAllResult(scores=scores, scored=tuple(scored), skipped=skipped)
