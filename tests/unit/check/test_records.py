"""Text to records: the header, batches, quotes across blocks, line numbers, size limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrika_offline.check.records import (
    Batch,
    LineMap,
    RecordProblem,
    Records,
    _BatchBuilder,
    detect_delimiter,
)


def _blocks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _read(
    text: str, *, size: int = 1 << 16, max_row_chars: int = 1 << 20
) -> tuple[list[str] | None, list[Batch], Records]:
    records = Records(_blocks(text, size), max_row_chars=max_row_chars)
    header = records.header()
    batches = list(records.batches(len(header))) if header else []
    return header, batches, records


def _rows(batches: list[Batch]) -> list[tuple[int, list[str]]]:
    """(line, cells) of every well-formed row, in order."""
    return [(b.lines[i], b.row(i)) for b in batches for i in range(b.count)]


def test_delimiter_is_whatever_the_header_has_most_of() -> None:
    assert detect_delimiter("a,b,c") == ","
    assert detect_delimiter("a;b;c") == ";"
    assert detect_delimiter("a\tb\tc") == "\t"
    assert detect_delimiter("a;b,c") == ","
    assert detect_delimiter("single") == ","


@pytest.mark.parametrize("size", [1, 2, 5, 16, 1 << 16])
def test_quoted_fields_across_any_block_boundary(size: int) -> None:
    text = 'a,b,c\n1,"x\ny",2\n3,"q""uote, comma",4\n\n5,6,7\n"8","9\n\n10",11\n'
    header, batches, _ = _read(text, size=size)
    assert header == ["a", "b", "c"]
    assert _rows(batches) == [
        (2, ["1", "x\ny", "2"]),
        (4, ["3", 'q"uote, comma', "4"]),
        (6, ["5", "6", "7"]),
        (7, ["8", "9\n\n10", "11"]),
    ]


def test_blank_lines_and_empty_rows_are_skipped_and_counted() -> None:
    _, batches, _ = _read("a,b\n1,2\n\n,\n  \n3,4\n,\n\n")
    assert [line for line, _ in _rows(batches)] == [2, 6]
    assert sum(b.blank_lines for b in batches) == 5
    assert batches[-1].trailing_blank_lines == 2
    assert batches[0].first_blank_line == 3


def test_rows_of_the_wrong_width_are_kept_aside() -> None:
    _, batches, _ = _read('a,b,c\n1,2\n1,2,3\n1,2,3,4\n"x",y\n')
    malformed = [(m.line, len(m.cells)) for b in batches for m in b.malformed]
    assert malformed == [(2, 2), (4, 4), (5, 2)]
    assert [line for line, _ in _rows(batches)] == [3]


def test_header_after_blank_lines_and_a_quoted_header() -> None:
    header, batches, records = _read('\n\n"Client""Id","Target"\n1,2\n')
    assert header == ['Client"Id', "Target"]
    assert records.header_line == 3
    assert _rows(batches) == [(4, ["1", "2"])]


def test_an_unclosed_quote_at_the_end_is_reported_where_it_opened() -> None:
    with pytest.raises(RecordProblem) as caught:
        _read('a,b\n1,2\n3,"open\n4,5\n', size=3)
    assert (caught.value.code, caught.value.line) == ("unclosed-quote", 3)


def test_an_unclosed_quote_cannot_swallow_the_file() -> None:
    text = 'a,b\n1,"open\n' + "x,y\n" * 10_000
    with pytest.raises(RecordProblem) as caught:
        _read(text, size=100, max_row_chars=1_000)
    assert (caught.value.code, caught.value.line) == ("unclosed-quote", 2)


def test_a_line_that_never_ends_is_too_large() -> None:
    with pytest.raises(RecordProblem) as caught:
        _read("a,b\n1,2\n" + "x" * 5_000, size=100, max_row_chars=1_000)
    assert (caught.value.code, caught.value.line) == ("row-too-large", 3)


def test_a_file_without_a_final_newline_keeps_its_last_row() -> None:
    _, batches, _ = _read("a,b\n1,2\n3,4", size=3)
    assert _rows(batches) == [(2, ["1", "2"]), (3, ["3", "4"])]


def test_empty_input_has_no_header() -> None:
    assert _read("")[0] is None
    assert _read("\n \n\n")[0] is None


def test_pieces_keep_lines_as_read_quoted_or_not() -> None:
    _, batches, _ = _read('a,b\n1,2\n3,4\n"5",6\n7,8\n')
    (batch,) = batches
    assert [(p.row, p.rows, p.text) for p in batch.pieces] == [(0, 4, '1,2\n3,4\n"5",6\n7,8\n')]
    assert [batch.row(i) for i in range(4)] == [["1", "2"], ["3", "4"], ["5", "6"], ["7", "8"]]


def test_a_quote_inside_a_cell_has_its_row_written_anew() -> None:
    _, batches, _ = _read('a,b\n"1",2\n"x""y",4\nu"v,6\n"7",8\n')
    (batch,) = batches
    assert [(p.row, p.rows, p.text) for p in batch.pieces] == [
        (0, 1, '"1",2\n'),
        (1, 1, None),
        (2, 1, None),
        (3, 1, '"7",8\n'),
    ]
    assert batch.row(1) == ['x"y', "4"]
    assert batch.row(2) == ['u"v', "6"]


def test_quoted_newlines_and_stray_quotes_are_read_one_record_at_a_time() -> None:
    _, batches, _ = _read('a,b\n1,2\n"x\ny",3\n"tes"t,4\n5,6\n')
    (batch,) = batches
    assert [(p.row, p.rows, p.text) for p in batch.pieces] == [
        (0, 1, "1,2\n"),
        (1, 1, None),
        (2, 1, None),
        (3, 1, "5,6\n"),
    ]
    assert [batch.row(i) for i in range(4)] == [
        ["1", "2"],
        ["x\ny", "3"],
        ["test", "4"],
        ["5", "6"],
    ]
    assert list(batch.lines) == [2, 3, 5, 6]


@pytest.mark.parametrize("empty", [",", '"",""', '"",', ',""'])
def test_rows_of_empty_cells_among_quoted_rows_are_blank(empty: str) -> None:
    _, batches, _ = _read(f'a,b\n"1",2\n{empty}\n"3",4\n')
    (batch,) = batches
    assert batch.count == 2
    assert batch.blank_lines == 1
    assert list(batch.lines) == [2, 4]


def test_line_map_runs() -> None:
    lines = LineMap()
    lines.add(2, 3)  # rows 0-2 on lines 2-4
    lines.add(5, 1)  # row 3 on line 5: the same run
    lines.add(9, 2)  # rows 4-5 on lines 9-10 (a quoted record spanned 6-8)
    assert list(lines) == [2, 3, 4, 5, 9, 10]
    assert lines[5] == 10
    assert lines[1:3] == [3, 4]
    with pytest.raises(IndexError):
        lines[6]


def _read_all(text: str, block: int) -> object:
    """Every batch's rows, lines, malformed rows and blank lines; or the problem raised."""
    records = Records(_blocks(text, block), max_row_chars=10_000)
    try:
        header = records.header()
        if header is None:
            return None
        return [
            (
                [batch.row(i) for i in range(batch.count)],
                list(batch.lines),
                [(m.line, m.cells) for m in batch.malformed],
                batch.blank_lines,
            )
            for batch in records.batches(len(header))
        ]
    except RecordProblem as problem:
        return (problem.code, problem.line)


_CELLS = ["", "a", " ", '"a"', '""', '"a,b"', '"x\ny"', 'a"b', '"a""b"', '"ab"c', '"open', "b,"]


@settings(max_examples=500, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.sampled_from(_CELLS), min_size=1, max_size=4).filter(
            lambda cells: len(cells) == 3 or len(cells) % 2 == 0  # mostly the header's width
        ),
        max_size=30,
    ),
    block=st.integers(min_value=8, max_value=200),
)
def test_chunks_read_in_bulk_agree_with_records_read_one_by_one(
    rows: list[list[str]], block: int
) -> None:
    """Stray, doubled and unclosed quotes, quoted newlines, rows of empty cells, short and long
    rows: the bulk reading either cuts a chunk exactly as reading its records one by one does,
    or leaves it to that reading."""
    text = "x,y,z\n" + "".join(",".join(cells) + "\n" for cells in rows)
    bulk = _read_all(text, block)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_BatchBuilder, "add_quoted", lambda *_: False)
        one_by_one = _read_all(text, block)
    assert bulk == one_by_one
