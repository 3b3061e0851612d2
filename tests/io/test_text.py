"""The text layer under every importer: encodings (byte-order marks, UTF-8, Windows code pages detected
with charset-normalizer) and delimiters (sniffed)."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lacrima.errors import DataError
from lacrima.io._text import decode, sniff_delimiter

cells = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(cells, min_size=1, max_size=8), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_it_decodes_unicode_text_exactly(parts: list[str], encoding: str) -> None:
    text = ",".join(parts) + "\n"
    decoded = decode(text.encode(encoding), "x.csv")
    assert decoded.text == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("participant_id,note\nP1,בכיתי בטיפול\nP2,לא\n", "cp1255"),
        ("participant_id,note\nP1,ho pianto, poi più leggera\nP2,perché sì\n", "cp1252"),
        ("participant_id,note\nP1,Größe und Straße\nP2,Müller\n", "cp1252"),
        ("participant_id,note\nP1,très bien, déjà vu\nP2,Besançon\n", "cp1252"),
        ("participant_id,note\nP1,Αθήνα\nP2,Θεσσαλονίκη\n", "cp1253"),
    ],
)
def test_it_detects_the_windows_code_page_of_a_file(text: str, encoding: str) -> None:
    decoded = decode(text.encode(encoding), "x.csv")
    assert decoded.text == text
    assert decoded.encoding == encoding
    assert decoded.note is not None and f"read as {encoding}" in decoded.note


def test_it_reads_utf16_without_a_byte_order_mark_or_says_why_not() -> None:
    text = "participant_id,city\nP1,Roma\nP2,Pisa\n"
    assert decode(text.encode("utf-16-le"), "x.csv").text == text
    with pytest.raises(DataError, match="holds NUL characters"):
        decode(b"\x00\x01\x02binary\x00", "x.csv")


def test_it_refuses_a_byte_order_mark_over_bytes_that_do_not_fit_it() -> None:
    with pytest.raises(DataError, match=r"starts with a UTF-8 byte-order mark but is not valid UTF-8"):
        decode(codecs.BOM_UTF8 + "città".encode("cp1252"), "x.csv")


rows_strategy = st.lists(
    st.lists(st.text(alphabet="abcxyz 019.", min_size=1, max_size=6), min_size=3, max_size=3),
    min_size=2,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.sampled_from([",", ";", "\t", "|", "^"]))
def test_it_sniffs_the_delimiter_a_table_was_written_with(rows: list[list[str]], delimiter: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows([["id", "name", "score"], *rows])
    assert sniff_delimiter(buffer.getvalue()) == delimiter


def test_it_takes_a_file_of_one_column_as_comma_separated() -> None:
    assert sniff_delimiter("participant_id\nP1\nP2\n") == ","
    assert sniff_delimiter('id,note\n1,"a; b; c"\n2,"d; e"\n') == ","
