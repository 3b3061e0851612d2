"""Cross-cultural and multi-site work: multi-group CFA and measurement invariance, random-effects
meta-analysis across sites and exact federated pooling of site summaries (aggregates only, no rows)."""

from lacrima.crosscultural._pooled_plan import PooledHypothesis, PooledReport, level_key, pool_plan
from lacrima.crosscultural.cfa import CFAResult, cfa
from lacrima.crosscultural.federated import (
    PooledCorrelation,
    PooledRegression,
    PooledSummary,
    SiteSummary,
    SiteSummaryCheck,
    pool_summaries,
    read_site_summary,
    site_summary,
    validate_site_summary,
    write_site_summary,
)
from lacrima.crosscultural.invariance import InvarianceResult, PartialInvarianceResult, invariance
from lacrima.crosscultural.meta import MetaRegressionResult, MetaResult, meta, smd_from_groups
from lacrima.crosscultural.multisite import MultiSiteResult, ScaleModel, multisite

__all__ = [
    "CFAResult",
    "InvarianceResult",
    "MetaRegressionResult",
    "MetaResult",
    "MultiSiteResult",
    "PartialInvarianceResult",
    "PooledCorrelation",
    "PooledHypothesis",
    "PooledRegression",
    "PooledReport",
    "PooledSummary",
    "ScaleModel",
    "SiteSummary",
    "SiteSummaryCheck",
    "cfa",
    "invariance",
    "level_key",
    "meta",
    "multisite",
    "pool_plan",
    "pool_summaries",
    "read_site_summary",
    "site_summary",
    "smd_from_groups",
    "validate_site_summary",
    "write_site_summary",
]
