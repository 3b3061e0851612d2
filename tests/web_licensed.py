"""Stand-ins for a study's licensed item texts (not the real wording of any instrument), for web tests."""

from __future__ import annotations

from lacrima.instruments import load_instrument
from lacrima.web.studies.licensed import attach
from lacrima.web.studies.models import LicensedText, Study

WORDS = {
    "en": "Licensed test sentence number",
    "it": "Frase di prova autorizzata numero",
    "he": "משפט מורשה לבדיקה מספר",
}


def texts_file(instrument_id: str, language: str) -> bytes:
    """A texts file (texts_schema.json) with a made-up sentence per item."""
    lines = [f"instrument: {instrument_id}", "items:"]
    for it in load_instrument(instrument_id).items:
        lines.append(f'  {it.number}: {{{language}: "{WORDS[language]} {it.number}"}}')
    return "\n".join(lines).encode()


def licensed(study: Study, instrument_id: str, language: str) -> LicensedText:
    return attach(None, study, instrument_id, language, texts_file(instrument_id, language), "test stand-in")


def licensed_wai(study: Study, language: str) -> LicensedText:
    return licensed(study, "wai_sr", language)
