"""The shipped instrument definitions: they load, follow the schema and keep the shared contract."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

import lacrima as lc
from lacrima.instruments import Instrument, list_instruments, load_instrument

SHIPPED = [
    "change",
    "crying_attitudes",
    "crying_in_therapy",
    "demographics",
    "ecr_r",
    "ecr_s",
    "gad7",
    "phq9",
    "session_checkin",
    "wai_sr",
]

# id -> (prefix, kind, subscale names in the shared contract)
CONTRACT: dict[str, tuple[str, str, set[str]]] = {
    "crying_in_therapy": (
        "cry",
        "survey",
        {
            "frequency",
            "intensity",
            "positive_feelings",
            "negative_feelings",
            "cognitive_change",
            "felt_understood",
            "therapist_response",
            "holding_back",
        },
    ),
    "crying_attitudes": ("cat", "survey", {"healing", "weakness", "acceptability", "gendered"}),
    "wai_sr": ("wai", "survey", {"goal", "task", "bond", "total"}),
    "ecr_r": ("ecr", "survey", {"anxiety", "avoidance"}),
    "ecr_s": ("ecrs", "survey", {"anxiety", "avoidance"}),
    "phq9": ("phq", "survey", {"total"}),
    "gad7": ("gad", "survey", {"total"}),
    "change": ("chg", "survey", {"improvement"}),
    "session_checkin": (
        "chk",
        "checkin",
        {
            "intensity",
            "positive_feelings",
            "negative_feelings",
            "alliance",
            "felt_understood",
            "therapist_response",
        },
    ),
    "demographics": ("dem", "demographics", set()),
}

LICENSED = {"wai_sr", "ecr_r", "ecr_s"}


def _raw(instrument_id: str) -> dict[str, object]:
    path = Path(str(resources.files("lacrima.instruments"))) / f"{instrument_id}.yaml"
    data: dict[str, object] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    text = resources.files("lacrima.instruments").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded


def test_it_ships_exactly_the_contract_instruments() -> None:
    assert list_instruments() == SHIPPED


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_it_loads_every_shipped_instrument_and_its_file_follows_the_schema(
    instrument_id: str, schema: dict[str, object]
) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(_raw(instrument_id)))
    assert errors == []
    inst = load_instrument(instrument_id)
    assert isinstance(inst, Instrument)
    assert inst.id == instrument_id
    assert inst.source and inst.licence and inst.version


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_it_validates_every_shipped_file_as_strictly_as_a_users_own(instrument_id: str) -> None:
    # At run time the shipped files skip the JSON Schema; this test is where they go through it. Loaded by
    # path, a file takes the route of a user's definition (schema and all the other checks): it must pass
    # and give the very instrument that loading by id gives.
    path = Path(str(resources.files("lacrima.instruments"))) / f"{instrument_id}.yaml"
    assert load_instrument(path) == load_instrument(instrument_id)


def test_it_loads_the_shipped_instruments_without_importing_jsonschema() -> None:
    code = (
        "import sys\n"
        "from lacrima.instruments import list_instruments, load_instrument\n"
        "for name in list_instruments():\n"
        "    load_instrument(name)\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema was imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_it_keeps_the_contract_ids_prefixes_and_subscales(instrument_id: str) -> None:
    inst = load_instrument(instrument_id)
    prefix, kind, subscales = CONTRACT[instrument_id]
    assert inst.prefix == prefix
    assert inst.kind == kind
    assert set(inst.subscales) == subscales


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_it_names_item_columns_prefix_and_two_digits(instrument_id: str) -> None:
    inst = load_instrument(instrument_id)
    explicit = {"cried_in_therapy", "cried"} | set(CONTRACT["demographics"][2])
    for it in inst.items:
        if inst.kind == "demographics" or it.column in explicit:
            continue
        assert it.column == f"{inst.prefix}_{it.number:02d}"


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_it_has_subscales_that_name_existing_scored_items(instrument_id: str) -> None:
    inst = load_instrument(instrument_id)
    numbers = {it.number for it in inst.items}
    for name, sub in inst.subscales.items():
        assert set(sub.items) <= numbers, name
        assert all(inst.item(n).is_scored for n in sub.items), name
        assert inst.subscale_columns(name) == [inst.item(n).column for n in sub.items]


@pytest.mark.parametrize("instrument_id", sorted(set(SHIPPED) - LICENSED))
def test_it_has_en_it_he_text_for_every_item_of_our_own_and_public_instruments(instrument_id: str) -> None:
    inst = load_instrument(instrument_id)
    assert inst.redistribute_text
    assert set(inst.languages) >= {"en", "it", "he"}
    for language in ("en", "it", "he"):
        assert inst.missing_texts(language) == []
        inst.require_texts(language)
        for it in inst.items:
            assert inst.item_text(it.number, language).strip()


@pytest.mark.parametrize("instrument_id", sorted(LICENSED))
def test_it_ships_no_item_text_for_licensed_instruments(instrument_id: str) -> None:
    inst = load_instrument(instrument_id)
    assert not inst.redistribute_text
    assert all(not it.text for it in inst.items)
    assert "not redistributed" in inst.licence
    assert inst.scoring_source


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_it_flags_hebrew_as_right_to_left(instrument_id: str) -> None:
    inst = load_instrument(instrument_id)
    assert inst.is_rtl("he")
    assert inst.is_rtl("he-IL")
    assert not inst.is_rtl("en")
    assert not inst.is_rtl("it")


def test_it_keeps_prefixes_and_item_columns_unique_across_instruments() -> None:
    prefixes = [load_instrument(i).prefix for i in SHIPPED]
    assert len(set(prefixes)) == len(prefixes)
    columns = [c for i in SHIPPED for c in load_instrument(i).columns]
    assert len(set(columns)) == len(columns)


def test_it_matches_the_published_ecr_r_key() -> None:
    # Fraley, Waller & Brennan (2000) key as given on R. C. Fraley's ECR-R page: items 1-18 anxiety,
    # 19-36 avoidance; reverse-keyed 9, 11 (anxiety) and 20, 22, 26-31, 33-36 (avoidance).
    ecr = load_instrument("ecr_r")
    assert len(ecr.items) == 36
    assert ecr.scale.min == 1 and ecr.scale.max == 7
    assert ecr.subscales["anxiety"].items == tuple(range(1, 19))
    assert ecr.subscales["avoidance"].items == tuple(range(19, 37))
    reversed_numbers = [it.number for it in ecr.items if it.reverse]
    assert reversed_numbers == [9, 11, 20, 22, 26, 27, 28, 29, 30, 31, 33, 34, 35, 36]
    assert len(reversed_numbers) == 14
    assert sum(n in ecr.subscales["anxiety"].items for n in reversed_numbers) == 2
    assert sum(n in ecr.subscales["avoidance"].items for n in reversed_numbers) == 12
    assert ecr.reverse_columns[:2] == ["ecr_09", "ecr_11"]


def test_it_matches_the_published_ecr_s_key() -> None:
    # Wei, Russell, Mallinckrodt & Vogel (2007), appendix: anxiety 2, 4, 6, 8R, 10, 12;
    # avoidance 1R, 3, 5R, 7, 9R, 11.
    ecrs = load_instrument("ecr_s")
    assert ecrs.subscales["anxiety"].items == (2, 4, 6, 8, 10, 12)
    assert ecrs.subscales["avoidance"].items == (1, 3, 5, 7, 9, 11)
    assert ecrs.reverse_columns == ["ecrs_01", "ecrs_05", "ecrs_08", "ecrs_09"]


def test_it_matches_the_published_wai_sr_key() -> None:
    wai = load_instrument("wai_sr")
    assert wai.subscales["goal"].items == (4, 6, 8, 11)
    assert wai.subscales["task"].items == (1, 2, 10, 12)
    assert wai.subscales["bond"].items == (3, 5, 7, 9)
    assert wai.reverse_columns == []


@pytest.mark.parametrize(
    ("instrument_id", "n_items", "cuts"),
    [("phq9", 9, [0.0, 5.0, 10.0, 15.0, 20.0]), ("gad7", 7, [0.0, 5.0, 10.0, 15.0])],
)
def test_it_scores_phq9_and_gad7_as_sums_with_severity_bands_and_norms(
    instrument_id: str, n_items: int, cuts: list[float]
) -> None:
    inst = load_instrument(instrument_id)
    assert (inst.scale.min, inst.scale.max) == (0.0, 3.0)
    total = inst.subscales["total"]
    assert total.method == "sum"
    assert total.items == tuple(range(1, n_items + 1))
    assert [b.min for b in inst.bands["total"]] == cuts
    assert inst.band("total", 0) == "minimal"
    assert inst.band("total", 10) == "moderate"
    assert inst.band("total", 9.5) == "mild"
    assert inst.band("total", float("nan")) is None
    norms = inst.norms["total"]
    assert norms.cutoff == 10.0
    assert norms.reliability is not None and 0 < norms.reliability <= 1
    assert norms.functional_mean is not None and norms.functional_sd is not None
    assert not norms.higher_is_better
    assert "official validated translations" in " ".join(inst.licence_notes.split())


def test_it_gates_the_crying_episode_items_on_having_cried() -> None:
    cry = load_instrument("crying_in_therapy")
    gate = cry.item(1)
    assert gate.column == "cried_in_therapy"
    assert gate.type == "boolean"
    assert gate.required
    for it in cry.items[1:]:
        assert it.show_if == ("cried_in_therapy", (1,))
    assert 20 <= len(cry.items) <= 30
    assert cry.item("cry_02").scale is not None and cry.item("cry_02").scale.labels[5]["en"]
    for name in ("intensity", "negative_feelings", "cognitive_change", "felt_understood"):
        assert any(cry.item(n).reverse for n in cry.subscales[name].items), name


def test_it_keeps_the_check_in_short_and_gated_on_crying() -> None:
    chk = load_instrument("session_checkin")
    assert chk.columns[0] == "cried"
    # 11 since version 1.1 added "felt understood" and the therapist's response after crying (issue 11's
    # client page); a client who did not cry still answers only 4 questions
    assert len(chk.items) <= 11
    assert sum(it.show_if is None for it in chk.items) == 4
    assert 3 <= len(chk.subscales["alliance"].items) <= 4
    for name in (
        "intensity",
        "positive_feelings",
        "negative_feelings",
        "felt_understood",
        "therapist_response",
    ):
        for n in chk.subscales[name].items:
            assert chk.item(n).show_if == ("cried", (1,))
    assert all(chk.item(n).show_if is None for n in chk.subscales["alliance"].items)
    assert (chk.scale.min, chk.scale.max) == (1.0, 7.0)


def test_it_names_the_demographic_columns_of_the_respondent_table() -> None:
    dem = load_instrument("demographics")
    assert dem.columns[:7] == [
        "gender",
        "age",
        "country",
        "language",
        "cultural_background",
        "modality",
        "sessions_so_far",
    ]
    assert [o.code for o in dem.item("gender").options] == [
        "woman",
        "man",
        "non_binary",
        "self_described",
        "prefer_not",
    ]
    age = dem.item("age").scale
    assert age is not None and (age.min, age.max) == (16.0, 100.0)
    assert dem.subscales == {}


def test_it_uses_the_contract_scales_of_our_own_instruments() -> None:
    attitudes, change = lc.load_instrument("crying_attitudes"), lc.load_instrument("change")
    assert (attitudes.scale.min, attitudes.scale.max) == (1.0, 5.0)
    assert (change.scale.min, change.scale.max) == (1.0, 7.0)
    assert attitudes.reverse_columns == ["cat_10", "cat_11", "cat_12"]
    assert change.reverse_columns == ["chg_05", "chg_06"]
