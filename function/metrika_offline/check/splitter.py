"""Cut normalized rows into parts of at most `max_part_bytes`, header in each, never mid-row.

Parts go to a `PartSink`: a local folder for the CLI (`FolderSink`), the bucket for the
function. Names are deterministic (`part-00001.csv`, ...) so that a retried run writes the
same objects. A row that cannot fit in a part even alone with the header raises
`RowTooLarge`: the file is rejected, since Metrica would refuse that part anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from metrika_offline.check.render import Rendered
from metrika_offline.check.report import PartInfo, part_name


class PartWriter(Protocol):
    """Where one part's bytes go; `storage.Writer` satisfies it."""

    def write(self, data: bytes, /) -> int: ...

    def close(self) -> None: ...


class PartSink(Protocol):
    """Opens parts by number; drops them all if the file turns out to be rejected."""

    def open_part(self, index: int, name: str) -> PartWriter: ...

    def discard(self) -> None: ...


class RowTooLarge(Exception):
    """Row `row` of the rendered batch does not fit in a part, even alone."""

    def __init__(self, row: int, size: int, limit: int) -> None:
        super().__init__(f"a row of {size} bytes does not fit in a part of {limit} bytes")
        self.row = row
        self.size = size
        self.limit = limit


class PartSplitter:
    """Writes rendered batches into successive parts."""

    def __init__(self, sink: PartSink, max_part_bytes: int, header: bytes) -> None:
        self._sink = sink
        self._limit = max_part_bytes
        self._header = header
        self._writer: PartWriter | None = None
        self._index = 0
        self._bytes = 0
        self._rows = 0
        self._parts: list[PartInfo] = []

    @property
    def parts(self) -> tuple[PartInfo, ...]:
        return tuple(self._parts)

    def _room(self) -> int:
        if self._writer is None:
            self._index += 1
            self._writer = self._sink.open_part(self._index, part_name(self._index))
            self._writer.write(self._header)
            self._bytes = len(self._header)
            self._rows = 0
        return self._limit - self._bytes

    def _emit(self, data: bytes, rows: int) -> None:
        assert self._writer is not None
        self._writer.write(data)
        self._bytes += len(data)
        self._rows += rows

    def _close_part(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        self._parts.append(PartInfo(self._index, part_name(self._index), self._rows, self._bytes))

    def write(self, rendered: Rendered) -> None:
        data = rendered.text.encode()
        if rendered.row_bytes is None:
            self._write_lines(data, rendered.rows)
        else:
            self._write_rows(data, rendered.row_bytes)

    def _write_lines(self, data: bytes, rows: int) -> None:
        """Every row is exactly one line: cut at the last LF that fits."""
        pos = 0
        end = len(data)
        done = 0
        while pos < end:
            room = self._room()
            if end - pos <= room:
                self._emit(data[pos:] if pos else data, rows - done)
                return
            cut = data.rfind(b"\n", pos, pos + room) + 1
            if cut <= pos:
                if self._rows == 0:
                    size = data.find(b"\n", pos) + 1 - pos
                    raise RowTooLarge(done, size, self._limit)
                self._close_part()
                continue
            lines = data.count(b"\n", pos, cut)
            self._emit(data[pos:cut], lines)
            done += lines
            pos = cut
            self._close_part()

    def _write_rows(self, data: bytes, row_bytes: list[int]) -> None:
        """Some rows hold newlines: walk the rows by their sizes."""
        pos = 0
        for row, size in enumerate(row_bytes):
            room = self._room()
            if size > room:
                if self._rows == 0:
                    raise RowTooLarge(row, size, self._limit)
                self._close_part()
                if size > self._room():
                    raise RowTooLarge(row, size, self._limit)
            self._emit(data[pos : pos + size], 1)
            pos += size

    def finish(self) -> tuple[PartInfo, ...]:
        """Close the last part; return every part written."""
        self._close_part()
        return self.parts

    def discard(self) -> None:
        """Close what is open and have the sink drop every part."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._parts.clear()
        self._sink.discard()


class FolderSink:
    """Parts as files in a local folder: the CLI's sink."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[Path] = []

    def open_part(self, index: int, name: str) -> PartWriter:  # noqa: ARG002 (the name says it)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        self.written.append(path)
        return path.open("wb")

    def discard(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()
