"""Bringing data in and out: CSV, Excel, SPSS, Parquet, REDCap and Qualtrics exports, and SQLite.

Importers return an :class:`ImportResult` whose ``.data`` follows lacrima's table contract (item columns
``<prefix>_<nn>``, missing answers as NaN) and raise one :class:`~lacrima.errors.DataError` listing every
problem, each with its row in the source file and its column. Writers are atomic and carry a codebook.

>>> import lacrima.io as lio
>>> result = lio.read_table("responses.csv", instruments=["wai_sr"])  # doctest: +SKIP
>>> result.data, result.codebook, result.excluded  # doctest: +SKIP
"""

from lacrima.io._export import (
    DIRECT_IDENTIFIERS,
    neutralise_formulas,
    pseudonymise,
    read_sqlite,
    write_sqlite,
    write_table,
)
from lacrima.io._mapping import ColumnMapping, load_mapping
from lacrima.io._qualtrics import read_qualtrics
from lacrima.io._redcap import parse_choices, read_redcap
from lacrima.io._result import Codebook, ImportResult
from lacrima.io._tabular import read_table

__all__ = [
    "DIRECT_IDENTIFIERS",
    "Codebook",
    "ColumnMapping",
    "ImportResult",
    "load_mapping",
    "neutralise_formulas",
    "parse_choices",
    "pseudonymise",
    "read_qualtrics",
    "read_redcap",
    "read_sqlite",
    "read_table",
    "write_sqlite",
    "write_table",
]
