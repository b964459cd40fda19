"""Normalized CSV text for a checked batch: comma, LF, known columns only (UTF-8 on writing).

The cheapest correct way wins, in this order:
1. nothing changed: the batch's lines as read, quoted or not (a semicolon file's lines with
   the semicolons swapped, when no cell holds a comma or a semicolon); only records read on
   their own (a quoted newline, a quote inside a cell) are written anew;
2. some rows changed or go: the other rows' own lines, and the changed ones rewritten;
3. columns go: every row rebuilt from the columns.
A row written anew quotes a field only when it must (comma, quote, newline), as
`csv.QUOTE_MINIMAL` does; a row passed through keeps the quoting it was read with.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Collection, Iterable, Sequence
from itertools import compress, repeat

from metrika_offline.check.records import Batch


@dataclasses.dataclass(frozen=True)
class Rendered:
    """Rows as text, each ending in LF. `row_bytes` (UTF-8 size of each row) is given only
    when some row holds a newline, so that a line is not always a row."""

    text: str
    rows: int
    row_bytes: list[int] | None = None


class _Lines:
    """A file-like object that keeps each write: csv.writer writes one row per call."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


def csv_rows(rows: Iterable[Sequence[str]]) -> list[str]:
    """Each row as one CSV record ending in LF, quoted only where needed."""
    sink = _Lines()
    csv.writer(sink, lineterminator="\n").writerows(rows)
    return sink.lines


def csv_line(values: Sequence[str]) -> str:
    """One row as a CSV line without its LF; `csv.writer` only when a value needs quotes."""
    line = ",".join(values)
    if line.count(",") == len(values) - 1 and '"' not in line and "\n" not in line:
        return line
    return csv_rows([values])[0][:-1]


def _from_lines(lines: list[str]) -> Rendered:
    text = "".join(lines)
    if text.count("\n") == len(lines):
        return Rendered(text, len(lines))
    return Rendered(text, len(lines), [len(line.encode()) for line in lines])


def _row(columns: Sequence[list[str] | None], row: int) -> list[str]:
    return [column[row] for column in columns if column is not None]


def render(
    batch: Batch,
    columns: Sequence[list[str] | None],
    *,
    kept: Sequence[int],
    changed: Collection[int],
    dropped: Collection[int],
    delimiter: str,
) -> Rendered:
    """The kept rows of `batch` as normalized text.

    `columns[j]` is input column j after repairs (None for dropped columns), `kept` the input
    positions written out, `changed` the rows with a repaired value, `dropped` the rows left
    out (invalid or duplicates)."""
    keep = [True] * batch.count
    for row in dropped:
        keep[row] = False
    if len(kept) != len(columns):
        return _rebuild(columns, kept, keep)
    if not changed and not dropped:
        unchanged = _unchanged(batch, columns, delimiter)
        if unchanged is not None:
            return unchanged
    return _sparse(batch, columns, set(changed), keep, delimiter)


def _unchanged(
    batch: Batch, columns: Sequence[list[str] | None], delimiter: str
) -> Rendered | None:
    """Every row kept as it is: the plain runs as read, quoted records rewritten. None when
    that does not work (a semicolon file with commas in cells, a quoted newline)."""
    texts: list[str | None] = []
    quoted: list[int] = []
    delimiters = len(columns) - 1  # in each row, when no cell holds one
    for piece in batch.pieces:
        if piece.text is None:
            texts.append(None)
            quoted.append(piece.row)
        elif delimiter == ",":
            texts.append(piece.text)
        elif "," not in piece.text and piece.text.count(delimiter) == piece.rows * delimiters:
            texts.append(piece.text.replace(delimiter, ","))
        else:
            return None
    if not quoted:
        plain = [text for text in texts if text is not None]
        return Rendered(plain[0] if len(plain) == 1 else "".join(plain), batch.count)
    records = [csv_line(_row(columns, row)) + "\n" for row in quoted]
    if sum(map(str.count, records, repeat("\n"))) != len(records):
        return None  # a quoted newline: rows must be counted one by one
    rewritten = iter(records)
    return Rendered(
        "".join([text if text is not None else next(rewritten) for text in texts]), batch.count
    )


def _source_lines(batch: Batch, delimiter: str, width: int) -> tuple[list[str | None], list[int]]:
    """Each row's line as read, without its LF and with commas for delimiters, and the rows
    that must be written anew (None in the list: read on their own, or a semicolon file's
    row with a comma in a cell or a semicolon in a quoted cell)."""
    lines: list[str | None] = []
    rewrite: list[int] = []
    for piece in batch.pieces:
        text = piece.text
        if text is None:
            rewrite.append(len(lines))
            lines.append(None)
            continue
        split = text.split("\n")
        split.pop()
        if delimiter == ",":
            lines += split
        elif "," not in text and text.count(delimiter) == piece.rows * (width - 1):
            lines += text.replace(delimiter, ",").split("\n")[:-1]
        else:
            for line in split:
                if "," in line or line.count(delimiter) != width - 1:
                    rewrite.append(len(lines))
                    lines.append(None)
                else:
                    lines.append(line.replace(delimiter, ","))
    return lines, rewrite


def _sparse(
    batch: Batch,
    columns: Sequence[list[str] | None],
    changed: set[int],
    keep: list[bool],
    delimiter: str,
) -> Rendered:
    lines, rewrite = _source_lines(batch, delimiter, len(columns))
    for row in changed.union(rewrite):
        if keep[row]:
            lines[row] = csv_line(_row(columns, row))
    kept = [line for line in compress(lines, keep) if line is not None]
    text = "\n".join(kept) + "\n" if kept else ""
    if text.count("\n") == len(kept):
        return Rendered(text, len(kept))
    return Rendered(text, len(kept), [len(line.encode()) + 1 for line in kept])


def _rebuild(
    columns: Sequence[list[str] | None], kept: Sequence[int], keep: list[bool]
) -> Rendered:
    chosen = [column for column in (columns[j] for j in kept) if column is not None]
    rows = list(compress(zip(*chosen, strict=True), keep)) if chosen else []
    if not rows:
        return Rendered("", 0)
    width = len(chosen)
    text = "\n".join(map(",".join, rows))
    if (
        text.count(",") == len(rows) * (width - 1)
        and text.count("\n") == len(rows) - 1
        and '"' not in text
    ):
        return Rendered(text + "\n", len(rows))
    return _from_lines(csv_rows(rows))
