"""The rejected rows, as a CSV a person can fix and drop again.

Columns: `line` (where the row starts in the source), `errors` (its error codes, space
separated), then the source's own header and cells as they were read, unrepaired. Opened at
the first rejected row only, so a clean file leaves nothing behind.

Written as the source was delimited (a Russian Excel's `;` stays `;`) and in UTF-8 with a
byte order mark, which is how Excel knows it is UTF-8: opened in Excel, it falls into columns
with Cyrillic intact. Fixed and saved, it can be dropped again as it is: the checker skips the
BOM and drops the `line` and `errors` columns as unknown.

Opened in a spreadsheet, a cell cannot start a formula: one that would (`=`, `@`, a tab or a
carriage return first, or `+`/`-` before something that is not a number) is written with a
leading `'` (check.formulas). That `'` stays in the cell if the file is dropped again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence

from metrika_offline.check.formulas import defused
from metrika_offline.check.splitter import PartWriter

_FLUSH_CHARS = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"


class RejectsWriter:
    """Buffers rejected rows and writes them out in blocks."""

    def __init__(
        self, open_writer: Callable[[], PartWriter], header: Sequence[str], delimiter: str = ","
    ) -> None:
        self._open_writer = open_writer
        self._header = ["line", "errors", *defused(header)]
        self._writer: PartWriter | None = None
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, delimiter=delimiter, lineterminator="\r\n")
        self.rows = 0

    def add(self, line: int, codes: Sequence[str], cells: Sequence[str]) -> None:
        if self._writer is None:
            self._writer = self._open_writer()
            self._writer.write(UTF8_BOM)
            self._csv.writerow(self._header)
        self._csv.writerow([str(line), " ".join(dict.fromkeys(codes)), *defused(cells)])
        self.rows += 1
        if self._buffer.tell() > _FLUSH_CHARS:
            self._flush()

    def _flush(self) -> None:
        assert self._writer is not None
        self._writer.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()

    def close(self) -> None:
        if self._writer is None:
            return
        self._flush()
        self._writer.close()
        self._writer = None
