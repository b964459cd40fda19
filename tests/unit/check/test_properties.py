"""Properties of the whole check-and-split pass, over generated files.

- Valid rows (commas, quotes, newlines, Cyrillic, emoji in them) come out, across the parts
  and minus the repeated headers, exactly as the normalized rows, in order.
- Every part is at most the limit and starts with the header.
- No byte sequence makes the checker raise, and its counts always add up.
"""

from __future__ import annotations

import csv
import io

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.rejects import RejectsWriter
from metrika_offline.types import ConversionType
from tests.unit.check.helpers import MemorySink, MemoryWriter, TrickleStream

NOW = 1_700_000_000
HEADER = ["ClientId", "Target", "DateTime", "UserId", "PurchaseId", "Price"]

# Text a valid free-text cell may hold: anything but NUL (binary), CR (normalized to LF) and
# the surrounding whitespace that would be trimmed.
_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(',"\n ;\tабвгдЁё€😀🇷🇺')),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    ),
    max_size=30,
).map(str.strip)
_goal = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
_price = st.one_of(st.just(""), st.from_regex(r"[0-9]{1,6}(\.[0-9]{1,2})?", fullmatch=True))


@st.composite
def _rows(draw: st.DrawFn) -> list[list[str]]:
    count = draw(st.integers(min_value=1, max_value=40))
    rows = []
    for index in range(count):
        rows.append(
            [
                str(100_000 + index),  # distinct: no row is a duplicate
                draw(_goal),
                str(NOW - draw(st.integers(min_value=0, max_value=10 * 86_400))),
                draw(_text),
                draw(_text),
                draw(_price),
            ]
        )
    return rows


def _csv(
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    line_end: str = "\n",
    quoting: int = csv.QUOTE_MINIMAL,
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end, quoting=quoting)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _normalized(rows: list[list[str]], quoting: int = csv.QUOTE_MINIMAL) -> list[str]:
    out = []
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n", quoting=quoting).writerow(row)
        out.append(buffer.getvalue())
    return out


def _as_read_or_anew(body: str, rows: list[list[str]]) -> list[str]:
    """Cut `body` into the rows of an all-quoted file: each either passed through as read
    (every field quoted, commas, LF) or written anew (quoted only where needed); AssertionError
    when a row is neither."""
    cut = []
    pos = 0
    for quoted, minimal in zip(_normalized(rows, csv.QUOTE_ALL), _normalized(rows), strict=True):
        text = quoted if body.startswith(quoted, pos) else minimal
        assert body.startswith(text, pos), (body[pos : pos + 200], quoted, minimal)
        cut.append(text)
        pos += len(text)
    assert pos == len(body)
    return cut


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=_rows(),
    limit=st.integers(min_value=200, max_value=3_000),
    step=st.integers(min_value=1, max_value=400),
    delimiter=st.sampled_from([",", ";", "\t"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_parts_hold_exactly_the_normalized_rows_in_order(
    rows: list[list[str]],
    limit: int,
    step: int,
    delimiter: str,
    line_end: str,
    *,
    quoting: int,
) -> None:
    """Rows quoted only where needed come out byte for byte as `csv.writer` writes them; rows
    of a file where every field is quoted come out as read (quotes kept, commas, LF) unless
    a cell holds a quote, a newline or the file's delimiter, and then as `csv.writer` writes
    them. Either way, read back, they are the rows, in order."""
    data = _csv(rows, delimiter=delimiter, line_end=line_end, quoting=quoting)
    header_line = ",".join(HEADER) + "\n"
    expected = _normalized(rows)
    longest = max(len(row.encode()) for row in expected)
    sink = MemorySink()
    options = CheckOptions(type=ConversionType.BASIC, now=NOW, max_part_bytes=limit)
    report = check_file(TrickleStream(data, step), options, sink=sink)  # type: ignore[arg-type]

    # A row passed through as read (all quoted) may be longer than written anew.
    as_read = max(len(row.encode()) for row in _normalized(rows, quoting))
    if longest + len(header_line) > limit or (
        as_read + len(header_line) > limit and report.rejected_reason is not None
    ):
        assert report.rejected_reason is not None
        assert report.rejected_reason.code == "row-too-large"
        assert sink.parts == {}
        return
    assert report.valid, report.to_json()
    assert msgspec.to_builtins(report.rows) == {
        "total": len(rows),
        "valid": len(rows),
        "invalid": 0,
        "duplicates": 0,
        "already_sent": 0,
    }
    texts = sink.texts()
    assert len(texts) == len(report.parts)
    body = ""
    for text, part in zip(texts, report.parts, strict=True):
        data_bytes = text.encode()
        assert len(data_bytes) <= limit
        assert len(data_bytes) == part.bytes
        assert text.startswith(header_line)
        body += text[len(header_line) :]
    if quoting == csv.QUOTE_MINIMAL:
        assert body == "".join(expected)
    else:
        _as_read_or_anew(body, rows)
    assert list(csv.reader(io.StringIO(body, newline=""))) == rows


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2_000), step=st.integers(min_value=1, max_value=300))
def test_arbitrary_bytes_never_raise(data: bytes, step: int) -> None:
    options = CheckOptions(type=ConversionType.CALLS, now=NOW, max_part_bytes=500)
    report = check_file(TrickleStream(data, step), options, sink=MemorySink())  # type: ignore[arg-type]
    rows = report.rows
    assert rows.total == rows.valid + rows.invalid + rows.duplicates
    assert report.valid == (report.rejected_reason is None and rows.valid > 0)


