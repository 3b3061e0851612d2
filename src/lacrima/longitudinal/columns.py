"""Checks and conversions of session-table columns that the packages built on ``longitudinal`` share
(``report`` draws session figures from the same columns): required columns present, 0/1 outcomes, whole
session numbers."""

from lacrima.longitudinal._sessions_common import binary_values, require_columns, session_numbers

__all__ = ["binary_values", "require_columns", "session_numbers"]
