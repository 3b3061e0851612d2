"""Clinical feedback: alert rules and guidance as data, evaluated on one client's sessions.

A plain library (no Django): the web app's caseload and client pages call it.

Examples
--------
>>> from lacrima import feedback as fb
>>> rules = fb.load_rules({"alliance-rupture": {"k_sd": 1.5}})
>>> rules["alliance-rupture"]["k_sd"], rules["risk-item"].priority
(1.5, 'high')

The rules are versioned YAML files in ``lacrima/feedback/rules/`` (validated against
``rules_schema.json``); docs/feedback.md lists their defaults, formulas and sources.
"""

from lacrima.feedback._evaluate import URGENCY_HALF_LIFE, URGENCY_WEIGHTS, evaluate, evaluate_many, urgency
from lacrima.feedback._expected import ExpectedRecovery, default_expected_recovery, fit_expected_recovery
from lacrima.feedback._guidance import (
    DISCLAIMER,
    GuidancePrompt,
    GuidanceSet,
    guidance_from_dict,
    load_guidance,
    select_guidance,
)
from lacrima.feedback._model import Alert, ClientProfile, Evaluation, RuptureEpisode
from lacrima.feedback._performance import RulePerformance, rule_performance, simulated_profiles
from lacrima.feedback._profile import client_profile
from lacrima.feedback._rules import (
    ALERT_KINDS,
    EVIDENCE_LEVELS,
    PRIORITIES,
    Parameter,
    Rule,
    RuleSet,
    load_rules,
    rule_from_dict,
)
from lacrima.scoring import reliable_change

__all__ = [
    "ALERT_KINDS",
    "DISCLAIMER",
    "EVIDENCE_LEVELS",
    "PRIORITIES",
    "URGENCY_HALF_LIFE",
    "URGENCY_WEIGHTS",
    "Alert",
    "ClientProfile",
    "Evaluation",
    "ExpectedRecovery",
    "GuidancePrompt",
    "GuidanceSet",
    "Parameter",
    "Rule",
    "RulePerformance",
    "RuleSet",
    "RuptureEpisode",
    "client_profile",
    "default_expected_recovery",
    "evaluate",
    "evaluate_many",
    "fit_expected_recovery",
    "guidance_from_dict",
    "load_guidance",
    "load_rules",
    "reliable_change",
    "rule_from_dict",
    "rule_performance",
    "select_guidance",
    "simulated_profiles",
    "urgency",
]
