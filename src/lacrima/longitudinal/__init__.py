"""Session-level work: linear and logistic mixed models (lme4-style formulas), session-table helpers
(validation, time coding, within/between decomposition, lags, crying episodes) and session archives in
Parquet read without loading unneeded columns."""

from lacrima.longitudinal._mixed import LrtResult, MixedResult, mixed
from lacrima.longitudinal.sessions import (
    Episodes,
    Lagged,
    SessionCheck,
    SessionSummary,
    code_time,
    decompose,
    episodes,
    lag,
    read_sessions,
    summarise_sessions,
    summarize_sessions,
    validate_sessions,
    wilson_interval,
)

__all__ = [
    "Episodes",
    "Lagged",
    "LrtResult",
    "MixedResult",
    "SessionCheck",
    "SessionSummary",
    "code_time",
    "decompose",
    "episodes",
    "lag",
    "mixed",
    "read_sessions",
    "summarise_sessions",
    "summarize_sessions",
    "validate_sessions",
    "wilson_interval",
]
