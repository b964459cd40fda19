"""Bytes in, text out: one pass over any binary stream, in blocks, memory flat.

- UTF-8, with or without a BOM (the BOM is dropped).
- Windows-1251 (what a Russian Excel saves as "CSV"): chosen when the first non-ASCII bytes are
  not UTF-8 and the file reads as Windows-1251 text: no byte undefined there (0x98) and no
  control character but tab, CR and LF. Everything before them was ASCII, which both encodings
  share, so switching then loses nothing. Whether the high bytes are letters does not matter:
  an Excel file may hold nothing but no-break spaces, « » — or №. The caller is told, to warn
  the user. A chosen `encoding` (utf-8 or windows-1251) replaces the detection; a UTF-8 BOM
  always means UTF-8.
- Anything else is rejected at the first bad byte, with its line and byte offset: guessing
  further would upload garbled names.
- NUL bytes mean a binary file (a workbook, an archive) or UTF-16: rejected.
- Line ends: CRLF and lone CR become LF, so every later stage sees a single terminator.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from typing import BinaryIO

BLOCK_BYTES = 1 << 18  # small enough that a batch's objects stay cache-warm

_UTF8_BOM = b"\xef\xbb\xbf"
_BINARY_SIGNATURES = (
    (b"\xff\xfe", "UTF-16 text: save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text: save it as UTF-8"),
    (b"PK\x03\x04", "a ZIP archive, probably an .xlsx workbook: export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook: export the sheet as CSV"),
    (b"\x1f\x8b", "a gzip archive: upload the CSV inside it"),
    (b"%PDF", "a PDF document"),
)
# Bytes that are not text in Windows-1251: C0 controls but tab, LF and CR, and 0x98 (undefined).
# NUL is refused earlier for every encoding.
_NOT_CP1251_TEXT = bytes([*(b for b in range(1, 0x20) if b not in (0x09, 0x0A, 0x0D)), 0x98])
_ALL_BUT_NOT_CP1251_TEXT = bytes(b for b in range(256) if b not in _NOT_CP1251_TEXT)


class DecodeProblem(Exception):
    """The bytes cannot be read as text. Carries a report code, line and message."""

    def __init__(self, code: str, line: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.line = line
        self.message = message


def looks_like_windows_1251(data: bytes) -> bool:
    """Non-ASCII bytes, and all of `data` is Windows-1251 text (see the module docstring)."""
    return not data.isascii() and _cp1251_text_error(data) < 0


def _cp1251_text_error(data: bytes) -> int:
    """Index of the first byte that is not Windows-1251 text, or -1."""
    bad = data.translate(None, _ALL_BUT_NOT_CP1251_TEXT)
    return -1 if not bad else data.index(bad[0])


class TextBlocks:
    """Iterate over a binary stream as blocks of text with LF line ends.

    After iteration, `encoding` is `utf-8`, `utf-8-sig` (a BOM was there) or `windows-1251`;
    `transcoded_at_line` is the line where Windows-1251 was detected (1 when it was chosen;
    None otherwise).
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        block_bytes: int = BLOCK_BYTES,
        progress: Callable[[int], None] | None = None,
        encoding: str = "auto",
    ) -> None:
        self._stream = stream
        self._chosen = encoding  # auto, utf-8 or windows-1251
        self._block_bytes = block_bytes
        self._progress = progress
        self.encoding = "utf-8"
        self.transcoded_at_line: int | None = None
        self.bytes_read = 0
        self._newlines_before = 0  # b"\n" in the bytes before the current block
        self._ascii_so_far = True
        self._decoder: codecs.IncrementalDecoder = codecs.getincrementaldecoder("utf-8")()
        self._held_cr = False

    def _read(self) -> bytes:
        data: bytes = self._stream.read(self._block_bytes)
        return data

    def _first_block(self) -> bytes:
        data = self._read()
        # Signatures need a few bytes; a stream may hand them over in smaller reads.
        while data and len(data) < 4:
            more = self._read()
            if not more:
                break
            data += more
        if data.startswith(_UTF8_BOM):
            self.encoding = "utf-8-sig"
            self.bytes_read += len(_UTF8_BOM)
            data = data[len(_UTF8_BOM) :]
        else:
            for signature, what in _BINARY_SIGNATURES:
                if data.startswith(signature):
                    raise DecodeProblem("binary-file", 1, f"this is not a CSV file: {what}")
            if self._chosen == "windows-1251":
                self._use_windows_1251(1)
        return data

    def _use_windows_1251(self, line: int) -> None:
        self.encoding = "windows-1251"
        self.transcoded_at_line = line
        self._decoder = codecs.getincrementaldecoder("cp1251")()

    def __iter__(self) -> Iterator[str]:
        raw = self._first_block()
        while raw:
            more = self._read()
            # Whole lines when more follows: the bytes after the last LF wait for the next
            # block, so that the reader never has to glue a line's halves together as text
            # (two copies of every block, at two bytes a character once a Cyrillic letter is
            # in it). An LF byte is never part of a character, in UTF-8 or Windows-1251.
            cut = raw.rfind(b"\n") + 1 if more else 0
            if 0 < cut < len(raw):
                raw, more = raw[:cut], raw[cut:] + more
            text = self._decode(raw)
            self.bytes_read += len(raw)
            self._newlines_before += raw.count(b"\n")
            if self._progress is not None:
                self._progress(self.bytes_read)
            text = self._normalize_line_ends(text)
            if text:
                yield text
            raw = more
        tail = self._finish()
        if tail:
            yield tail

    def _where(self, raw: bytes, index: int) -> tuple[int, int]:
        """(line, byte offset) of `raw[index]`, both as a person counts them in an editor."""
        index = max(index, 0)
        line = self._newlines_before + raw.count(b"\n", 0, index) + 1
        return line, self.bytes_read + index

    def _decode(self, raw: bytes) -> str:
        nul = raw.find(b"\x00")
        if nul >= 0:
            line, offset = self._where(raw, nul)
            raise DecodeProblem(
                "binary-file",
                line,
                f"NUL byte at line {line}, byte offset {offset}: a binary file or UTF-16 text, "
                "not a UTF-8 CSV",
            )
        if self.encoding == "windows-1251":
            self._check_cp1251_text(raw)
        buffered = len(self._decoder.getstate()[0])
        try:
            text: str = self._decoder.decode(raw)
        except UnicodeDecodeError as exc:
            text = self._recover(raw, exc.start - buffered)
        if self._ascii_so_far and not raw.isascii():
            self._ascii_so_far = False
        return text

    def _check_cp1251_text(self, raw: bytes) -> None:
        bad = _cp1251_text_error(raw)
        if bad >= 0:
            line, offset = self._where(raw, bad)
            raise DecodeProblem(
                "bad-encoding",
                line,
                f"neither UTF-8 nor Windows-1251 text at line {line}, byte offset {offset} "
                "(a control character): save the file as UTF-8",
            )

    def _recover(self, raw: bytes, bad: int) -> str:
        """UTF-8 failed at `raw[bad]`: switch to Windows-1251 if that is safe, else reject."""
        line, offset = self._where(raw, bad)
        switchable = (
            self.encoding == "utf-8"
            and self._chosen == "auto"
            and self._ascii_so_far
            and bad >= 0
            and raw[:bad].isascii()
        )
        if not switchable:
            hint = (
                "the encoding setting says UTF-8"
                if self._chosen == "utf-8"
                else "save the file as UTF-8"
            )
            raise DecodeProblem(
                "bad-encoding", line, f"not UTF-8 at line {line}, byte offset {offset}: {hint}"
            )
        self._check_cp1251_text(raw)
        self._use_windows_1251(line)
        try:
            return self._decoder.decode(raw)
        except UnicodeDecodeError as exc:  # 0x98 is undefined in cp1251
            line, offset = self._where(raw, exc.start)
            raise DecodeProblem(
                "bad-encoding",
                line,
                f"neither UTF-8 nor Windows-1251 at line {line}, byte offset {offset}",
            ) from None

    def _finish(self) -> str:
        try:
            tail: str = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            line = self._newlines_before + 1
            raise DecodeProblem(
                "bad-encoding",
                line,
                f"the file ends inside a UTF-8 character (byte offset {self.bytes_read}): "
                "it was cut short",
            ) from None
        text = self._normalize_line_ends(tail)
        if self._held_cr:
            self._held_cr = False
            text += "\n"
        return text

    def _normalize_line_ends(self, text: str) -> str:
        if self._held_cr:
            text = "\r" + text
            self._held_cr = False
        if "\r" not in text:
            return text
        if text.endswith("\r"):
            # It may be the first half of a CRLF split across blocks.
            self._held_cr = True
            text = text[:-1]
        return text.replace("\r\n", "\n").replace("\r", "\n")
