"""Guidance as data: the shipped files, a clinic's own files, switching prompts off, selecting prompts."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from lacrima import feedback as fb
from lacrima.errors import DataError

GUIDANCE_DIR = Path(str(resources.files("lacrima.feedback").joinpath("guidance")))

OWN = {
    "id": "our-clinic",
    "version": "2026.1",
    "title": "Our clinic's prompts",
    "prompts": [
        {
            "id": "our-secure-criers",
            "version": "1",
            "title": {"en": "Secure and crying"},
            "text": {
                "en": "Our supervisors suggest a short check on how the tears felt. Derived: not tested."
            },
            "when": {"attachment_style": ["secure"], "cried_recently": True},
            "evidence": "derived",
            "evidence_note": "Our clinic's practice.",
            "citations": ["Our clinic's supervision handbook, 2026 edition, section 4."],
        }
    ],
}


def _write(tmp_path: Path, data: dict, name: str = "own.yaml") -> Path:  # type: ignore[type-arg]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_files_follow_the_schema_and_the_evidence_rules() -> None:
    schema = json.loads(resources.files("lacrima.feedback").joinpath("guidance_schema.json").read_text())
    for path in sorted(GUIDANCE_DIR.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    guidance = fb.load_guidance()
    assert len(guidance) >= 10
    for prompt in guidance:
        assert prompt.citations and prompt.evidence in fb.EVIDENCE_LEVELS and prompt.evidence_note
        assert prompt.text["en"] and prompt.title["en"]
        assert "clinical judgement" in prompt.disclaimer
        if prompt.evidence == "derived":
            assert "not" in prompt.text["en"] and "tested" in prompt.text["en"]
        for language in prompt.needs_review:
            assert language in prompt.text  # marked for review only where a translation exists
    levels = {p.evidence for p in guidance}
    assert levels == {"tested", "correlational", "derived"}
    kinds = {k for p in guidance for k in p.when.get("alerts", ())}
    assert kinds == set(fb.ALERT_KINDS)  # a prompt for every alert kind


def test_a_guidance_file_with_an_unknown_key_or_a_missing_citation_lists_every_problem(
    tmp_path: Path,
) -> None:
    bad = json.loads(json.dumps(OWN))
    prompt = bad["prompts"][0]
    prompt["colour"] = "red"  # unknown key in a prompt
    prompt["when"]["star_sign"] = "leo"  # unknown condition
    del prompt["citations"]  # missing citation
    bad["prompts"].append({**OWN["prompts"][0], "id": "second", "evidence": "anecdotal", "citations": []})
    with pytest.raises(DataError) as exc:
        fb.load_guidance(extra=[_write(tmp_path, bad)])
    text = str(exc.value)
    assert "own.yaml" in text
    assert "'colour' was unexpected" in text and "'star_sign' was unexpected" in text
    assert "'citations' is a required property" in text
    assert "'anecdotal' is not one of" in text and "should be non-empty" in text
    assert len(exc.value.problems) == 5


def test_a_derived_prompt_must_say_it_was_not_tested(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(OWN))
    bad["prompts"][0]["text"]["en"] = "Our supervisors suggest a short check on how the tears felt."
    bad["prompts"][0]["when"]["cry_rate"] = {"min": 0.5, "max": 0.2}
    with pytest.raises(DataError) as exc:
        fb.guidance_from_dict(bad, "own.yaml")
    text = str(exc.value)
    assert "a derived prompt must say in its English text that it was not tested" in text
    assert "when/cry_rate has min 0.5 above max 0.2" in text


def test_a_clinic_adds_its_own_file_and_switches_prompts_off(tmp_path: Path) -> None:
    own = _write(tmp_path, OWN)
    guidance = fb.load_guidance(extra=[own], disabled=["positive-crying", "crying-as-weakness"])
    assert "our-secure-criers" in guidance and "positive-crying" not in guidance
    assert guidance.disabled == ("positive-crying", "crying-as-weakness") and str(own) in guidance.files
    with pytest.raises(DataError, match="do not exist: no-such-prompt"):
        fb.load_guidance(disabled=["no-such-prompt"])
    clash = json.loads(json.dumps(OWN))
    clash["prompts"][0]["id"] = "positive-crying"
    with pytest.raises(DataError, match="'positive-crying' is in both"):
        fb.load_guidance(extra=[_write(tmp_path, clash, "clash.yaml")])
    with pytest.raises(DataError, match="does not exist"):
        fb.load_guidance(extra=[tmp_path / "missing.yaml"])


def _sessions(alliance: list[float], cried_at: dict[int, tuple[int, int, int]]) -> pd.DataFrame:
    rows = []
    for s, a in enumerate(alliance, start=1):
        row: dict[str, float] = {"session": s, "cried": 0, "chk_07": a, "chk_08": a, "chk_09": a}
        if s in cried_at:
            intensity, positive, negative = cried_at[s]
            row.update(
                {"cried": 1, "chk_02": intensity, "chk_03": positive, "chk_04": positive}
                | {"chk_05": negative, "chk_06": negative}
            )
        rows.append(row)
    return pd.DataFrame(rows)


def test_prompts_are_selected_on_attachment_crying_attitudes_gender_and_alerts() -> None:
    guidance = fb.load_guidance()
    # the example: alliance falling to 2 with intense crying followed by shame, avoidant client
    sessions = _sessions([6, 6, 6, 6, 5, 4, 2], {7: (7, 1, 7)})
    profile = fb.ClientProfile(
        attachment_avoidance=5.2,
        attachment_anxiety=3.0,
        attachment_style="avoidant_dismissing",
        crying_attitudes={"cat_weakness": 4.0, "gendered": 4.5},
        gender="man",
    )
    res = fb.evaluate(sessions, profile)
    chosen = {p.id: p for p in fb.select_guidance(guidance, profile, res)}
    assert {"difficult-crying-episode", "alliance-rupture-repair", "crying-as-weakness"} <= set(chosen)
    assert {"men-crying-gendered-expectations", "insecure-discomfort-and-understanding"} <= set(chosen)
    assert "avoidant-holding-back-tears" in chosen  # cried in 1 of 7 check-ins
    assert "positive-crying" not in chosen and "anxious-crying-readily" not in chosen
    assert chosen["crying-as-weakness"].matched == ("crying as weakness 4.00 (>= 3.5)",)
    assert chosen["difficult-crying-episode"].matched == ("alert: difficult-crying",)
    assert "cried in 1 of 7 check-ins (14%)" in chosen["avoidant-holding-back-tears"].matched
    assert chosen["men-crying-gendered-expectations"].text_in("he").startswith("המטופל הוא גבר")
    assert (
        chosen["men-crying-gendered-expectations"].text_in("fr")
        == chosen["men-crying-gendered-expectations"].text["en"]
    )


def test_unknown_facts_select_nothing_that_depends_on_them() -> None:
    guidance = fb.load_guidance()
    assert fb.select_guidance(guidance) == ()
    anxious = fb.ClientProfile(attachment_style="anxious_preoccupied")
    # no check-ins yet: nothing about crying can be said
    res = fb.evaluate(pd.DataFrame({"session": pd.Series([], dtype="int64")}), anxious)
    assert fb.select_guidance(guidance, anxious, res) == ()
    often = fb.evaluate(_sessions([5] * 6, {1: (4, 6, 2), 3: (4, 6, 2), 5: (5, 6, 2)}), anxious)
    chosen = {p.id for p in fb.select_guidance(guidance, anxious, often)}
    assert chosen == {"anxious-crying-readily", "insecure-discomfort-and-understanding", "positive-crying"}
    with pytest.raises(DataError, match="GuidanceSet"):
        fb.select_guidance([], anxious, often)  # type: ignore[arg-type]
