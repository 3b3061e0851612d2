"""Item responses from latent scores, driven by an instrument definition.

The measurement model is the same for every instrument: for an item of a (non-``total``) subscale,

    x = loading * eta + sqrt(1 - loading**2) * e,      e ~ N(0, 1)
    y = location + spread * x                            (on the item's response scale)

and ``y`` is rounded to the nearest allowed value of the item's scale (values beyond the ends go to the
ends). ``location`` is where the subscale sits in the scale's range (a fraction: 0 = scale minimum,
1 = maximum) and ``spread`` is a quarter of the range. Reverse-keyed items are stored reversed
(``min + max - y``), so that reverse keying during scoring recovers the direction of ``eta``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lacrima.errors import DataError
from lacrima.instruments import Instrument, Item, Scale, load_instrument

__all__ = [
    "cut_to_scale",
    "item_reliability",
    "items_from_latent",
    "mcar",
    "require_instrument",
    "subscale_of_items",
]

# Spread of the continuous item response, as a fraction of the scale's range.
SPREAD = 0.25


def require_instrument(instrument_id: str, subscales: Sequence[str]) -> Instrument:
    """Load a shipped instrument and check that it defines the subscales a simulation needs."""
    try:
        inst = load_instrument(instrument_id)
    except DataError as exc:
        raise DataError(
            f"the simulation needs the instrument {instrument_id!r}, which could not be loaded; "
            "install a lacrima that ships it, or pass instruments={...} with your own definition",
            [str(exc)],
        ) from exc
    return check_instrument(inst, instrument_id, subscales)


def check_instrument(inst: Instrument, instrument_id: str, subscales: Sequence[str]) -> Instrument:
    """Raise a :class:`DataError` when ``inst`` lacks one of the named subscales."""
    absent = [s for s in subscales if s not in inst.subscales]
    if absent:
        raise DataError(
            f"instrument {instrument_id!r} has no subscale(s) {absent}; the simulation plants effects on "
            f"{list(subscales)}. Its subscales are {list(inst.subscales)}: fix the instrument definition "
            "or leave these subscales out of the simulation"
        )
    return inst


def subscale_of_items(inst: Instrument) -> dict[int, str]:
    """Map each item number to the first non-``total`` subscale that contains it."""
    owner: dict[int, str] = {}
    for name, sub in inst.subscales.items():
        if name == "total":
            continue
        for n in sub.items:
            owner.setdefault(n, name)
    return owner


def cut_to_scale(y: np.ndarray, scale: Scale) -> np.ndarray:
    """Round continuous responses to the nearest allowed value of ``scale`` (clipped to its ends)."""
    steps = np.rint((y - scale.min) / scale.step)
    n_steps = round((scale.max - scale.min) / scale.step)
    return scale.min + np.clip(steps, 0, n_steps) * scale.step


def item_reliability(loading: float, n_items: int) -> float:
    """Reliability of the mean of ``n_items`` parallel items before rounding (Spearman-Brown)."""
    lam2 = loading**2
    return n_items * lam2 / (n_items * lam2 + (1.0 - lam2))


def _scored_value(
    item: Item, eta: np.ndarray, loading: float, location: float, rng: np.random.Generator
) -> np.ndarray:
    scale = item.scale
    if scale is None:  # pragma: no cover - callers only pass scored items
        raise DataError(f"item {item.column} has no response scale to simulate")
    x = loading * eta + np.sqrt(1.0 - loading**2) * rng.standard_normal(eta.shape[0])
    width = scale.max - scale.min
    y = cut_to_scale(scale.min + location * width + SPREAD * width * x, scale)
    if item.reverse:
        y = scale.min + scale.max - y
    return y


def items_from_latent(
    inst: Instrument,
    latent: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    n: int,
    loading: float,
    location: Mapping[str, float],
    skip: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Item columns of ``inst`` generated from per-subscale latent scores.

    Parameters
    ----------
    inst
        The instrument.
    latent
        Subscale name -> latent score per respondent (length ``n``; roughly standard normal).
    rng
        Random generator.
    n
        Number of respondents.
    loading
        Standardised loading of every item on its subscale's latent score.
    location
        Subscale name -> position of the subscale's centre in the scale range (0-1); default 0.5.
    skip
        Item columns to leave out (filled by the caller, e.g. a gate question).

    Returns
    -------
    dict
        Column -> float array. Likert/numeric items in a subscale follow the measurement model; scored
        items in no subscale are uniform over their scale; booleans are fair coin flips; choice items pick
        an option at random; text items are NaN.
    """
    owner = subscale_of_items(inst)
    out: dict[str, np.ndarray] = {}
    for item in inst.items:
        if item.column in skip:
            continue
        sub = owner.get(item.number)
        if item.type == "text" or (item.type in ("choice", "multi_choice") and not item.options):
            out[item.column] = np.full(n, np.nan)
        elif item.type in ("choice", "multi_choice"):
            codes = [o.code for o in item.options]
            picks = rng.integers(0, len(codes), size=n)
            out[item.column] = np.asarray(codes, dtype=object)[picks]
        elif item.type == "boolean":
            out[item.column] = rng.integers(0, 2, size=n).astype(float)
        elif sub is not None and sub in latent:
            out[item.column] = _scored_value(item, latent[sub], loading, location.get(sub, 0.5), rng)
        else:
            out[item.column] = _scored_value(item, np.zeros(n), 0.0, 0.5, rng)
    return out


def apply_show_if(inst: Instrument, frame: pd.DataFrame) -> None:
    """Blank (NaN) answers to items whose ``show_if`` condition is not met, in place."""
    for item in inst.items:
        if item.show_if is None or item.column not in frame:
            continue
        gate, allowed = item.show_if
        if gate not in frame:
            continue
        wanted: list[object] = list(allowed)
        wanted += [float(a) for a in allowed if isinstance(a, (int, float, bool))]
        shown = frame[gate].isin(wanted).to_numpy()
        column = frame[item.column]
        if pd.api.types.is_numeric_dtype(column.dtype):
            values = column.to_numpy(dtype=float, copy=True)
            values[~shown] = np.nan
        else:
            values = column.to_numpy(dtype=object, copy=True)
            values[~shown] = None
        frame[item.column] = values


def mcar(frame: pd.DataFrame, columns: Sequence[str], rate: float, rng: np.random.Generator) -> None:
    """Blank each cell of ``columns`` independently with probability ``rate`` (missing completely at
    random), in place."""
    if rate <= 0 or not columns:
        return
    cols = list(columns)
    hit = rng.random((len(frame), len(cols))) < rate
    for j, col in enumerate(cols):
        if hit[:, j].any():
            values = frame[col].to_numpy(copy=True)
            if values.dtype == object:
                values[hit[:, j]] = None
            else:
                values = values.astype(float)
                values[hit[:, j]] = np.nan
            frame[col] = values
