"""The shipped rule files and per-study overrides."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from lacrima import feedback as fb
from lacrima.errors import DataError

RULES_DIR = Path(str(resources.files("lacrima.feedback").joinpath("rules")))


def test_every_shipped_rule_file_follows_the_schema() -> None:
    schema = json.loads(resources.files("lacrima.feedback").joinpath("rules_schema.json").read_text())
    files = sorted(RULES_DIR.glob("*.yaml"))
    assert len(files) == len(fb.ALERT_KINDS)
    for path in files:
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


def test_there_is_one_rule_per_alert_kind_with_sources_and_evidence() -> None:
    rules = fb.load_rules()
    assert sorted(r.kind for r in rules) == sorted(fb.ALERT_KINDS)
    for rule in rules:
        assert rule.sources and rule.evidence in fb.EVIDENCE_LEVELS and rule.formula
        assert rule.enabled
        for name, par in rule.parameters.items():
            assert rule[name] == par.default and par.description
    assert rules["risk-item"].priority == "high"


def test_overrides_apply_and_are_recorded() -> None:
    rules = fb.load_rules(
        {"alliance-rupture": {"k_sd": 1, "enabled": False}, "missed-checkins": {"n_missed": 4}}
    )
    assert rules["alliance-rupture"]["k_sd"] == 1 and not rules["alliance-rupture"].enabled
    assert rules.by_kind("alliance-rupture") is None
    assert rules["missed-checkins"]["n_missed"] == 4
    assert set(rules["alliance-rupture"].overridden) == {"k_sd", "enabled"}
    assert fb.load_rules()["alliance-rupture"]["k_sd"] == 2.0  # the defaults are untouched


def test_bad_overrides_list_every_problem() -> None:
    with pytest.raises(DataError) as exc:
        fb.load_rules(
            {
                "alliance-rupture": {"k_sdd": 1, "k_sd": -1, "use_cutoff": "yes"},
                "no-such-rule": {},
                "missed-checkins": {"n_missed": 2.5},
                "risk-item": {"priority": "low"},
            }
        )
    err = exc.value
    text = str(err)
    assert len(err.problems) == 6
    assert "has no parameter 'k_sdd'" in text and "k_sd is -1; it must be at least 0.5" in text
    assert "use_cutoff must be true or false" in text and "no alert rule is called 'no-such-rule'" in text
    assert "n_missed must be a whole number" in text and "risk items are always high" in text


def test_a_broken_rule_definition_lists_every_problem() -> None:
    data = yaml.safe_load((RULES_DIR / "missed_checkins.yaml").read_text(encoding="utf-8"))
    data["colour"] = "red"
    data["evidence"] = "anecdotal"
    data["sources"] = []
    data["parameters"]["n_missed"]["default"] = 0
    with pytest.raises(DataError) as exc:
        fb.rule_from_dict(data, "mine.yaml")
    text = str(exc.value)
    assert "mine.yaml has 4 problem(s)" in text
    assert "'colour' was unexpected" in text and "'anecdotal' is not one of" in text
    assert "sources" in text and "n_missed/default is 0; it must be at least 1" in text


def test_it_writes_a_reliable_deterioration_with_the_decimals_that_show_it_beyond_1_96() -> None:
    from lacrima.feedback._not_on_track import _above_196

    assert _above_196(1.9612) == "1.961"  # "1.96 > 1.96" read as a contradiction
    assert _above_196(2.5) == "2.50"
    assert _above_196(1.96049) == "1.9605"
