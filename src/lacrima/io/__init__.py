"""Bringing data in and out: CSV, Excel, SPSS, Parquet, REDCap and Qualtrics exports, and SQLite.

Importers return an :class:`ImportResult` whose ``.data`` follows lacrima's table contract (item columns
``<prefix>_<nn>``, missing answers as NaN) and raise one :class:`~lacrima.errors.DataError` listing every
problem, each with its row in the source file and its column. Writers are atomic and carry a codebook.

>>> import lacrima.io as lio
>>> result = lio.read_table("responses.csv", instruments=["wai_sr"])  # doctest: +SKIP
>>> result.data, result.codebook, result.excluded  # doctest: +SKIP
>>> result = lio.read_export("export.csv")  # REDCap, Qualtrics or a plain table, told apart  # doctest: +SKIP
>>> lio.write_result(result, "study.csv")  # every table, each with its codebook  # doctest: +SKIP
"""

from lacrima.io._auto import detect_format, read_export, write_result
from lacrima.io._export import (
    DIRECT_IDENTIFIERS,
    neutralize_formulas,
    pseudonymise,
    pseudonymize,
    read_sqlite,
    write_sqlite,
    write_table,
)
from lacrima.io._mapping import ColumnMapping, load_mapping
from lacrima.io._qualtrics import read_qualtrics
from lacrima.io._redcap import parse_choices, parse_missing_codes, read_redcap
from lacrima.io._result import Codebook, ImportResult
from lacrima.io._tabular import read_table

__all__ = [
    "DIRECT_IDENTIFIERS",
    "Codebook",
    "ColumnMapping",
    "ImportResult",
    "detect_format",
    "load_mapping",
    "neutralize_formulas",
    "parse_choices",
    "parse_missing_codes",
    "pseudonymise",
    "pseudonymize",
    "read_export",
    "read_qualtrics",
    "read_redcap",
    "read_sqlite",
    "read_table",
    "write_result",
    "write_sqlite",
    "write_table",
]
