"""The replication battery: descriptives, (partial) correlations, group comparisons, moderation,
multiple-comparison corrections and bootstrap intervals.

Every function takes a DataFrame and column names and returns a frozen result with ``.table()``; each was
checked against R (see ``tests/reference/battery.R``).
"""

from __future__ import annotations

from lacrima.analysis._adjust import adjust_p
from lacrima.analysis._bootstrap import BootstrapCI, bootstrap_ci
from lacrima.analysis._correlation import Correlation, CorrelationMatrix, correlate, correlation_matrix
from lacrima.analysis._descriptives import Descriptives, Prevalence, descriptives, prevalence
from lacrima.analysis._groups import GroupComparison, MannWhitney, compare_groups, mann_whitney
from lacrima.analysis._ktests import CrosstabTest, Kruskal, WelchAnova, crosstab_test, kruskal, welch_anova
from lacrima.analysis._moderation import JohnsonNeyman, Moderation, moderation

__all__ = [
    "BootstrapCI",
    "Correlation",
    "CorrelationMatrix",
    "CrosstabTest",
    "Descriptives",
    "GroupComparison",
    "JohnsonNeyman",
    "Kruskal",
    "MannWhitney",
    "Moderation",
    "Prevalence",
    "WelchAnova",
    "adjust_p",
    "bootstrap_ci",
    "compare_groups",
    "correlate",
    "correlation_matrix",
    "crosstab_test",
    "descriptives",
    "kruskal",
    "mann_whitney",
    "moderation",
    "prevalence",
    "welch_anova",
]
