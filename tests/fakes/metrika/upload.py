"""`POST upload`: the body streamed through the multipart parser into a `CsvInspector` (a 1 GB
part is never held), checked as Metrica checks it, then kept.

Refused (400) as Metrica refuses them: a bad `type`, a comment it does not take, a body that is
not multipart, no `file` part, a file over `max_file_bytes`, an empty file, bytes that are not
UTF-8, a header without the columns its type requires, a counter not ready yet. A UTF-8 byte
order mark is accepted (and journaled, `bom`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from tests.fakes.metrika.csvfile import CsvInspector
from tests.fakes.metrika.journal import JournalEntry
from tests.fakes.metrika.multipart import (
    MultipartError,
    MultipartStream,
    PartSink,
    boundary_of,
    content_disposition,
)
from tests.fakes.metrika.rules import (
    BAD_DATA_MESSAGE,
    BAD_MULTIPART_MESSAGE,
    EMPTY_FILE_MESSAGE,
    IGNORE_THRESHOLD,
    MISSING_PART_MESSAGE,
    TYPES,
    WRONG_PARAMETER_MESSAGE,
    check_columns,
    comment_problem,
    header_columns,
)
from tests.fakes.metrika.server import Answer, Incoming, ok, refusal
from tests.fakes.metrika.state import State


class _FileSink(PartSink):
    """Feeds the `file` part to a CsvInspector; other parts are read and dropped."""

    def __init__(self, max_bytes: int) -> None:
        self.inspector: CsvInspector | None = None
        self.filename: str | None = None
        self._max_bytes = max_bytes
        self._current: CsvInspector | None = None

    def begin(self, headers: Mapping[str, str]) -> None:
        name, filename = content_disposition(headers)
        self._current = None
        if name == "file" and self.inspector is None:
            self.inspector = self._current = CsvInspector(self._max_bytes)
            self.filename = filename

    def data(self, chunk: bytes) -> None:
        if self._current is not None:
            self._current.feed(chunk)

    def end(self) -> None:
        if self._current is not None:
            self._current.finish()
        self._current = None


def upload(state: State, incoming: Incoming) -> Answer:
    sink = _FileSink(state.max_file_bytes)
    inspector, broken = _read(incoming, sink)
    if inspector is not None:
        columns, bom = header_columns(inspector.header_line or b"")
        incoming.entry = replace(
            incoming.entry,
            filename=sink.filename,
            bytes=inspector.bytes,
            rows=inspector.rows,
            columns=tuple(columns),
            bom=bom,
        )
    request = incoming.entry
    problem = _problem(request, broken, inspector)
    if problem is not None:
        return refusal(400, *problem)
    assert inspector is not None
    kind = request.type or "BASIC"
    ignored = incoming.query.get(IGNORE_THRESHOLD.get(kind, ""), "") == "1"
    counter_id = request.counter_id or 0
    not_ready = state.readiness.refusal(counter_id, kind, ignored)
    if not_ready is not None:
        return refusal(400, "invalid_parameter", not_ready)
    uploading_id = state.uploads.accept(
        counter_id=counter_id,
        type=kind,
        comment=request.comment or "",
        bytes=inspector.bytes,
        rows=inspector.rows,
    )
    incoming.entry = replace(request, uploading_id=uploading_id)
    return ok({"uploading": state.uploads.uploading(uploading_id)})


def _read(incoming: Incoming, sink: _FileSink) -> tuple[CsvInspector | None, bool]:
    """Stream the whole body through the parser: (the file's inspector, whether the body
    was not the multipart it should be). The body is read to its end either way."""
    boundary = boundary_of(incoming.headers.get("Content-Type", ""))
    parser = None if boundary is None else MultipartStream(boundary, sink)
    for chunk in incoming.body.chunks():
        if parser is not None:
            try:
                parser.feed(chunk)
            except MultipartError:
                parser = None
    if parser is not None:
        try:
            parser.close()
        except MultipartError:
            parser = None
    return sink.inspector, parser is None


def _problem(
    request: JournalEntry, broken: bool, inspector: CsvInspector | None
) -> tuple[str, str] | None:
    """(error_type, message) for the first thing Metrica would refuse, or None."""
    if request.type not in TYPES:
        return "invalid_parameter", WRONG_PARAMETER_MESSAGE
    problem = None if request.comment is None else comment_problem(request.comment)
    if problem:
        return "invalid_parameter", problem
    if broken:
        return "invalid_parameter", BAD_MULTIPART_MESSAGE
    if inspector is None:
        return "missing_parameter", MISSING_PART_MESSAGE
    if inspector.too_large:
        return "limit_exceeded", "the file is larger than the limit"
    if inspector.bytes == 0 or inspector.rows == 0:
        return "invalid_uploading", EMPTY_FILE_MESSAGE
    if inspector.utf8_error_line is not None:
        line = inspector.utf8_error_line
        return "invalid_uploading", BAD_DATA_MESSAGE.format(line=line) + ": not UTF-8"
    problem = check_columns(request.type or "BASIC", request.columns)
    if problem:
        return "invalid_uploading", problem
    return None
