"""Per-session scores of one client from the raw check-in and symptom items, through ``lc.score``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lacrima.errors import DataError, MissingDataWarning, Problem
from lacrima.instruments import Instrument, load_instrument
from lacrima.scoring import score

__all__ = ["MEASURES", "Columns", "SessionScores", "session_scores"]

# the per-session scores as the rules read them: a DataFrame or its columns as arrays
Columns = Mapping[str, np.ndarray] | pd.DataFrame

# measure id -> (instrument id, subscale); the totals appear in the scores as f"{measure}_total"
MEASURES = {"phq9": ("phq9", "total"), "gad7": ("gad7", "total")}
_CHECKIN_SUBSCALES = (
    "intensity",
    "positive_feelings",
    "negative_feelings",
    "felt_understood",
    "therapist_response",
    "alliance",
)
SCORE_COLUMNS = (
    "session",
    "date",
    "cried",
    *_CHECKIN_SUBSCALES,
    *(f"{m}_total" for m in MEASURES),
    *(f"{m}_band" for m in MEASURES),
    "phq9_item9",
)


@dataclass(frozen=True)
class SessionScores:
    """The scores, which sessions had a check-in, and notes on what was missing."""

    frame: pd.DataFrame
    has_checkin: np.ndarray
    notes: tuple[str, ...]


def _instrument_columns(inst: Instrument) -> list[str]:
    return [it.column for it in inst.items]


def _score_block(
    df: pd.DataFrame, inst: Instrument, what: str, notes: list[str], only_rows: np.ndarray | None = None
) -> pd.DataFrame | None:
    """Subscale scores of ``inst`` aligned to ``df``; None when none of its columns are present.

    Absent item columns count as unanswered (and are named in ``notes``); bad values raise the
    instrument's :class:`DataError`.
    """
    cols = _instrument_columns(inst)
    present = [c for c in cols if c in df.columns]
    if not present:
        return None
    absent = [c for c in cols if c not in df.columns]
    block = df.loc[:, present].copy()
    for c in absent:
        block[c] = np.nan
    # an item shown only after a gate (the crying questions after `cried`) may be absent when the gate
    # never opened; any other absent item is worth a note
    gate_open = {}
    for it in inst.items:
        if it.show_if is not None and it.column in absent:
            gate, allowed = it.show_if
            wanted = [*allowed, *(float(a) for a in allowed if isinstance(a, int))]
            gate_open[it.column] = gate not in df.columns or bool(df[gate].isin(wanted).any())
    worth = [c for c in absent if gate_open.get(c, True)]
    if worth:
        notes.append(f"{what}: columns {', '.join(worth)} are absent and count as unanswered")
    if only_rows is not None:
        block = block.loc[only_rows]
    if block.empty:
        return None
    try:
        # a MissingDataWarning (e.g. no row answered enough alliance items) becomes a note of the
        # evaluation, shown with it, instead of a warning the web app would have to catch
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MissingDataWarning)
            scored = score(block, inst)
        for w in caught:
            if issubclass(w.category, MissingDataWarning):
                notes.append(f"{what}: {w.message}")
            else:  # pragma: no cover - score raises no other warnings
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return scored
    except DataError as exc:
        raise DataError(f"the {what} answers cannot be scored", exc.problems or [Problem(str(exc))]) from exc


def _validate(df: pd.DataFrame, by: str | None) -> pd.Series:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"sessions must be a pandas DataFrame, one row per session, not {type(df).__name__}")
    if "session" not in df.columns:
        raise DataError(
            "sessions has no 'session' column; give one row per session with its number (1, 2, ...)"
        )
    if by is not None and by not in df.columns:
        raise DataError(f"sessions has no {by!r} column to tell the clients apart")
    numbers = pd.to_numeric(df["session"], errors="coerce")
    problems = []
    bad = numbers.isna() | (numbers < 1) | (numbers != np.floor(numbers))
    for idx in df.index[bad.to_numpy()][:20]:
        problems.append(Problem(f"session is {df.at[idx, 'session']!r}; give a whole number >= 1", row=idx))
    keys = pd.DataFrame({"c": df[by].to_numpy() if by else 0, "s": numbers.to_numpy()}, index=df.index)
    dup = keys[keys.duplicated(keep=False) & ~bad]
    for (c, value), group in list(dup.groupby(["c", "s"]))[:20]:
        who = f"client {c!r}: " if by else ""
        problems.append(Problem(f"{who}session {int(value)} appears {len(group)} times", column="session"))
    if by is None and "client_id" in df.columns and df["client_id"].nunique(dropna=True) > 1:
        problems.append(Problem("the rows belong to several clients; evaluate one client at a time"))
    if by is not None and df[by].isna().any():
        problems.append(Problem(f"{int(df[by].isna().sum())} row(s) have no {by}", column=by))
    if problems:
        raise DataError("the sessions cannot be evaluated", problems)
    return numbers.astype(np.int64)


def session_scores(df: pd.DataFrame, by: str | None = None) -> SessionScores:
    """Score sessions: check-in subscales, symptom totals and the raw PHQ-9 item 9, one row per session.

    One client (``by=None``, rows in session order) or many (``by`` the client column; rows ordered by
    client then session, the client in the first column). ``lc.score`` runs once per instrument for the
    whole table.
    """
    numbers = _validate(df, by)
    if by is None:
        order = np.argsort(numbers.to_numpy(), kind="stable")
    else:
        order = np.lexsort((numbers.to_numpy(), pd.factorize(df[by], sort=True)[0]))
    frame = df.iloc[order]
    numbers = numbers.iloc[order]
    notes: list[str] = []
    n = len(frame)
    out = pd.DataFrame({"session": numbers.to_numpy()}, index=range(n))
    if by is not None:
        out.insert(0, by, frame[by].to_numpy())
    if "date" in frame.columns:
        out["date"] = pd.to_datetime(frame["date"], errors="coerce").to_numpy()
    else:
        out["date"] = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    checkin = load_instrument("session_checkin")
    chk = _score_block(frame, checkin, "check-in", notes)
    if "cried" in frame.columns:
        out["cried"] = pd.to_numeric(frame["cried"], errors="coerce").to_numpy(dtype=float)
    else:
        out["cried"] = np.nan
    prefix = checkin.prefix
    for sub in _CHECKIN_SUBSCALES:
        col = f"{prefix}_{sub}"
        out[sub] = chk[col].to_numpy(dtype=float) if chk is not None and col in chk else np.nan
    answered = [c for c in _instrument_columns(checkin) if c in frame.columns]
    has_checkin = frame[answered].notna().any(axis=1).to_numpy() if answered else np.zeros(n, dtype=bool)
    for measure, (inst_id, sub) in MEASURES.items():
        inst = load_instrument(inst_id)
        cols = [c for c in _instrument_columns(inst) if c in frame.columns]
        total = np.full(n, np.nan)
        band = np.full(n, None, dtype=object)
        if cols:
            measured = frame[cols].notna().any(axis=1).to_numpy()
            block = _score_block(frame, inst, inst.name, notes, only_rows=measured)
            if block is not None:
                total[measured] = block[f"{inst.prefix}_{sub}"].to_numpy(dtype=float)
                if f"{inst.prefix}_{sub}_band" in block:
                    band[measured] = block[f"{inst.prefix}_{sub}_band"].astype(object).to_numpy()
        out[f"{measure}_total"] = total
        out[f"{measure}_band"] = band
    item9 = load_instrument("phq9").item(9).column
    out["phq9_item9"] = (
        pd.to_numeric(frame[item9], errors="coerce").to_numpy(dtype=float)
        if item9 in frame.columns
        else np.nan
    )
    columns = ([by] if by is not None else []) + list(SCORE_COLUMNS)
    return SessionScores(frame=out.loc[:, columns], has_checkin=has_checkin, notes=tuple(notes))
