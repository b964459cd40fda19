"""CSV records from text blocks, in batches laid out for column-at-a-time checking.

A batch keeps every cell in one flat list, row after row, with a marker (`"\\n"`) after each
row, so the checker takes a whole column with one slice and tests it with one C-level call.
No per-row list or tuple is built on the fast path: at a few million rows, those alone would
cost more than `csv.reader` itself, their garbage collection most of all.

- A run of lines without a quote character is split with `str.split`, in one call for the
  whole run (that is exactly how `csv` reads such lines), and the markers prove in one slice
  that every row has the header's width.
- A chunk with quotes on many of its lines is read whole by one strict `csv.reader` call,
  each LF turned into a quoted marker cell, when every line is one record of the header's
  width (the usual case, fully quoted exports included); its lines are kept as read, to be
  passed through.
- Otherwise (quotes on few lines, a quoted newline, a stray quote, a blank or malformed row in
  the chunk) each line with a quote goes to `csv.reader` on its own, which may pull more
  lines (a quoted newline), from later blocks too; the record must close within
  `max_row_chars`.
- Blank lines, and rows of empty cells (what Excel leaves below a table), are skipped.
- Line numbers are physical (LF after normalization), 1-based; a record that spans lines is
  reported at the line where it starts.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

MAX_ROW_CHARS = 1 << 20
#: A chunk with fewer quote characters than one per this many lines (a quoted field in under
#: about one line in twenty) is read as runs of plain lines with a record read on its own here
#: and there: with few quoted rows that is faster than one `csv` parse of the whole chunk, with
#: many it is slower (README, "Check and split").
SPARSE_QUOTES = 10
ROW_MARKER = "\n"

_DELIMITERS = (",", ";", "\t")


class RecordProblem(Exception):
    """The text cannot be cut into records: reject the file."""

    def __init__(self, code: str, line: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.line = line
        self.message = message


class LineMap(Sequence[int]):
    """Physical line of each row of a batch, stored as runs of consecutive lines: numbers are
    only looked at for the rows that have something to report."""

    def __init__(self) -> None:
        self._rows: list[int] = []  # first row of each run
        self._lines: list[int] = []  # its line
        self._count = 0
        self._next_line = -1  # the line a row added now would have to continue the last run

    def add(self, line: int, rows: int) -> None:
        if line != self._next_line:
            self._rows.append(self._count)
            self._lines.append(line)
        self._count += rows
        self._next_line = line + rows

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, row: int) -> int: ...
    @overload
    def __getitem__(self, row: slice) -> Sequence[int]: ...
    def __getitem__(self, row: int | slice) -> int | Sequence[int]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(self._count))]
        if not 0 <= row < self._count:
            raise IndexError(row)
        run = bisect_right(self._rows, row) - 1
        return self._lines[run] + row - self._rows[run]


@dataclasses.dataclass(frozen=True)
class Malformed:
    """A row whose cell count differs from the header's."""

    line: int
    cells: list[str]


@dataclasses.dataclass(frozen=True)
class Piece:
    """Consecutive rows of a batch as they were read: `text`, one LF-terminated line a row,
    quoting as read; or None for one record that must be written anew (a quoted newline, a
    quote inside a cell, or a row read on its own)."""

    row: int  # the batch row of its first row
    rows: int
    text: str | None


@dataclasses.dataclass(frozen=True)
class Batch:
    """Rows of the header's width, flat, plus what did not fit that shape."""

    cells: list[str]  # row i, column j is cells[i * stride + j]; a marker ends each row
    stride: int  # the width + 1
    count: int  # rows in `cells`
    lines: LineMap  # physical line where each row starts
    pieces: list[Piece]  # the rows as read, in order
    malformed: list[Malformed]
    blank_lines: int
    first_blank_line: int | None
    trailing_blank_lines: int  # blank lines after the batch's last row
    last_line: int  # the last physical line this batch covers

    def row(self, index: int) -> list[str]:
        start = index * self.stride
        return self.cells[start : start + self.stride - 1]


@functools.cache
def _quoted_marker(delimiter: str) -> str:
    """What a line's LF becomes to read every line as one record, with a marker cell
    (`ROW_MARKER`, quoted) after each row."""
    return delimiter + '"' + ROW_MARKER + '"' + delimiter


