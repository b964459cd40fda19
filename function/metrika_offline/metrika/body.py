"""The upload body: multipart built on the fly from a stream of known size, never held whole.

A fresh body is built for every attempt, from a fresh (or rewound) stream; the body counts
what it handed to the socket, so a failure can tell "nothing went out" from "it may have
arrived".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from requests_toolbelt.multipart.encoder import MultipartEncoder

__all__ = ["CountingBody", "PartOpener", "PartSource", "multipart_body", "part_opener"]

#: What `upload` accepts as a part: a factory of fresh streams, or a seekable stream.
PartSource = Callable[[], BinaryIO] | BinaryIO
#: Opens the part's stream for one attempt.
PartOpener = Callable[[], contextlib.AbstractContextManager[BinaryIO]]


class _SizedReader:
    """Exactly `size` bytes of a stream, with the `len` the multipart encoder sizes parts by.

    The encoder loops while `len` is positive, so a stream that ends early must raise here
    rather than return nothing; one that holds more than declared must not be cut silently.
    """

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._left = size

    @property
    def len(self) -> int:
        return self._left

    def read(self, amount: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if amount is None or amount < 0 else min(amount, self._left)
        data = self._stream.read(want)
        if not data:
            raise ValueError(f"the part ended {self._left} bytes before its declared size")
        self._left -= len(data)
        if self._left == 0 and self._stream.read(1):
            raise ValueError("the part holds more bytes than its declared size")
        return data


class CountingBody:
    """The request body; remembers how much of it was handed to the socket."""

    def __init__(self, encoder: MultipartEncoder) -> None:
        self._encoder = encoder
        self.len: int = encoder.len
        self.content_type: str = encoder.content_type
        self.sent = 0

    def read(self, amount: int = -1) -> bytes:
        data: bytes = self._encoder.read(amount)
        self.sent += len(data)
        return data


def multipart_body(stream: BinaryIO, size: int, filename: str) -> CountingBody:
    """One `file` field holding exactly `size` bytes of `stream`, as Metrica expects."""
    encoder = MultipartEncoder(fields={"file": (filename, _SizedReader(stream, size), "text/csv")})
    return CountingBody(encoder)


def part_opener(part: PartSource) -> PartOpener:
    """A fresh stream per attempt: from the factory, or the stream rewound to its start."""
    if callable(part):
        factory = part

        @contextlib.contextmanager
        def fresh() -> Iterator[BinaryIO]:
            # Only `read` and `close` are asked of the stream (an object store reader need not
            # be a context manager).
            stream = factory()
            try:
                yield stream
            finally:
                stream.close()

        return fresh
    stream = part
    if not stream.seekable():
        raise TypeError("pass a factory or a seekable stream: every attempt reads the part anew")
    start = stream.tell()

    @contextlib.contextmanager
    def rewound() -> Iterator[BinaryIO]:
        stream.seek(start)
        yield stream

    return rewound
