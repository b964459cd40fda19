"""A push parser for multipart/form-data: memory bounded whatever the parts' sizes."""

from __future__ import annotations

import email.message
import email.parser
from collections.abc import Callable, Mapping

_MAX_PART_HEADERS = 16 * 1024


class MultipartError(ValueError):
    """The body is not the multipart/form-data it claims to be."""


class PartSink:
    """What the parser feeds. Subclasses keep what they need, never the bytes."""

    def begin(self, headers: Mapping[str, str]) -> None: ...

    def data(self, chunk: bytes) -> None: ...

    def end(self) -> None: ...


class MultipartStream:
    """Feed it the body in chunks of any size; it calls the sink part by part."""

    def __init__(self, boundary: bytes, sink: PartSink) -> None:
        if not boundary or len(boundary) > 200:
            raise MultipartError("bad multipart boundary")
        self._delimiter = b"--" + boundary
        self._part_end = b"\r\n" + self._delimiter
        self._sink = sink
        self._buffer = bytearray()
        self._state = "preamble"

    def feed(self, chunk: bytes) -> None:
        if self._state == "done":
            return  # the epilogue is ignored
        self._buffer += chunk
        while self._step():
            pass

    def close(self) -> None:
        if self._state != "done":
            raise MultipartError("the body ended before the closing boundary")

    def _step(self) -> bool:
        """Advance by one state; False when more bytes are needed."""
        step: Callable[[bytearray], bool] = getattr(self, f"_step_{self._state}")
        return step(self._buffer)

    def _step_preamble(self, buffer: bytearray) -> bool:
        found = buffer.find(self._delimiter)
        if found < 0:
            del buffer[: max(0, len(buffer) - len(self._delimiter))]
            return False
        del buffer[: found + len(self._delimiter)]
        self._state = "after_delimiter"
        return True

    def _step_after_delimiter(self, buffer: bytearray) -> bool:
        if len(buffer) < 2:
            return False
        if buffer[:2] == b"--":
            self._state = "done"
            buffer.clear()
            return False
        if buffer[:2] != b"\r\n":
            raise MultipartError("a boundary line does not end with CRLF")
        del buffer[:2]
        self._state = "headers"
        return True

    def _step_headers(self, buffer: bytearray) -> bool:
        found = buffer.find(b"\r\n\r\n")
        if found < 0:
            if len(buffer) > _MAX_PART_HEADERS:
                raise MultipartError("part headers too long")
            return False
        text = bytes(buffer[:found]).decode("utf-8", "replace")
        del buffer[: found + 4]
        message = email.parser.HeaderParser().parsestr(text + "\r\n\r\n")
        self._sink.begin({key.lower(): value for key, value in message.items()})
        self._state = "data"
        return True

    def _step_data(self, buffer: bytearray) -> bool:
        # Everything up to CRLF + delimiter belongs to the part; keep a tail that could be
        # the start of a delimiter split across two chunks.
        found = buffer.find(self._part_end)
        if found >= 0:
            if found:
                self._sink.data(bytes(buffer[:found]))
            del buffer[: found + len(self._part_end)]
            self._sink.end()
            self._state = "after_delimiter"
            return True
        keep = len(self._part_end) - 1
        if len(buffer) > keep:
            self._sink.data(bytes(buffer[:-keep]))
            del buffer[:-keep]
        return False


def content_disposition(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(name, filename) of a form-data part."""
    message = email.message.Message()
    message["content-disposition"] = headers.get("content-disposition", "")
    name = message.get_param("name", header="content-disposition")
    return (name if isinstance(name, str) else None), message.get_filename()


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a multipart/form-data body; None for any other content type."""
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    return boundary.encode("latin-1") if isinstance(boundary, str) and boundary else None
