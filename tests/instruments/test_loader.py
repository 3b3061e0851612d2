"""Loading user definitions, reporting every problem at once, and attaching licensed item text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import lacrima as lc
from lacrima.errors import DataError
from lacrima.instruments import instrument_from_dict, load_instrument, load_texts

MINIMAL: dict[str, Any] = {
    "id": "my_scale",
    "name": "My scale",
    "version": "1",
    "prefix": "mys",
    "licence": {"name": "CC BY 4.0", "redistribute_text": True},
    "source": "Our lab (2026)",
    "languages": ["en", "he"],
    "scale": {"min": 1, "max": 5, "labels": {"1": {"en": "No", "he": "לא"}, "5": {"en": "Yes", "he": "כן"}}},
    "items": [
        {"number": 1, "text": {"en": "One", "he": "אחת"}},
        {"number": 2, "reverse": True, "text": {"en": "Two", "he": "שתיים"}},
    ],
    "subscales": {"all": {"items": [1, 2]}},
}


def _write(tmp_path: Path, data: dict[str, Any], name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _messages(exc: pytest.ExceptionInfo[DataError]) -> str:
    return "\n".join(p.message for p in exc.value.problems)


def test_it_loads_a_users_own_definition_from_a_path(tmp_path: Path) -> None:
    inst = load_instrument(_write(tmp_path, MINIMAL))
    assert inst.columns == ["mys_01", "mys_02"]
    assert inst.reverse_columns == ["mys_02"]
    assert inst.subscale_columns("all") == ["mys_01", "mys_02"]
    assert inst.item("mys_02").text_in("he") == "שתיים"
    assert load_instrument(str(_write(tmp_path, MINIMAL, "again.yml"))).id == "my_scale"


def test_it_reports_every_problem_of_a_broken_definition_at_once(tmp_path: Path) -> None:
    broken = {k: v for k, v in MINIMAL.items() if k != "scale"}
    broken["colour"] = "blue"
    broken["licence"] = {"name": "All rights reserved", "redistribute_text": False}
    broken["items"] = [
        {"number": 1, "text": {"en": "One"}},
        {"number": 1},
        {"number": 2},
    ]
    broken["subscales"] = {"all": {"items": [1, 2, 9]}}
    with pytest.raises(DataError) as exc:
        load_instrument(_write(tmp_path, broken))
    text = _messages(exc)
    assert "Additional properties are not allowed ('colour' was unexpected)" in text
    assert "'scale' is a required property" in text
    assert "item number 1 appears twice" in text
    assert "item column 'mys_01' appears twice" in text
    assert "subscale 'all' names items [9]" in text
    assert "does not allow shipping item text" in text
    assert len(exc.value.problems) == 6
    assert str(exc.value).count("\n  - ") == 6
    assert isinstance(exc.value, ValueError)


def test_it_checks_gates_options_bands_norms_and_scales() -> None:
    bad = dict(MINIMAL)
    bad["scale"] = {"min": 5, "max": 1}
    bad["items"] = [
        {"number": 1, "text": {"en": "One", "he": "אחת"}, "show_if": {"column": "nowhere", "in": [1]}},
        {"number": 2, "type": "choice", "text": {"en": "Two", "he": "שתיים"}},
        {"number": 3, "type": "text", "reverse": True, "text": {"en": "Three", "he": "שלוש"}},
        {"number": 4, "type": "boolean", "text": {"en": "Four", "he": "ארבע"}},
        {"number": 5, "text": {"en": "Five", "he": "חמש"}, "show_if": {"column": "mys_04", "in": [2]}},
    ]
    bad["subscales"] = {"all": {"items": [1, 3]}}
    bad["bands"] = {
        "all": [{"min": 5, "label": "high"}, {"min": 0, "label": "low"}],
        "other": [{"min": 0, "label": "x"}],
    }
    bad["norms"] = {"other": {"source": "nowhere"}}
    bad["missing"] = {"min_answered": 2.5}
    with pytest.raises(DataError) as exc:
        instrument_from_dict(bad, origin="bad.yaml")
    text = _messages(exc)
    for expected in (
        "scale: max (1) must be above min (5)",
        "item mys_01 is shown only if 'nowhere' has some value",
        "item mys_02 is a choice item without options",
        "item mys_03 is reverse-keyed but is not on a numeric scale",
        "item mys_05 is shown only if mys_04 is in [2], which it never is",
        "subscale 'all' includes ['mys_03'], which have no numeric answers to score",
        "the bands of 'all' must have strictly ascending lower bounds",
        "bands are given for 'other', which is not a subscale",
        "norms are given for 'other', which is not a subscale",
        "missing/min_answered is 2.5",
    ):
        assert expected in text
    assert "bad.yaml" in str(exc.value)


def test_it_refuses_unknown_ids_missing_files_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no shipped instrument is called 'wai'.*wai_sr"):
        load_instrument("wai")
    with pytest.raises(DataError, match="does not exist"):
        load_instrument(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataError, match="not valid YAML"):
        load_instrument(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(DataError, match="mapping of fields"):
        load_instrument(listing)


def test_it_attaches_licensed_text_with_with_texts() -> None:
    wai = load_instrument("wai_sr")
    assert not wai.has_text("en")
    own = wai.with_texts(
        {1: {"en": "Text one"}, "2": {"en": "Text two"}, "wai_03": {"en": "Three", "fr": "Trois"}}
    )
    assert own.item_text(1, "en") == "Text one"
    assert own.item_text("wai_02", "en") == "Text two"
    assert own.item(3).text["fr"] == "Trois"
    assert "fr" in own.languages
    assert own.subscales == wai.subscales
    assert not wai.item(1).text, "with_texts must not change the shipped instrument"


def test_it_rejects_texts_for_unknown_items_listing_every_problem() -> None:
    wai = load_instrument("wai_sr")
    with pytest.raises(DataError) as exc:
        wai.with_texts({13: {"en": "x"}, "wai_99": {"en": "y"}, 1: {"english": "z"}, 2: {"en": " "}})
    text = _messages(exc)
    assert "texts name item 13" in text
    assert "texts name item 'wai_99'" in text
    assert "'english' is not a language code" in text
    assert "item wai_02: the 'en' text is empty" in text
    assert len(exc.value.problems) == 4


def test_it_makes_missing_text_an_error_only_when_a_form_is_rendered() -> None:
    wai = load_instrument("wai_sr").with_texts({n: {"en": f"Item {n}"} for n in range(1, 12)})
    assert wai.missing_texts("en")[0].column == "wai_12"
    with pytest.raises(DataError, match=r"cannot be shown in 'en'.*Instrument\.with_texts") as exc:
        wai.require_texts("en")
    assert [p.column for p in exc.value.problems] == ["wai_12"]
    with pytest.raises(DataError, match="item wai_12 of 'wai_sr' has no 'en' text"):
        wai.item_text(12, "en")
    with pytest.raises(DataError) as exc_it:
        wai.require_texts("it")
    assert len(exc_it.value.problems) == 12
    with pytest.raises(DataError) as exc_fr:
        load_instrument("phq9").require_texts("fr")
    text = _messages(exc_fr)
    assert "the title has no 'fr' text" in text
    assert "item phq_01 has no 'fr' text" in text
    assert "the label of answer 0 has no 'fr' text" in text


def test_it_loads_a_texts_file_and_attaches_it_at_load(tmp_path: Path) -> None:
    path = tmp_path / "wai_texts.yaml"
    items = {n: {"en": f"My licensed item {n}"} for n in range(1, 13)}
    path.write_text(yaml.safe_dump({"instrument": "wai_sr", "items": items}), encoding="utf-8")
    texts = load_texts(path)
    assert texts[12] == {"en": "My licensed item 12"}
    wai = lc.load_instrument("wai_sr", texts=path)
    wai.require_texts("en")
    assert wai.item_text(5, "en") == "My licensed item 5"
    assert lc.load_instrument("wai_sr", texts=texts).item_text(5, "en") == "My licensed item 5"
    assert lc.load_instrument("wai_sr").item(5).text == {}


def test_it_rejects_a_texts_file_for_another_instrument_or_in_a_wrong_format(tmp_path: Path) -> None:
    other = tmp_path / "ecr.yaml"
    other.write_text(yaml.safe_dump({"instrument": "ecr_r", "items": {1: {"en": "x"}}}), encoding="utf-8")
    with pytest.raises(DataError, match="is for instrument 'ecr_r', not 'wai_sr'"):
        load_instrument("wai_sr", texts=other)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"items": {1: "no language"}, "extra": 1}), encoding="utf-8")
    with pytest.raises(DataError, match="does not follow the texts format") as exc:
        load_texts(wrong)
    assert len(exc.value.problems) == 2
    with pytest.raises(DataError, match="does not exist"):
        load_texts(tmp_path / "absent.yaml")


def test_it_loads_a_definition_with_a_missing_translation_and_complains_only_on_rendering(
    tmp_path: Path,
) -> None:
    english_only = [{"number": 1, "text": {"en": "One"}}, {"number": 2, "text": {"en": "Two"}}]
    partial = {**MINIMAL, "items": english_only}
    inst = load_instrument(_write(tmp_path, partial))
    inst.require_texts("en")
    assert inst.item_text(2, "en") == "Two"
    with pytest.raises(DataError, match=r"add the 'he' translations") as exc:
        inst.require_texts("he")
    assert [p.column for p in exc.value.problems] == ["mys_01", "mys_02"]


def test_it_accepts_unquoted_numeric_label_keys_and_checks_their_range() -> None:
    data = {**MINIMAL, "scale": {"min": 1, "max": 5, "labels": {1: {"en": "No", "he": "לא"}}}}
    assert instrument_from_dict(data).scale.labels[1]["he"] == "לא"
    data["scale"] = {"min": 1, "max": 5, "labels": {9: {"en": "Odd"}}}
    with pytest.raises(DataError, match="a label is given for 9, outside 1-5"):
        instrument_from_dict(data)
