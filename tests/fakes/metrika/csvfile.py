"""What the fake learns from an uploaded file's bytes as they stream by, keeping none of them.

`rows` is the number of records after the header: line breaks inside quoted fields do not end
a record, and a blank line counts as one (nothing documents that Metrica skips them).
"""

from __future__ import annotations

import codecs

_MAX_HEADER_LINE = 64 * 1024


class CsvInspector:
    """Counts bytes and records, checks UTF-8 and reads the header."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.newlines = 0  # line breaks outside quotes, the header's included
        self.utf8_error_line: int | None = None
        self.header_line: bytes | None = None
        self._header = bytearray()
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._in_quotes = False
        self._last_byte = b""

    @property
    def too_large(self) -> bool:
        return self.bytes > self.max_bytes

    def feed(self, data: bytes) -> None:
        self.bytes += len(data)
        if self.too_large or not data:
            return
        self._last_byte = data[-1:]
        if self.utf8_error_line is None:
            try:
                self._decoder.decode(data)
            except UnicodeDecodeError as exc:
                self.utf8_error_line = self.newlines + data.count(b"\n", 0, exc.start) + 1
        if self.header_line is None:
            end = data.find(b"\n")
            self._header += data if end < 0 else data[: end + 1]
            if end >= 0 or len(self._header) > _MAX_HEADER_LINE:
                self.header_line = bytes(self._header[:_MAX_HEADER_LINE])
        self._count(data)

    def finish(self) -> None:
        if self.header_line is None:
            self.header_line = bytes(self._header)
        if self.utf8_error_line is None and not self.too_large:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8_error_line = self.newlines + 1

    @property
    def rows(self) -> int:
        """Records after the header; a last record without a line break counts too."""
        records = self.newlines + (1 if self.bytes and self._last_byte != b"\n" else 0)
        return max(0, records - 1)

    def _count(self, data: bytes) -> None:
        # '"' and '\n' are single bytes in UTF-8 and never occur inside a multi-byte sequence,
        # so counting on bytes is exact. A doubled quote toggles twice: no special case needed.
        if not self._in_quotes and b'"' not in data:
            self.newlines += data.count(b"\n")
            return
        segments = data.split(b'"')
        for index, segment in enumerate(segments):
            if not self._in_quotes:
                self.newlines += segment.count(b"\n")
            if index < len(segments) - 1:
                self._in_quotes = not self._in_quotes
