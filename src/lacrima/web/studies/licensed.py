"""Licensed item text: attached by a study admin from their licensed copy, checked in one place.

lacrima may not ship the item text of some instruments (WAI-SR, ECR-R, ECR-S). A study admin uploads a
texts file per language (the format of ``lacrima/instruments/texts_schema.json``); :func:`parse_texts_file`
lists every problem at once (by item) and nothing is stored unless the whole file is good.

:func:`study_instrument` is the one way the web app gets an instrument for a study: it attaches the
study's licensed texts, and :func:`require_showable` is the one check, used by the study form, the admin
and every participant page, that an instrument can be shown in a language, so that no participant ever
sees an item id where a question should be.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema
import yaml
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from lacrima.errors import DataError, Problem
from lacrima.instruments import Instrument, list_instruments, load_instrument
from lacrima.web.audit.log import record
from lacrima.web.studies.models import LicensedText, Study

_HTML = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>|&[A-Za-z]+;|&#\d+;")
MAX_FILE_BYTES = 200_000


def languages() -> list[str]:
    """Language codes the web app offers (settings.LANGUAGES)."""
    return [code for code, _ in settings.LANGUAGES]


@cache
def _schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(files("lacrima.instruments").joinpath("texts_schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def parse_texts_file(instrument_id: str, language: str, raw: bytes) -> dict[str, str]:
    """Item column -> text for one language from an uploaded texts file (YAML or JSON).

    Raises :class:`DataError` listing every problem: not the texts format, another instrument, an unknown
    language, a missing or unknown item, the wrong number of items, empty text or HTML in an item.
    """
    problems: list[Problem] = []
    if instrument_id not in list_instruments():
        raise DataError(f"there is no instrument {instrument_id!r}")
    ins = load_instrument(instrument_id)
    if language not in languages():
        problems.append(
            Problem(f"language {language!r} is not one the web app offers ({', '.join(languages())})")
        )
    if len(raw) > MAX_FILE_BYTES:
        raise DataError(f"the file is {len(raw)} bytes; a texts file is at most {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"the file is not UTF-8 YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DataError("the file does not hold a mapping with an 'items' field (see texts_schema.json)")
    for err in _schema_validator().iter_errors(data):
        where = "/".join(str(p) for p in err.absolute_path) or "the file"
        problems.append(Problem(f"{where}: {err.message}"))
    declared = data.get("instrument")
    if declared is not None and declared != instrument_id:
        problems.append(Problem(f"the file is for instrument {declared!r}, not {instrument_id!r}"))
    raw_items = data.get("items")
    items: dict[Any, Any] = raw_items if isinstance(raw_items, dict) else {}
    if items and len(items) != len(ins.items):
        problems.append(Problem(f"the file has {len(items)} items; {ins.name} has {len(ins.items)}"))
    texts: dict[str, str] = {}
    for key, per_language in items.items():
        it = _item(ins, key)
        if it is None:
            known = f"items 1-{len(ins.items)}"
            problems.append(Problem(f"item {key} is not an item of {instrument_id} ({known})"))
            continue
        if not isinstance(per_language, dict):
            continue  # reported by the schema check
        for lang in per_language:
            if lang not in languages():
                problems.append(
                    Problem(
                        f"unknown language {lang!r} (the web app offers {', '.join(languages())})",
                        column=it.column,
                    )
                )
            elif lang != language:
                problems.append(
                    Problem(f"text in language {lang!r}; this file is for {language!r}", column=it.column)
                )
        text = per_language.get(language)
        if not isinstance(text, str) or not text.strip():
            problems.append(Problem(f"no {language!r} text", column=it.column))
        elif _HTML.search(text):
            problems.append(Problem("contains HTML markup; give plain text", column=it.column))
        elif it.column in texts:
            problems.append(Problem("given twice (by number and by column)", column=it.column))
        else:
            texts[it.column] = text.strip()
    for it in ins.items:
        if it.column not in texts and not any(p.column == it.column for p in problems):
            problems.append(Problem("missing from the file", column=it.column))
    if problems:
        raise DataError(f"the {language!r} texts for {instrument_id} cannot be attached", problems)
    return texts


def _item(ins: Instrument, key: Any) -> Any:
    for it in ins.items:
        if str(it.number) == str(key) or it.column == key:
            return it
    return None


def study_instrument(study: Study | int, instrument_id: str) -> Instrument:
    """The instrument with the study's licensed texts attached (every language attached so far).

    Instruments whose text lacrima ships need no database query."""
    ins = load_instrument(instrument_id)
    if ins.redistribute_text:
        return ins
    study_id = study if isinstance(study, int) else study.pk
    rows = LicensedText.objects.filter(study_id=study_id, instrument=instrument_id)
    merged: dict[int | str, Mapping[str, str]] = {}
    for row in rows:
        for column, text in row.texts.items():
            merged[column] = {**merged.get(column, {}), row.language: text}
    return ins.with_texts(merged) if merged else ins


def require_showable(ins: Instrument, language: str) -> None:
    """The one check before an instrument is shown: every text a form in ``language`` needs is there.

    Raises :class:`DataError` naming each missing text (item ids are never shown in their place).
    """
    ins.require_texts(language)


def study_instruments(study: Study | int, ids: Iterable[str], language: str) -> list[Instrument]:
    """The study's instruments ready to show in ``language``; :class:`DataError` if any is not."""
    out = []
    problems: list[Problem] = []
    for iid in ids:
        ins = study_instrument(study, iid)
        try:
            require_showable(ins, language)
        except DataError as exc:
            problems.extend(exc.problems or [Problem(exc.summary)])
        out.append(ins)
    if problems:
        raise DataError(f"the study cannot show its questionnaires in {language!r} yet", problems)
    return out


def missing_licensed(study: Study, ids: Sequence[str], langs: Sequence[str]) -> list[str]:
    """Human-readable list of (instrument, language) pairs still lacking text, for the staff pages."""
    out = []
    for iid in ids:
        ins = study_instrument(study, iid)
        for lang in langs:
            if ins.missing_texts(lang):
                out.append(f"{iid} ({lang})")
    return out


def attach(
    request: HttpRequest | None,
    study: Study,
    instrument_id: str,
    language: str,
    raw: bytes,
    licence_statement: str,
) -> LicensedText:
    """Check a texts file and store it whole, with the licence statement and who attached it (audited).

    Raises :class:`DataError` listing every problem; then nothing is stored.
    """
    texts = parse_texts_file(instrument_id, language, raw)
    statement = licence_statement.strip()
    if not statement:
        raise DataError(
            "say where the text comes from and under which licence",
            [Problem("the licence statement is empty")],
        )
    user = getattr(request, "user", None)
    with transaction.atomic():
        row, created = LicensedText.objects.update_or_create(
            study=study,
            instrument=instrument_id,
            language=language,
            defaults={
                "texts": texts,
                "licence_statement": statement,
                "attached_by": user if user is not None and user.is_authenticated else None,
            },
        )
        record(
            request,
            "create" if created else "update",
            row,
            study_id=study.pk,
            instrument=instrument_id,
            language=language,
            items=len(texts),
            what="licensed item texts",
        )
    return row
