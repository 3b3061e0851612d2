"""Instruments as data: questionnaire definitions loaded from YAML and validated against a schema."""

from lacrima.instruments._loader import instrument_from_dict, list_instruments, load_instrument, load_texts
from lacrima.instruments._model import Band, Instrument, Item, Norms, Option, Scale, Subscale

__all__ = [
    "Band",
    "Instrument",
    "Item",
    "Norms",
    "Option",
    "Scale",
    "Subscale",
    "instrument_from_dict",
    "list_instruments",
    "load_instrument",
    "load_texts",
]
