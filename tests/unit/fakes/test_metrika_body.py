"""The fake Metrica's streaming body parsers: whatever the chunking, the same answer."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from requests_toolbelt.multipart.encoder import MultipartEncoder

from tests.fakes.metrika import (
    CsvInspector,
    MultipartError,
    MultipartStream,
    PartSink,
    check_columns,
    content_disposition,
    header_columns,
)


class Collect(PartSink):
    def __init__(self) -> None:
        self.parts: list[tuple[str | None, str | None, bytes]] = []
        self._data = bytearray()
        self._names: tuple[str | None, str | None] = (None, None)

    def begin(self, headers: Mapping[str, str]) -> None:
        self._names = content_disposition(headers)
        self._data = bytearray()

    def data(self, chunk: bytes) -> None:
        self._data += chunk

    def end(self) -> None:
        self.parts.append((*self._names, bytes(self._data)))


def feed_in_chunks(body: bytes, cuts: list[int], feed: object) -> None:
    points = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    for start, end in itertools.pairwise(points):
        feed(body[start:end])  # type: ignore[operator]


def encode(fields: dict[str, tuple[str, bytes, str] | str], boundary: str) -> tuple[bytes, str]:
    encoder = MultipartEncoder(fields=fields, boundary=boundary)
    return encoder.to_string(), encoder.content_type


# Bytes that look like the start of a boundary are the hard case for a streaming parser.
_tricky = st.sampled_from([b"\r\n", b"--", b"\r\n--", b"\r\n--bound", b"a", b"\n", b'"'])
_payload = st.lists(st.one_of(_tricky, st.binary(max_size=20)), max_size=40).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(payload=_payload, cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30))
def test_multipart_parts_survive_any_chunking(payload: bytes, cuts: list[int]) -> None:
    body, _ = encode(
        {"note": "hello", "file": ("leads.csv", payload, "text/csv")}, boundary="boundary42"
    )
    sink = Collect()
    stream = MultipartStream(b"boundary42", sink)
    feed_in_chunks(body, cuts, stream.feed)
    stream.close()
    assert sink.parts == [("note", None, b"hello"), ("file", "leads.csv", payload)]


def test_multipart_without_closing_boundary_is_refused() -> None:
    body, _ = encode({"file": ("a.csv", b"x", "text/csv")}, boundary="b0")
    stream = MultipartStream(b"b0", Collect())
    stream.feed(body[:-8])
    with pytest.raises(MultipartError):
        stream.close()


def inspect(data: bytes, cuts: list[int], max_bytes: int = 10**9) -> CsvInspector:
    inspector = CsvInspector(max_bytes)
    feed_in_chunks(data, cuts, inspector.feed)
    inspector.finish()
    return inspector


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"", 0),
        (b"A,B\n", 0),
        (b"A,B", 0),
        (b"A,B\n1,2\n", 1),
        (b"A,B\n1,2", 1),
        (b"A,B\r\n1,2\r\n3,4\r\n", 2),
        (b'A,B\n"multi\nline",2\n3,"x ""quoted""\n"\n', 2),
    ],
)
def test_row_counts(data: bytes, rows: int) -> None:
    assert inspect(data, []).rows == rows


_cells = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='"\r'), max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(_cells, min_size=1, max_size=4), max_size=15),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=20),
)
def test_rows_and_utf8_survive_any_chunking(rows: list[list[str]], cuts: list[int]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["ClientId", "Target", "DateTime"])
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    inspector = inspect(data, cuts)
    assert inspector.rows == len(rows)
    assert inspector.utf8_error_line is None
    assert inspector.bytes == len(data)
    assert header_columns(inspector.header_line or b"")[0] == ["ClientId", "Target", "DateTime"]


def test_invalid_utf8_is_found_with_its_line() -> None:
    data = b"A,B\n1,ok\n2," + "café".encode("latin-1") + b"\n"
    assert inspect(data, [3, 11]).utf8_error_line == 3


def test_truncated_multibyte_character_at_the_end_is_not_utf8() -> None:
    data = "A,B\n1,ё".encode()[:-1]
    assert inspect(data, []).utf8_error_line is not None


def test_too_large_stops_inspecting_but_keeps_counting() -> None:
    inspector = inspect(b"A,B\n" + b"1,2\n" * 100, [50, 100], max_bytes=50)
    assert inspector.too_large
    assert inspector.bytes == 404


def test_bom_is_noticed_and_stripped_from_the_header() -> None:
    columns, bom = header_columns(b"\xef\xbb\xbfClientId,Target,DateTime\r\n")
    assert bom
    assert columns == ["ClientId", "Target", "DateTime"]


@pytest.mark.parametrize(
    ("kind", "columns", "complaint"),
    [
        ("BASIC", ["clientid", "TARGET", "datetime"], None),
        ("BASIC", ["ClientId", "DateTime"], "Отсутствует обязательная колонка Target"),
        ("BASIC", ["Target", "DateTime", "Price"], "one of ClientId"),
        ("CALLS", ["Yclid", "DateTime", "PhoneNumber"], None),
        ("CALLS", ["PhoneNumber", "DateTime"], "one of UserId"),
        ("CHATS", ["ClientID", "DateTime", "ChatPlatform", "ChatUserID"], None),
        ("CHATS", ["DateTime", "ChatUserID"], "ChatPlatform"),
        ("CHATS", ["DateTime", "ChatPlatform", "ClientID"], "one of ChatUsername"),
        ("BASIC", ["", "ClientId", "Target", "DateTime"], "a column has no name"),
        ("BASIC", ["ClientId", "clientid", "Target", "DateTime"], "duplicate column"),
        ("BASIC", ["ClientId;Target;DateTime"], "Отсутствует обязательная колонка"),
    ],
)
def test_required_columns_per_type(kind: str, columns: list[str], complaint: str | None) -> None:
    found = check_columns(kind, columns)
    if complaint is None:
        assert found is None
    else:
        assert found is not None
        assert complaint in found
