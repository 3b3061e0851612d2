"""Session-data helpers: check, code time, split within/between, lag, crying episodes, large archives.

Every function takes a session table (one row per session of a client; see the data contract) and
returns a new DataFrame or a frozen result; the input is never modified and no row is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lacrima._results import Result
from lacrima.errors import DataError
from lacrima.longitudinal._archive import (
    SessionSummary,
    read_sessions,
    summarise_sessions,
    summarize_sessions,
    wilson_interval,
)
from lacrima.longitudinal._sessions_check import SessionCheck, validate_sessions
from lacrima.longitudinal._sessions_common import (
    as_columns,
    binary_values,
    require_columns,
    require_ids,
    require_unique,
    session_numbers,
)

__all__ = [
    "Episodes",
    "Lagged",
    "SessionCheck",
    "SessionSummary",
    "code_time",
    "decompose",
    "episodes",
    "lag",
    "read_sessions",
    "summarise_sessions",
    "summarize_sessions",
    "validate_sessions",
    "wilson_interval",
]


def code_time(
    df: pd.DataFrame,
    session: str = "session",
    *,
    origin: Literal["first", "client_first"] | float = "first",
    scale: float = 1.0,
    name: str = "time",
    by: str = "client_id",
    log: bool = False,
    quadratic: bool = False,
) -> pd.DataFrame:
    """Add a time variable coded from session numbers: ``time = (session - origin) / scale``.

    Parameters
    ----------
    df
        Session table.
    session
        Column of session numbers.
    origin
        Session number that becomes time 0: ``"first"`` (the smallest session number in the data, so with
        sessions numbered from 1, session 1 -> 0), ``"client_first"`` (each client's own first recorded
        session; needs ``by``), or a number (e.g. ``origin=8`` centres on session 8).
    scale
        Units of time in sessions (``scale=10``: time in tens of sessions). Must be positive.
    name
        Name of the new column (an existing column of that name is replaced).
    by
        Client id column, used only with ``origin="client_first"``.
    log
        Also add ``<name>_log = log(time + 1)`` (0 at the origin; a decelerating trajectory). Needs
        time > -1 everywhere.
    quadratic
        Also add ``<name>_sq = time ** 2``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with the new column(s).

    Notes
    -----
    A recoding with no R counterpart (in R: ``transform(d, time = (session - 1) / scale)``).
    """
    require_columns(df, [session] + ([by] if origin == "client_first" else []), "code_time")
    if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
        raise DataError(f"code_time: scale is {scale!r}; give a positive number of sessions per time unit")
    numbers = session_numbers(df, session, "code_time")
    if isinstance(origin, str):
        if origin == "first":
            zero: float | pd.Series = float(numbers.min())
        elif origin == "client_first":
            require_ids(df, by, "code_time")
            zero = numbers.groupby(df[by].to_numpy()).transform("min")
        else:
            raise DataError(
                f"code_time: origin is {origin!r}; use 'first', 'client_first' or a session number"
            )
    elif isinstance(origin, (int, float)) and not isinstance(origin, bool) and np.isfinite(origin):
        zero = float(origin)
    else:
        raise DataError(f"code_time: origin is {origin!r}; use 'first', 'client_first' or a session number")
    time = (numbers - zero) / float(scale)
    out = df.copy()
    out[name] = time.to_numpy()
    if log:
        if (time <= -1).any():
            raise DataError(
                f"code_time: log(time + 1) needs time > -1, but the smallest time is {time.min():g}; "
                "choose an origin at or before the first session"
            )
        out[f"{name}_log"] = np.log1p(time.to_numpy())
    if quadratic:
        out[f"{name}_sq"] = time.to_numpy() ** 2
    return out


def decompose(
    df: pd.DataFrame,
    columns: str | Sequence[str],
    by: str = "client_id",
    *,
    grand: Literal["persons", "observations"] = "persons",
) -> pd.DataFrame:
    """Split time-varying predictors into within-client and between-client parts.

    For each column ``x`` three columns are added:

    - ``x_pm``: the client's mean of ``x`` over the sessions where it is observed (the person mean);
    - ``x_cwc``: ``x - x_pm``, centred within client (the within part: this session compared with the
      client's usual; missing where ``x`` is missing);
    - ``x_pmc``: ``x_pm - grand mean``, the person mean centred at the grand mean (the between part).

    Entering ``x_cwc`` and ``x_pmc`` together in a mixed model separates the within-client effect from
    the between-client effect (centring within cluster, Enders & Tofighi 2007; Curran & Bauer 2011).

    Parameters
    ----------
    df
        Session table.
    columns
        Numeric (or boolean, taken as 0/1) columns to decompose.
    by
        Client id column.
    grand
        The grand mean used for ``x_pmc``: ``"persons"`` (default: the mean of the person means, each client
        counted once, so ``x_pmc`` averages 0 over clients) or ``"observations"`` (the mean over all
        observed sessions, so clients with more sessions weigh more).

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with the new columns (existing columns of the same names are replaced).

    Notes
    -----
    Checked against base R: ``pm <- ave(x, id, FUN = function(v) mean(v, na.rm = TRUE))``,
    ``cwc <- x - pm``, ``pmc <- pm - mean(tapply(x, id, mean, na.rm = TRUE))`` (persons) or
    ``pm - mean(x, na.rm = TRUE)`` (observations); ``tests/reference/sessions.R``.
    """
    cols = as_columns(columns)
    require_columns(df, [*cols, by], "decompose")
    require_ids(df, by, "decompose")
    if grand not in ("persons", "observations"):
        raise DataError(f"decompose: grand is {grand!r}; use 'persons' or 'observations'")
    ids = df[by].to_numpy()
    out = df.copy()
    for col in cols:
        x = _numeric(df, col, "decompose")
        pm = x.groupby(ids).transform("mean")
        centre = float(x.groupby(ids).mean().mean()) if grand == "persons" else float(x.mean())
        out[f"{col}_pm"] = pm.to_numpy()
        out[f"{col}_cwc"] = (x - pm).to_numpy()
        out[f"{col}_pmc"] = (pm - centre).to_numpy()
    return out


@dataclass(frozen=True, eq=False)
class Lagged(Result):
    """Lagged predictors from :func:`lag`.

    Attributes
    ----------
    data
        A copy of the input (same rows, same order and index) with the lagged columns ``<col>_lag<k>``.
    columns
        Names of the lagged columns.
    k
        The lag in sessions.
    require_consecutive
        True: the lag is the value at session ``t - k`` exactly; False: the value ``k`` recorded sessions
        earlier, whatever its number.
    n_rows
        Rows in the data.
    n_first
        Rows with no earlier session to lag from (a client's first ``k`` sessions).
    n_gap
        Rows whose lag is missing because session ``t - k`` is absent inside the client's record
        (only with ``require_consecutive=True``).
    n_across_gap
        Rows whose lag comes from a session other than ``t - k`` because of a gap (only with
        ``require_consecutive=False``).
    note
        The counts in words.
    """

    data: pd.DataFrame
    columns: tuple[str, ...]
    k: int
    require_consecutive: bool
    n_rows: int
    n_first: int
    n_gap: int
    n_across_gap: int
    note: str

    def table(self) -> pd.DataFrame:
        """Per lagged column: n rows, n with a lagged value, and why the rest are missing."""
        records = []
        for col in self.columns:
            n_value = int(self.data[col].notna().sum())
            records.append(
                {
                    "column": col,
                    "n": self.n_rows,
                    "n_lagged": n_value,
                    "n_first": self.n_first,
                    "n_gap": self.n_gap,
                    "n_missing_value": self.n_rows - n_value - self.n_first - self.n_gap,
                    "n_across_gap": self.n_across_gap,
                }
            )
        return pd.DataFrame(records)


def lag(
    df: pd.DataFrame,
    columns: str | Sequence[str],
    by: str = "client_id",
    order: str = "session",
    k: int = 1,
    *,
    require_consecutive: bool = True,
) -> Lagged:
    """Lagged values within client: e.g. crying at session ``t - 1`` as a predictor of alliance at ``t``.

    Parameters
    ----------
    df
        Session table (any row order; the output keeps it).
    columns
        Columns to lag. Boolean columns become 0/1 floats so that a missing lag can be NaN.
    by
        Client id column: a lag never crosses from one client to another.
    order
        Session number column.
    k
        Lag in sessions (a positive whole number).
    require_consecutive
        True (default): the lag at session ``t`` is the value at session ``t - k`` and is NaN when that
        session is not in the data (a skipped or unrecorded session). False: the value ``k`` recorded
        sessions earlier, even across gaps (counted in ``n_across_gap``).

    Returns
    -------
    Lagged
        ``.data`` with columns ``<col>_lag<k>`` and the counts of rows without a lag in ``.note``.

    Notes
    -----
    Checked against base R: ``d$x_lag1 <- d$x[match(paste(d$id, d$session - 1), paste(d$id, d$session))]``
    (consecutive) in ``tests/reference/sessions.R``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"lag: k is {k!r}; give a positive whole number of sessions")
    k = int(k)
    cols = as_columns(columns)
    require_columns(df, [*cols, by, order], "lag")
    require_ids(df, by, "lag")
    numbers = session_numbers(df, order, "lag")
    require_unique(df, by, numbers, order, "lag")

    n = len(df)
    ids = df[by].to_numpy()
    frame = pd.DataFrame({"id": ids, "o": numbers.to_numpy(), "pos": np.arange(n)})
    values = {c: df[c].astype("float64") if pd.api.types.is_bool_dtype(df[c].dtype) else df[c] for c in cols}
    client_min = frame.groupby("id", sort=False)["o"].transform("min").to_numpy()
    out = df.copy()
    names = tuple(f"{c}_lag{k}" for c in cols)
    if require_consecutive:
        target = frame.assign(o=frame["o"] + k)[["id", "o", "pos"]].rename(columns={"pos": "src"})
        matched = frame.merge(target, on=["id", "o"], how="left", sort=False)
        src = matched.set_index("pos")["src"].reindex(np.arange(n)).to_numpy()
        has = ~np.isnan(src.astype("float64"))
        first = (frame["o"].to_numpy() - k) < client_min
        n_first = int(first.sum())
        n_gap = int((~has & ~first).sum())
        n_across = 0
    else:
        ordered = frame.sort_values(["id", "o"], kind="stable")
        shifted = ordered.groupby("id", sort=False)[["pos", "o"]].shift(k)
        src_sorted = shifted["pos"].to_numpy()
        src = np.full(n, np.nan)
        src[ordered["pos"].to_numpy()] = src_sorted
        o_prev = np.full(n, np.nan)
        o_prev[ordered["pos"].to_numpy()] = shifted["o"].to_numpy()
        has = ~np.isnan(src)
        n_first = int((~has).sum())
        n_gap = 0
        n_across = int((has & (o_prev != frame["o"].to_numpy() - k)).sum())
    take = np.where(has, src, 0).astype(np.int64)
    for c, name in zip(cols, names, strict=True):
        v = values[c]
        lagged = v.iloc[take].reset_index(drop=True)
        lagged = lagged.where(pd.Series(has))
        out[name] = lagged.to_numpy()
    note = (
        f"{n - int(has.sum())} of {n} rows have no lag {k}: {n_first} are a client's first "
        f"{'session' if k == 1 else f'{k} sessions'}"
    )
    if require_consecutive:
        note += (
            f", {n_gap} have no session t-{k} recorded (set require_consecutive=False to use the "
            "previous recorded session instead)"
        )
    else:
        note += f"; {_across_text(n_across, k)}"
    return Lagged(
        data=out,
        columns=names,
        k=k,
        require_consecutive=require_consecutive,
        n_rows=n,
        n_first=n_first,
        n_gap=n_gap,
        n_across_gap=n_across,
        note=note,
    )


def _across_text(n_across: int, k: int) -> str:
    return f"{n_across} lags come from a session other than t-{k} because sessions are missing"


@dataclass(frozen=True, eq=False)
class Episodes(Result):
    """Crying episodes per client from :func:`episodes`.

    Attributes
    ----------
    clients
        One row per client: ``n_sessions`` (rows), ``n_observed`` (sessions with ``cried`` recorded),
        ``n_cried`` (the dose), ``rate`` (``n_cried / n_observed``), ``first_cry_session``,
        ``last_cry_session``, ``longest_run`` (most consecutive session numbers with crying),
        ``last_session`` and ``sessions_since_last_cry`` (``last_session - last_cry_session``; NaN for a
        client who never cried).
    sessions
        A copy of the input (same rows and order) with ``cumulative_cries`` (crying sessions up to and
        including this one; a missing ``cried`` adds 0) and ``prior_cries`` (up to the session before).
    n_missing
        Sessions with ``cried`` missing (kept, counted in ``n_sessions`` but not in ``n_observed``).
    """

    clients: pd.DataFrame
    sessions: pd.DataFrame
    n_missing: int

    def table(self) -> pd.DataFrame:
        """The per-client table."""
        return self.clients.copy()


def episodes(
    df: pd.DataFrame, cried: str = "cried", by: str = "client_id", order: str = "session"
) -> Episodes:
    """Crying episodes per client: dose, rate, first crying session, longest run, time since last cry.

    Parameters
    ----------
    df
        Session table.
    cried
        Boolean or 0/1 column (1: the client cried in this session); missing values are allowed and
        counted.
    by
        Client id column.
    order
        Session number column. A run of crying is broken by a session without crying, a session with
        ``cried`` missing, or a skipped session number.

    Returns
    -------
    Episodes
        ``.clients`` (one row per client, in order of first appearance), ``.sessions`` (running dose).

    Notes
    -----
    Checked against base R (``tapply``, ``rle`` within client, ``cumsum``) in
    ``tests/reference/sessions.R``.
    """
    require_columns(df, [cried, by, order], "episodes")
    require_ids(df, by, "episodes")
    numbers = session_numbers(df, order, "episodes")
    require_unique(df, by, numbers, order, "episodes")
    c = binary_values(df, cried, "episodes")
    n = len(df)
    frame = pd.DataFrame({"id": df[by].to_numpy(), "o": numbers.to_numpy(), "c": c, "pos": np.arange(n)})
    ordered = frame.sort_values(["id", "o"], kind="stable").reset_index(drop=True)
    yes = (ordered["c"] == 1.0).to_numpy()
    ids, o = ordered["id"].to_numpy(), ordered["o"].to_numpy()
    continues = np.zeros(len(ordered), dtype=bool)
    if len(ordered) > 1:
        continues[1:] = yes[1:] & yes[:-1] & (ids[1:] == ids[:-1]) & (o[1:] - o[:-1] == 1)
    run_id = np.cumsum(~continues)
    run_len = pd.Series(yes.astype(np.int64)).groupby(run_id).transform("sum").to_numpy()
    ordered["run"] = np.where(yes, run_len, 0)
    ordered["cry_o"] = np.where(yes, o, np.nan)
    ordered["cum"] = pd.Series(np.where(yes, 1, 0)).groupby(ids).cumsum().to_numpy()

    g = ordered.groupby("id", sort=False)
    clients = pd.DataFrame(
        {
            "n_sessions": g.size(),
            "n_observed": g["c"].count(),
            "n_cried": g["cum"].max(),
            "first_cry_session": g["cry_o"].min(),
            "last_cry_session": g["cry_o"].max(),
            "longest_run": g["run"].max(),
            "last_session": g["o"].max(),
        }
    )
    appearance = pd.unique(frame["id"])
    clients = clients.reindex(appearance)
    clients["rate"] = clients["n_cried"] / clients["n_observed"].where(clients["n_observed"] > 0)
    clients["sessions_since_last_cry"] = clients["last_session"] - clients["last_cry_session"]
    clients.index.name = by
    clients = clients.reset_index()[
        [
            by,
            "n_sessions",
            "n_observed",
            "n_cried",
            "rate",
            "first_cry_session",
            "last_cry_session",
            "longest_run",
            "last_session",
            "sessions_since_last_cry",
        ]
    ]
    for col in ("n_sessions", "n_observed", "n_cried", "longest_run"):
        clients[col] = clients[col].astype(np.int64)

    cum = np.empty(n, dtype=np.int64)
    cum[ordered["pos"].to_numpy()] = ordered["cum"].to_numpy()
    sessions = df.copy()
    sessions["cumulative_cries"] = cum
    sessions["prior_cries"] = cum - np.where(c == 1.0, 1, 0)
    return Episodes(clients=clients, sessions=sessions, n_missing=int(np.isnan(c).sum()))


def _numeric(df: pd.DataFrame, column: str, what: str) -> pd.Series:
    s = df[column]
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64").reset_index(drop=True)
    raise DataError(
        f"{what}: column {column!r} is {s.dtype}, not numeric; convert it (e.g. pd.to_numeric) or score the "
        "items first"
    )
