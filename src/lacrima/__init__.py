"""lacrima: study and use client crying in psychotherapy.

Collect, score, analyse and report crying, working alliance, attachment and change. The public API is the
names in ``__all__``; they load lazily so that ``import lacrima`` stays fast (no matplotlib or Django until
needed).

>>> import lacrima as lc
>>> lc.load_instrument("wai_sr").subscales["bond"].items
(3, 5, 7, 9)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lacrima.errors import (
    ConvergenceWarning,
    DataError,
    InvarianceWarning,
    LacrimaWarning,
    MissingDataWarning,
    SingularFitWarning,
    SmallSampleWarning,
)

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "adjust_p": "lacrima.analysis",
    "bootstrap_ci": "lacrima.analysis",
    "compare_groups": "lacrima.analysis",
    "correlate": "lacrima.analysis",
    "correlation_matrix": "lacrima.analysis",
    "crosstab_test": "lacrima.analysis",
    "descriptives": "lacrima.analysis",
    "kruskal": "lacrima.analysis",
    "mann_whitney": "lacrima.analysis",
    "moderation": "lacrima.analysis",
    "prevalence": "lacrima.analysis",
    "welch_anova": "lacrima.analysis",
    "cfa": "lacrima.crosscultural.cfa",
    "pool_summaries": "lacrima.crosscultural.federated",
    "read_site_summary": "lacrima.crosscultural.federated",
    "site_summary": "lacrima.crosscultural.federated",
    "validate_site_summary": "lacrima.crosscultural.federated",
    "write_site_summary": "lacrima.crosscultural.federated",
    "invariance": "lacrima.crosscultural.invariance",
    "meta": "lacrima.crosscultural.meta",
    "smd_from_groups": "lacrima.crosscultural.meta",
    "multisite": "lacrima.crosscultural.multisite",
    "Instrument": "lacrima.instruments",
    "list_instruments": "lacrima.instruments",
    "load_instrument": "lacrima.instruments",
    "load_texts": "lacrima.instruments",
    "pseudonymise": "lacrima.io",
    "pseudonymize": "lacrima.io",
    "read_qualtrics": "lacrima.io",
    "read_redcap": "lacrima.io",
    "read_sqlite": "lacrima.io",
    "read_table": "lacrima.io",
    "write_sqlite": "lacrima.io",
    "write_table": "lacrima.io",
    "code_time": "lacrima.longitudinal",
    "decompose": "lacrima.longitudinal",
    "episodes": "lacrima.longitudinal",
    "lag": "lacrima.longitudinal",
    "mixed": "lacrima.longitudinal",
    "read_sessions": "lacrima.longitudinal",
    "summarise_sessions": "lacrima.longitudinal",
    "summarize_sessions": "lacrima.longitudinal",
    "validate_sessions": "lacrima.longitudinal",
    "analyze_sessions": "lacrima.longitudinal.plan",
    "analyze": "lacrima.report",
    "attachment_style": "lacrima.scoring",
    "reliability": "lacrima.scoring",
    "reliable_change": "lacrima.scoring",
    "score": "lacrima.scoring",
    "score_all": "lacrima.scoring",
    "validate": "lacrima.scoring",
    "power_by_simulation": "lacrima.simulate",
    "simulate_sessions": "lacrima.simulate",
    "simulate_study": "lacrima.simulate",
}

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "Instrument",
    "InvarianceWarning",
    "LacrimaWarning",
    "MissingDataWarning",
    "SingularFitWarning",
    "SmallSampleWarning",
    "__version__",
    "adjust_p",
    "analyze",
    "analyze_sessions",
    "attachment_style",
    "bootstrap_ci",
    "cfa",
    "code_time",
    "compare_groups",
    "correlate",
    "correlation_matrix",
    "crosstab_test",
    "decompose",
    "descriptives",
    "episodes",
    "invariance",
    "kruskal",
    "lag",
    "list_instruments",
    "load_instrument",
    "load_texts",
    "mann_whitney",
    "meta",
    "mixed",
    "moderation",
    "multisite",
    "pool_summaries",
    "power_by_simulation",
    "prevalence",
    "pseudonymise",
    "pseudonymize",
    "read_qualtrics",
    "read_redcap",
    "read_sessions",
    "read_site_summary",
    "read_sqlite",
    "read_table",
    "reliability",
    "reliable_change",
    "score",
    "score_all",
    "simulate_sessions",
    "simulate_study",
    "site_summary",
    "smd_from_groups",
    "summarise_sessions",
    "summarize_sessions",
    "validate",
    "validate_sessions",
    "validate_site_summary",
    "welch_anova",
    "write_site_summary",
    "write_sqlite",
    "write_table",
]

if TYPE_CHECKING:
    from lacrima.analysis import adjust_p as adjust_p
    from lacrima.analysis import bootstrap_ci as bootstrap_ci
    from lacrima.analysis import compare_groups as compare_groups
    from lacrima.analysis import correlate as correlate
    from lacrima.analysis import correlation_matrix as correlation_matrix
    from lacrima.analysis import crosstab_test as crosstab_test
    from lacrima.analysis import descriptives as descriptives
    from lacrima.analysis import kruskal as kruskal
    from lacrima.analysis import mann_whitney as mann_whitney
    from lacrima.analysis import moderation as moderation
    from lacrima.analysis import prevalence as prevalence
    from lacrima.analysis import welch_anova as welch_anova
    from lacrima.crosscultural.cfa import cfa as cfa
    from lacrima.crosscultural.federated import pool_summaries as pool_summaries
    from lacrima.crosscultural.federated import read_site_summary as read_site_summary
    from lacrima.crosscultural.federated import site_summary as site_summary
    from lacrima.crosscultural.federated import validate_site_summary as validate_site_summary
    from lacrima.crosscultural.federated import write_site_summary as write_site_summary
    from lacrima.crosscultural.invariance import invariance as invariance
    from lacrima.crosscultural.meta import meta as meta
    from lacrima.crosscultural.meta import smd_from_groups as smd_from_groups
    from lacrima.crosscultural.multisite import multisite as multisite
    from lacrima.instruments import Instrument as Instrument
    from lacrima.instruments import list_instruments as list_instruments
    from lacrima.instruments import load_instrument as load_instrument
    from lacrima.instruments import load_texts as load_texts
    from lacrima.io import pseudonymise as pseudonymise
    from lacrima.io import pseudonymize as pseudonymize
    from lacrima.io import read_qualtrics as read_qualtrics
    from lacrima.io import read_redcap as read_redcap
    from lacrima.io import read_sqlite as read_sqlite
    from lacrima.io import read_table as read_table
    from lacrima.io import write_sqlite as write_sqlite
    from lacrima.io import write_table as write_table
    from lacrima.longitudinal import code_time as code_time
    from lacrima.longitudinal import decompose as decompose
    from lacrima.longitudinal import episodes as episodes
    from lacrima.longitudinal import lag as lag
    from lacrima.longitudinal import mixed as mixed
    from lacrima.longitudinal import read_sessions as read_sessions
    from lacrima.longitudinal import summarise_sessions as summarise_sessions
    from lacrima.longitudinal import summarize_sessions as summarize_sessions
    from lacrima.longitudinal import validate_sessions as validate_sessions
    from lacrima.longitudinal.plan import analyze_sessions as analyze_sessions
    from lacrima.report import analyze as analyze
    from lacrima.scoring import attachment_style as attachment_style
    from lacrima.scoring import reliability as reliability
    from lacrima.scoring import reliable_change as reliable_change
    from lacrima.scoring import score as score
    from lacrima.scoring import score_all as score_all
    from lacrima.scoring import validate as validate
    from lacrima.simulate import power_by_simulation as power_by_simulation
    from lacrima.simulate import simulate_sessions as simulate_sessions
    from lacrima.simulate import simulate_study as simulate_study


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lacrima' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