def _may_hold_empty_rows(cells: list[str], width: int) -> bool:
    """Whether a row of `cells` (flat, a marker after each row) may have every cell empty:
    not when some column has no empty cell (a required column, usually the first tried)."""
    stride = width + 1
    return all("" in cells[column::stride] for column in range(width))


def detect_delimiter(line: str) -> str:
    """Comma, semicolon or tab: whichever the header line has most of (comma on a tie)."""
    best = max(_DELIMITERS, key=line.count)
    return best if line.count(best) > 0 else ","


class _BatchBuilder:
    """Collects the rows of one batch."""

    def __init__(self, width: int, delimiter: str) -> None:
        self.width = width
        self.delimiter = delimiter
        self.marker = delimiter + ROW_MARKER + delimiter
        self.empty_row = delimiter * (width - 1)
        self.cells: list[str] = []
        self.lines = LineMap()
        self.pieces: list[Piece] = []
        self.count = 0
        self.malformed: list[Malformed] = []
        self.blank_lines = 0
        self.first_blank_line: int | None = None
        self.trailing_blank_lines = 0

    def _blank(self, line: int) -> None:
        self.blank_lines += 1
        self.trailing_blank_lines += 1
        if self.first_blank_line is None:
            self.first_blank_line = line

    def add_text(self, text: str, first_line: int, n: int) -> None:
        """`n` lines without quotes, each ending in LF; `first_line` is the first one's."""
        width = self.width
        flat = text.replace("\n", self.marker).split(self.delimiter)
        if (
            len(flat) == n * (width + 1) + 1
            and flat[width :: width + 1].count(ROW_MARKER) == n
            and not text.startswith(self.empty_row + "\n")
            and ("\n" + self.empty_row + "\n") not in text
        ):
            flat.pop()
            if self.cells:
                self.cells += flat
            else:
                self.cells = flat
            self.lines.add(first_line, n)
            self.pieces.append(Piece(self.count, n, text))
            self.count += n
            self.trailing_blank_lines = 0
            return
        lines = text.split("\n")
        lines.pop()
        for offset, line in enumerate(lines):
            self._add_line(line, first_line + offset)

    def add_quoted(self, text: str, first_line: int, n: int) -> bool:
        """`n` lines with quotes, each ending in LF, cut in one C-level parse when each line
        is one record of the header's width and none is empty (the usual case: a quoted
        newline, an unclosed quote, a blank or malformed row make it False, and nothing is
        added). The lines stay as read, quoting included; a row with a quote inside a cell
        (`a"b`, `"a""b"`) is written anew."""
        d, width = self.delimiter, self.width
        # Each LF made a quoted marker cell: one record holding every row, markers in place.
        # Strict parsing raises rather than let a stray quote swallow a marker.
        try:
            flat = next(
                csv.reader((text.replace("\n", _quoted_marker(d)),), delimiter=d, strict=True)
            )
        except (csv.Error, StopIteration):
            return False
        stride = width + 1
        if len(flat) != n * stride + 1 or flat[-1] or flat[width::stride].count(ROW_MARKER) != n:
            return False
        flat.pop()  # the empty cell after the last marker
        if _may_hold_empty_rows(flat, width):
            return False  # read line by line, where rows of empty cells are skipped
        self.cells = flat
        self.lines.add(first_line, n)
        self.count = n
        self.trailing_blank_lines = 0
        if '"' not in "".join(flat):
            self.pieces.append(Piece(0, n, text))
            return True
        rewrite = sorted({index // stride for index, cell in enumerate(flat) if '"' in cell})
        lines = text.split("\n")
        done = 0
        for row in rewrite:
            if row > done:
                self.pieces.append(Piece(done, row - done, "\n".join(lines[done:row]) + "\n"))
            self.pieces.append(Piece(row, 1, None))
            done = row + 1
        if done < n:
            self.pieces.append(Piece(done, n - done, "\n".join(lines[done:n]) + "\n"))
        return True

    def _add_line(self, line: str, number: int) -> None:
        d = self.delimiter
        if not line.strip(d + " \t"):
            self._blank(number)
            return
        cells = line.split(d)
        if len(cells) != self.width:
            self.malformed.append(Malformed(number, cells))
            self.trailing_blank_lines = 0
            return
        cells.append(ROW_MARKER)
        self.cells += cells
        self.lines.add(number, 1)
        self.pieces.append(Piece(self.count, 1, line + "\n"))
        self.count += 1
        self.trailing_blank_lines = 0

    def add_record(self, cells: list[str], line: int) -> None:
        """A record read by csv.reader."""
        if len(cells) == self.width and any(cells):
            self.cells += cells
            self.cells.append(ROW_MARKER)
            self.lines.add(line, 1)
            self.pieces.append(Piece(self.count, 1, None))
            self.count += 1
            self.trailing_blank_lines = 0
        elif not "".join(cells).strip():
            self._blank(line)
        else:
            self.malformed.append(Malformed(line, cells))
            self.trailing_blank_lines = 0

    def add_runs(self, runs: list[tuple[int, int, str | list[str]]]) -> None:
        """Plain runs of lines and quoted records (read by csv.reader), in file order, each
        with its first line's number and how many lines it holds. A quoted record stands in
        the text as a placeholder line of the right width, so that the whole lot is split in
        one call; its cells then replace the placeholder's. Falls back to one run at a time
        when rows are irregular."""
        d, width = self.delimiter, self.width
        placeholder = d.join("q" * width) + "\n"
        parts: list[str] = []
        quoted: list[tuple[int, list[str]]] = []
        rows = 0
        for _, lines, item in runs:
            if isinstance(item, str):
                parts.append(item)
                rows += lines
            elif len(item) == width and any(item):
                parts.append(placeholder)
                quoted.append((rows, item))
                rows += 1
        text = "".join(parts)
        flat = text.replace("\n", self.marker).split(d)
        if self.count or not (
            len(flat) == rows * (width + 1) + 1
            and flat[width :: width + 1].count(ROW_MARKER) == rows
            and not text.startswith(self.empty_row + "\n")
            and ("\n" + self.empty_row + "\n") not in text
        ):
            for line, lines, item in runs:
                if isinstance(item, str):
                    self.add_text(item, line, lines)
                else:
                    self.add_record(item, line)
            return
        flat.pop()
        stride = width + 1
        for row, cells in quoted:
            flat[row * stride : row * stride + width] = cells
        self.cells = flat
        for line, lines, item in runs:
            if isinstance(item, str):
                self.lines.add(line, lines)
                self.pieces.append(Piece(self.count, lines, item))
                self.count += lines
                self.trailing_blank_lines = 0
            elif len(item) == width and any(item):
                self.lines.add(line, 1)
                self.pieces.append(Piece(self.count, 1, None))
                self.count += 1
                self.trailing_blank_lines = 0
            else:
                self.add_record(item, line)  # blank or malformed: kept aside

    def build(self, last_line: int) -> Batch:
        return Batch(
            cells=self.cells,
            stride=self.width + 1,
            count=self.count,
            lines=self.lines,
            pieces=self.pieces,
            malformed=self.malformed,
            blank_lines=self.blank_lines,
            first_blank_line=self.first_blank_line,
            trailing_blank_lines=self.trailing_blank_lines,
            last_line=last_line,
        )


class _LineFeed:
    """Lines (with their LF) for csv.reader, from an offset in the current chunk on, then
    from later chunks when a quoted field runs on. Tracks where it stopped."""

    def __init__(self, records: Records, text: str, pos: int) -> None:
        self.records = records
        self.text = text
        self.pos = pos
        self.budget = records.max_row_chars
        self.ended = False  # the file ended while csv.reader wanted more

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        end = self.text.find("\n", self.pos) + 1
        if end == 0:  # chunks end with LF, so the current one is used up
            got = self.records.next_chunk()
            if got is None:
                self.ended = True
                raise StopIteration
            self.text, self.pos = got[0], 0
            self.budget -= len(self.text)
            if self.budget < 0:
                raise self.records.unclosed()
            end = self.text.find("\n") + 1
        line = self.text[self.pos : end]
        self.pos = end
        return line


class Records:
    """Read the header, then batches of records, from text blocks (see `decoding`)."""

    def __init__(self, blocks: Iterable[str], *, max_row_chars: int = MAX_ROW_CHARS) -> None:
        self._blocks = iter(blocks)
        self.max_row_chars = max_row_chars
        self._tail = ""
        self._next_line = 1  # physical number of the first line of the next chunk
        self._pending: tuple[str, int, int] | None = None
        self._record_line = 0  # where the quoted record being read starts
        self.delimiter = ","
        self.header_line = 1

    def next_chunk(self) -> tuple[str, int, int] | None:
        """The next run of complete lines (ending in LF), its first line's number and how
        many lines it holds."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        for block in self._blocks:
            cut = block.rfind("\n") + 1
            if cut == 0:
                self._tail += block
                self._check_tail(self._next_line)
                continue
            # One copy of the block: the tail before it, its lines, then the new tail.
            chunk = self._tail + block[:cut] if cut < len(block) else self._tail + block
            self._tail = block[cut:]
            start = self._next_line
            n = chunk.count("\n")
            self._next_line += n
            self._check_tail(self._next_line)
            return chunk, start, n
        if self._tail:
            chunk, self._tail = self._tail + "\n", ""
            start = self._next_line
            self._next_line += 1
            return chunk, start, 1
        return None

    def _check_tail(self, line: int) -> None:
        if len(self._tail) > self.max_row_chars:
            raise RecordProblem(
                "row-too-large",
                line,
                f"line {line} runs on past {self.max_row_chars // 1024} KiB without a line "
                "break: not a CSV of conversions",
            )

    def unclosed(self) -> RecordProblem:
        line = self._record_line
        return RecordProblem(
            "unclosed-quote",
            line,
            f"the quoted field opened on line {line} is never closed (a stray quote?), "
            "or is far too long",
        )

    def _read_record(self, reader: Iterator[list[str]], feed: _LineFeed, line: int) -> list[str]:
        self._record_line = line
        feed.budget = self.max_row_chars
        try:
            record = next(reader)
        except csv.Error:  # a field over csv's own size limit: an unclosed quote in practice
            raise self.unclosed() from None
        if feed.ended:
            raise self.unclosed()
        return record

    def header(self) -> list[str] | None:
        """The header cells (blank lines before it are skipped); None for an empty file."""
        while (got := self.next_chunk()) is not None:
            chunk, start, _ = got
            pos = 0
            while pos < len(chunk) and not chunk[pos : chunk.index("\n", pos)].strip():
                pos = chunk.index("\n", pos) + 1
                start += 1
            if pos == len(chunk):
                continue
            self.delimiter = detect_delimiter(chunk[pos : chunk.index("\n", pos)])
            self.header_line = start
            feed = _LineFeed(self, chunk, pos)
            reader = csv.reader(feed, delimiter=self.delimiter)
            names = self._read_record(reader, feed, start)
            if feed.pos < len(feed.text):
                rest = feed.text[feed.pos :]
                self._pending = (rest, start + reader.line_num, rest.count("\n"))
            return names
        return None

    def batches(self, width: int) -> Iterator[Batch]:
        """Every record after the header, one batch per chunk of text."""
        while (got := self.next_chunk()) is not None:
            chunk, start, n = got
            builder = _BatchBuilder(width, self.delimiter)
            if '"' not in chunk:
                builder.add_text(chunk, start, n)
                last = start + n - 1
            elif chunk.count('"') * SPARSE_QUOTES >= n and builder.add_quoted(chunk, start, n):
                last = start + n - 1
            else:
                last = self._mixed(chunk, start, builder)
            yield builder.build(last)

    def _mixed(self, chunk: str, start: int, builder: _BatchBuilder) -> int:
        """A chunk with quotes: runs of plain lines as they are, each record that starts on
        a line with a quote through one csv.reader (which may read on into the next chunk).
        Returns the number of the last line used."""
        runs: list[tuple[int, int, str | list[str]]] = []
        feed = _LineFeed(self, chunk, 0)
        reader = csv.reader(feed, delimiter=self.delimiter)
        line = start
        while feed.pos < len(feed.text):
            text, pos = feed.text, feed.pos
            quote = text.find('"', pos)
            if quote < 0:
                lines = text.count("\n", pos)
                runs.append((line, lines, text[pos:] if pos else text))
                line += lines
                break
            line_start = max(pos, text.rfind("\n", pos, quote) + 1)
            if line_start > pos:
                lines = text.count("\n", pos, line_start)
                runs.append((line, lines, text[pos:line_start]))
                line += lines
            # csv.reader reads no further than the record it returns: repositioning between
            # records is safe.
            feed.pos = line_start
            before = reader.line_num
            record = self._read_record(reader, feed, line)
            lines = reader.line_num - before
            runs.append((line, lines, record))
            line += lines
        builder.add_runs(runs)
        return line - 1
