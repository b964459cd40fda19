"""Normalized rendering of a batch, and cutting rows into parts."""

from __future__ import annotations

import pytest

from metrika_offline.check.records import Batch, Records
from metrika_offline.check.render import Rendered, render
from metrika_offline.check.report import part_name
from metrika_offline.check.splitter import FolderSink, PartSplitter, RowTooLarge
from tests.unit.check.helpers import MemorySink

HEADER = b"a,b\n"


def _batch(text: str) -> tuple[Batch, Records]:
    records = Records([text])
    header = records.header()
    assert header is not None
    (batch,) = records.batches(len(header))
    return batch, records


def _columns(batch: Batch, width: int) -> list[list[str] | None]:
    return [batch.cells[j :: batch.stride] for j in range(width)]


def _render(text: str, **kwargs: object) -> Rendered:
    batch, records = _batch(text)
    width = batch.stride - 1
    columns = kwargs.pop("columns", None) or _columns(batch, width)
    options = {"kept": tuple(range(width)), "changed": (), "dropped": ()} | kwargs
    return render(batch, columns, delimiter=records.delimiter, **options)  # type: ignore[arg-type]


def test_an_unchanged_batch_is_written_as_read() -> None:
    assert _render("a,b\n1,2\n3,4\n").text == "1,2\n3,4\n"
    assert _render("a;b\n1;2\n3;4\n").text == "1,2\n3,4\n"
    assert _render("a;b\n1,5;2\n").text == '"1,5",2\n'
    assert _render('a,b\n"1",2\n3,"x\ny"\n') == Rendered('1,2\n3,"x\ny"\n', 2, [4, 8])


def test_changed_and_dropped_rows() -> None:
    batch, _ = _batch("a,b\n1,2\n3,4\n5,6\n")
    columns = _columns(batch, 2)
    assert columns[1] is not None
    columns[1][0] = 'x,"y'
    rendered = render(batch, columns, kept=(0, 1), changed={0}, dropped={1}, delimiter=",")
    assert rendered.text == '1,"x,""y"\n5,6\n'
    assert rendered.rows == 2


def test_dropped_columns_rebuild_every_row() -> None:
    batch, _ = _batch("a,b,c\n1,2,3\n4,,6\n")
    columns = _columns(batch, 3)
    columns[1] = None
    assert render(batch, columns, kept=(0, 2), changed=(), dropped={0}, delimiter=",").text == (
        "4,6\n"
    )


def _split(
    texts: list[str], limit: int, row_bytes: list[list[int] | None] | None = None
) -> MemorySink:
    sink = MemorySink()
    splitter = PartSplitter(sink, limit, HEADER)
    for index, text in enumerate(texts):
        sizes = row_bytes[index] if row_bytes else None
        splitter.write(Rendered(text, text.count("\n") if sizes is None else len(sizes), sizes))
    infos = splitter.finish()
    assert [(i.index, i.name) for i in infos] == [
        (n, part_name(n)) for n in range(1, len(infos) + 1)
    ]
    for info, text in zip(infos, sink.texts(), strict=True):
        assert info.bytes == len(text.encode()) <= limit
        assert text.startswith(HEADER.decode())
    return sink


def test_parts_are_cut_between_rows_and_hold_the_header() -> None:
    sink = _split(["11,1\n22,2\n33,3\n", "44,4\n"], limit=14)
    assert sink.texts() == ["a,b\n11,1\n22,2\n", "a,b\n33,3\n44,4\n"]


def test_a_part_may_reach_the_limit_but_never_pass_it_by_one_byte() -> None:
    # header 4 + 5 + 5 = 14: exactly the limit, one part
    assert _split(["11,1\n22,2\n"], limit=14).texts() == ["a,b\n11,1\n22,2\n"]
    # header 4 + 5 + 6 = 15: one byte over, so the second row starts the next part
    assert _split(["11,1\n22,22\n"], limit=14).texts() == ["a,b\n11,1\n", "a,b\n22,22\n"]


def test_rows_with_newlines_reach_the_limit_but_never_pass_it() -> None:
    exact = '1,"x\ny"\n'  # 8 bytes: header 4 + 8 = 12, exactly the limit
    assert _split([exact], limit=12, row_bytes=[[8]]).texts() == ["a,b\n" + exact]
    over = '1,"x\n"\n2,"y\n"\n'  # 7 + 7: header 4 + 14 = 18, one byte over 17
    assert _split([over], limit=17, row_bytes=[[7, 7]]).texts() == [
        'a,b\n1,"x\n"\n',
        'a,b\n2,"y\n"\n',
    ]


def test_rows_with_newlines_are_never_cut() -> None:
    text = '1,"x\ny"\n2,2\n'
    sink = _split([text], limit=12, row_bytes=[[8, 4]])
    assert sink.texts() == ['a,b\n1,"x\ny"\n', "a,b\n2,2\n"]


def test_a_row_that_cannot_fit_alone_is_refused() -> None:
    sink = MemorySink()
    splitter = PartSplitter(sink, 10, HEADER)
    splitter.write(Rendered("1,2\n", 1))
    with pytest.raises(RowTooLarge) as caught:
        splitter.write(Rendered("3,4\n55555,6\n", 2))
    assert (caught.value.row, caught.value.size) == (1, 8)
    splitter.discard()
    assert sink.discards == 1


def test_folder_sink_writes_and_discards(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "out"
    sink = FolderSink(folder)
    splitter = PartSplitter(sink, 100, HEADER)
    splitter.write(Rendered("1,2\n", 1))
    splitter.finish()
    assert (folder / "part-00001.csv").read_bytes() == b"a,b\n1,2\n"
    sink.discard()
    assert list(folder.iterdir()) == []