_cell = st.text(alphabet=st.sampled_from(list('ab1 ,;"\n\r-+.:яё\t')), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(st.lists(_cell, min_size=0, max_size=8), max_size=25),
    kind=st.sampled_from(list(ConversionType)),
    step=st.integers(min_value=1, max_value=200),
)
def test_csv_like_text_never_raises_and_counts_add_up(
    cells: list[list[str]], kind: ConversionType, step: int
) -> None:
    header = "UserId,ClientId,DateTime,Target,ChatPlatform,ChatUsername,PhoneNumber,Price\n"
    body = "\n".join(",".join(row) for row in cells)
    data = (header + body).encode()
    sink = MemorySink()
    options = CheckOptions(type=kind, now=NOW, max_part_bytes=400, max_invalid_ratio=1.0)
    report = check_file(TrickleStream(data, step), options, sink=sink)  # type: ignore[arg-type]
    rows = report.rows
    assert rows.total == rows.valid + rows.invalid + rows.duplicates
    if report.valid:
        assert sink.rows() == rows.valid
        assert sum(part.rows for part in report.parts) == rows.valid


_risky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("=@+-\t\r\n\x1f 0123456789().,;\"'|!AZcmd")),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=12,
)


@given(
    header=st.lists(_risky_text, min_size=1, max_size=4),
    rows=st.lists(st.lists(_risky_text, min_size=1, max_size=4), min_size=1, max_size=5),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
# A cell holding the separator the guard joins a row with must not end its cell early.
@example(header=["+7\x1fcall me"], rows=[["-1\x1f=1", "\x1f-x"]], delimiter=",")
@settings(max_examples=200, deadline=None)
def test_rejects_cells_come_back_as_written_or_as_text(
    header: list[str], rows: list[list[str]], delimiter: str
) -> None:
    """Read back, each rejects cell is its source cell, or the source cell after a `'` when
    it would have started a formula; none starts one."""
    writer = MemoryWriter()
    rejects = RejectsWriter(lambda: writer, header, delimiter)
    for line, cells in enumerate(rows, start=2):
        rejects.add(line, ["bad-datetime"], cells)
    rejects.close()
    text = writer.data.decode("utf-8-sig")
    read = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert [row[:2] for row in read] == [
        ["line", "errors"],
        *([str(line), "bad-datetime"] for line in range(2, 2 + len(rows))),
    ]
    for written, source in zip(read, [header, *rows], strict=True):
        for cell, original in zip(written[2:], source, strict=True):
            first = original[:1]
            formula = first in ("=", "@", "\t", "\r") or (
                first in ("+", "-") and not set(original[1:]) <= set("0123456789 ().,-\u00a0\u202f")
            )
            assert cell == ("'" + original if formula else original)
