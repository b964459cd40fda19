"""Small doubles for the core checker's tests: in-memory sinks and synthetic streams."""

from __future__ import annotations

import csv
import io


class MemoryWriter:
    """A part or rejects writer that keeps its bytes."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.closed = False

    def write(self, data: bytes, /) -> int:
        assert not self.closed, "written after close"
        return self.buffer.write(data)

    def close(self) -> None:
        self.closed = True

    @property
    def data(self) -> bytes:
        return self.buffer.getvalue()


class MemorySink:
    """A PartSink keeping every part in memory, recording discards."""

    def __init__(self) -> None:
        self.parts: dict[str, MemoryWriter] = {}
        self.opened: list[tuple[int, str]] = []
        self.discards = 0

    def open_part(self, index: int, name: str) -> MemoryWriter:
        self.opened.append((index, name))
        writer = MemoryWriter()
        self.parts[name] = writer
        return writer

    def discard(self) -> None:
        self.discards += 1
        self.parts.clear()

    def texts(self) -> list[str]:
        return [self.parts[name].data.decode("utf-8") for name in sorted(self.parts)]

    def records(self) -> list[list[list[str]]]:
        """Each part parsed back as CSV (header included)."""
        return [list(csv.reader(io.StringIO(text, newline=""))) for text in self.texts()]

    def rows(self) -> int:
        return sum(len(part) - 1 for part in self.records())


class SingleLineStream(io.RawIOBase):
    """`size` bytes of one endless line, made up as they are read."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = self.left
        size = min(size, self.left)
        self.left -= size
        return b"x" * size


class TrickleStream(io.RawIOBase):
    """Serves `data` at most `step` bytes per read: every block boundary gets exercised."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.pos = 0
        self.step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = len(self.data)
        size = min(size, self.step)
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk
