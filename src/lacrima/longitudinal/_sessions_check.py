"""validate_sessions: what is wrong (or worth knowing) in a session table before it is modelled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lacrima._deprecation import warn_renamed
from lacrima._results import Check
from lacrima.errors import Problem
from lacrima.longitudinal._sessions_common import id_missing, require_columns

__all__ = ["SessionCheck", "validate_sessions"]

FINDING_COLUMNS = ["row", "client", "session", "kind", "severity", "message"]
# kinds that make a table unusable for lag/episodes/models; the rest are reported for information
ERROR_KINDS = (
    "missing_client_id",
    "missing_therapist_id",
    "missing_session",
    "non_numeric_session",
    "negative_session",
    "non_integer_session",
    "duplicate_session",
)
NOTE_KINDS = ("gap", "therapist_switch")


@dataclass(frozen=True, eq=False)
class SessionCheck(Check):
    """Findings of :func:`validate_sessions`.

    Attributes
    ----------
    findings
        One row per finding: ``row`` (index label of the row, missing for gaps), ``client``, ``session``,
        ``kind``, ``severity`` (``"error"`` or ``"note"``) and ``message``.
    n_rows, n_clients, n_therapists
        Size of the table checked (``n_therapists`` is None when no therapist column was checked).
    n_errors, n_notes
        Numbers of findings of each severity.
    """

    findings: pd.DataFrame
    n_rows: int
    n_clients: int
    n_therapists: int | None
    n_errors: int
    n_notes: int

    @property
    def ok(self) -> bool:
        """True when there is no error (notes such as gaps or therapist switches are allowed)."""
        return self.n_errors == 0

    @property
    def errors(self) -> pd.DataFrame:
        """The findings of severity ``"error"``."""
        return self.findings[self.findings["severity"] == "error"].reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """Every finding: row, client, session, kind, severity, message."""
        return self.findings.copy()

    @property
    def problems(self) -> tuple[Problem, ...]:  # type: ignore[override]
        """The errors as problems (row label and message); notes are not problems."""
        errors = self.errors
        return tuple(
            Problem(str(m), row=None if _isna(r) else r)
            for r, m in zip(errors["row"], errors["message"], strict=True)
        )

    def headline(self) -> str:
        kinds = ", ".join(f"{k} ({n})" for k, n in self.errors["kind"].value_counts(sort=False).items())
        return f"the session table has {self.n_errors} errors: {kinds}; fix them and check again"

    def raise_for_errors(self) -> None:
        """Deprecated name of :meth:`raise_if_invalid` (removed in lacrima 0.3)."""
        warn_renamed("SessionCheck.raise_for_errors()", "raise_if_invalid()")
        self.raise_if_invalid()


def validate_sessions(
    df: pd.DataFrame,
    *,
    client: str = "client_id",
    therapist: str | None = "therapist_id",
    session: str = "session",
) -> SessionCheck:
    """Check a session table (one row per session of a client) before modelling it.

    Errors: missing client or therapist ids, missing, non-numeric, negative or non-whole session
    numbers, and a session number that occurs more than once for a client (every such row is listed).
    Notes (reported, not errors): gaps in a client's session numbers (e.g. sessions 4 and 5 missing
    between 3 and 6) and clients whose therapist changes (listed at the session where it changes).

    Parameters
    ----------
    df
        Session table.
    client, therapist, session
        Column names. ``therapist=None`` skips the therapist checks.

    Returns
    -------
    SessionCheck
        ``.table()`` lists every finding; ``.ok`` is True without errors; ``.raise_if_invalid()`` raises
        one DataError listing them all.

    Notes
    -----
    A data check with no R counterpart: nothing is estimated.
    """
    needed = [client, session] + ([therapist] if therapist is not None else [])
    require_columns(df, needed, "validate_sessions")
    labels = list(df.index)
    clients = df[client]
    rows: list[dict[str, Any]] = []

    def add(i: int | None, cl: Any, s: Any, kind: str, message: str) -> None:
        rows.append(
            {
                "row": labels[i] if i is not None else None,
                "client": cl,
                "session": s,
                "kind": kind,
                "severity": "error" if kind in ERROR_KINDS else "note",
                "message": message,
            }
        )

    no_client = id_missing(clients)
    for i in np.flatnonzero(no_client):
        add(int(i), None, df[session].iloc[i], "missing_client_id", f"{client} is missing")

    raw = df[session]
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy()
    if pd.api.types.is_bool_dtype(raw.dtype):
        numbers = np.full(len(df), np.nan)
    usable = np.isfinite(numbers)
    for i in np.flatnonzero(~usable):
        value = raw.iloc[i]
        if pd.isna(value):
            add(int(i), _id(clients.iloc[i]), None, "missing_session", f"{session} is missing")
        else:
            add(
                int(i),
                _id(clients.iloc[i]),
                value,
                "non_numeric_session",
                f"{session} {value!r} is not a number",
            )
    for i in np.flatnonzero(usable & (numbers < 0)):
        add(
            int(i),
            _id(clients.iloc[i]),
            _num(numbers[i]),
            "negative_session",
            f"{session} {numbers[i]:g} is negative",
        )
    for i in np.flatnonzero(usable & (numbers >= 0) & (np.floor(numbers) != numbers)):
        add(
            int(i),
            _id(clients.iloc[i]),
            _num(numbers[i]),
            "non_integer_session",
            f"{session} {numbers[i]:g} is not a whole number",
        )

    n_therapists: int | None = None
    if therapist is not None:
        no_therapist = id_missing(df[therapist])
        for i in np.flatnonzero(no_therapist):
            add(
                int(i),
                _id(clients.iloc[i]),
                _num(numbers[i]),
                "missing_therapist_id",
                f"{therapist} is missing",
            )
        n_therapists = int(df[therapist][~no_therapist].nunique())

    ok = ~no_client & usable & (numbers >= 0) & (np.floor(numbers) == numbers)
    good = pd.DataFrame({"pos": np.arange(len(df)), "c": clients.to_numpy(), "s": numbers})[ok]
    good = good.sort_values(["c", "s", "pos"], kind="stable")

    dup = good.duplicated(["c", "s"], keep=False).to_numpy()
    counts = good.groupby(["c", "s"], sort=False)["pos"].transform("size").to_numpy()
    for pos, c, s, n in zip(good["pos"][dup], good["c"][dup], good["s"][dup], counts[dup], strict=True):
        add(int(pos), c, _num(s), "duplicate_session", f"{client} {c!r} has {n} rows for {session} {_num(s)}")

    unique = good.drop_duplicates(["c", "s"])
    c_arr, s_arr = unique["c"].to_numpy(), unique["s"].to_numpy()
    if len(unique) > 1:
        same = c_arr[1:] == c_arr[:-1]
        jump = s_arr[1:] - s_arr[:-1]
        for j in np.flatnonzero(same & (jump > 1)):
            before, after = s_arr[j], s_arr[j + 1]
            first, last = _num(before + 1), _num(after - 1)
            span = f"{session} {first}" if first == last else f"{session}s {first}-{last}"
            add(None, c_arr[j], first, "gap", f"{span} missing (between {_num(before)} and {_num(after)})")

    if therapist is not None:
        th = df[therapist].to_numpy()
        seq = good.drop_duplicates(["c", "s"])
        seq = seq[~id_missing(pd.Series(th[seq["pos"].to_numpy()]))]
        pos = seq["pos"].to_numpy()
        c_arr, s_arr, t_arr = seq["c"].to_numpy(), seq["s"].to_numpy(), th[pos]
        if len(seq) > 1:
            switch = (c_arr[1:] == c_arr[:-1]) & (t_arr[1:] != t_arr[:-1])
            for j in np.flatnonzero(switch):
                add(
                    int(pos[j + 1]),
                    c_arr[j + 1],
                    _num(s_arr[j + 1]),
                    "therapist_switch",
                    f"{therapist} changes from {t_arr[j]!r} ({session} {_num(s_arr[j])}) to {t_arr[j + 1]!r} "
                    f"({session} {_num(s_arr[j + 1])})",
                )

    # row labels and raw session values keep their own types (an int label is not turned into 9.0)
    findings = pd.DataFrame(
        {
            c: pd.Series([r[c] for r in rows], dtype=object if c in ("row", "client", "session") else "str")
            for c in FINDING_COLUMNS
        }
    )
    if len(findings):
        kind_order = {k: i for i, k in enumerate(ERROR_KINDS + NOTE_KINDS)}
        findings = (
            findings.assign(_k=findings["kind"].map(kind_order))
            .sort_values(["_k"], kind="stable")
            .drop(columns="_k")
            .reset_index(drop=True)
        )
    n_errors = int((findings["severity"] == "error").sum())
    return SessionCheck(
        findings=findings,
        n_rows=len(df),
        n_clients=int(clients[~no_client].nunique()),
        n_therapists=n_therapists,
        n_errors=n_errors,
        n_notes=len(findings) - n_errors,
    )


def _id(value: Any) -> Any:
    return None if _isna(value) else value


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _num(value: float) -> int | float | None:
    if not np.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else float(value)
