"""Streams that move bytes on a thread of their own, so the network and the checking overlap.

`ReadAhead` keeps reading the next blocks of a source while its reader works on the last one;
`WriteBehind` sends what was written while its writer goes on producing. Both hold at most a
fixed number of bytes in flight (flat memory whatever the object's size), and both hand a
failure of their thread to the caller at its next call, as if the call had failed itself.
Python threads share one interpreter lock, but a thread waiting on a socket does not hold it:
on one vCPU this overlaps the waits, not the work.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Final

from metrika_offline.store.base import Reader, Writer

#: Bytes asked of the source in one read on the read-ahead thread.
READ_BLOCK_BYTES: Final = 1 << 20
#: Blocks read ahead (or written behind) at most.
DEPTH: Final = 8
#: How long closing a read-ahead waits for a read under way.
CLOSE_WAIT_S: Final = 10.0


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead:
    """A readable stream over `source` that reads up to `depth` blocks ahead on a thread.

    `close()` stops the thread and closes the source."""

    def __init__(
        self, source: Reader, *, block_bytes: int = READ_BLOCK_BYTES, depth: int = DEPTH
    ) -> None:
        self._source = source
        self._block_bytes = block_bytes
        self._blocks: queue.Queue[bytes | _Failure] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._buffer = b""
        self._ended = False
        self.closed = False
        self._thread = threading.Thread(target=self._run, name="read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                block = self._source.read(self._block_bytes)
                self._put(block)
                if not block:
                    return
        except BaseException as exc:  # handed to the reader, raised there
            self._put(_Failure(exc))

    def _put(self, item: bytes | _Failure) -> None:
        while not self._stop.is_set():
            try:
                self._blocks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _next_block(self) -> bytes:
        item = self._blocks.get()
        if isinstance(item, _Failure):
            self._ended = True
            raise item.error
        if not item:
            self._ended = True
        return item

    def read(self, size: int = -1, /) -> bytes:
        if self.closed:
            raise ValueError("read from a closed stream")
        if size is None or size < 0:
            parts = [self._buffer]
            while not self._ended:
                parts.append(self._next_block())
            self._buffer = b""
            return b"".join(parts)
        while len(self._buffer) < size and not self._ended:
            block = self._next_block()
            self._buffer = self._buffer + block if self._buffer else block
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        while True:  # free a thread blocked on a full queue
            try:
                self._blocks.get_nowait()
            except queue.Empty:
                break
        # A read under way finishes first (each has its own timeout); a hung one is left to
        # its daemon thread rather than hold up the invocation's hand-over.
        self._thread.join(timeout=CLOSE_WAIT_S)
        self._buffer = b""
        self._source.close()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WriteBehind:
    """A writable stream that hands each write to `target` on a thread, `depth` writes at
    most waiting. `close()` waits for them, then closes `target` (which commits it)."""

    def __init__(self, target: Writer, *, depth: int = DEPTH) -> None:
        self._target = target
        self._pending: queue.Queue[bytes] = queue.Queue(maxsize=depth)
        self._failure: BaseException | None = None
        self._closed = False
        self._target_closed = False
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._pending.get()
            if not data:  # the end
                return
            if self._failure is not None:
                continue  # drain: the writer learns of the failure at its next call
            try:
                self._target.write(data)
            except BaseException as exc:
                self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def write(self, data: bytes, /) -> int:
        if self._closed:
            raise ValueError("write to a closed stream")
        self._raise_failure()
        if data:
            self._pending.put(bytes(data))
        return len(data)

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.put(b"")
            self._thread.join()
        elif self._target_closed:
            return
        if self._failure is not None:
            abort = getattr(self._target, "abort", None)
            if abort is not None:  # a streamed upload: commit nothing
                abort()
            raise self._failure
        self._target_closed = True
        self._target.close()


class CountingReader:
    """A stream that says how many bytes of it were read so far (`on_read`, from 0): a part's
    progress while it is sent."""

    def __init__(self, stream: Reader, on_read: Callable[[int], None]) -> None:
        self._stream = stream
        self._on_read = on_read
        self._done = 0
        on_read(0)

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._done += len(data)
        self._on_read(self._done)
        return data

    def close(self) -> None:
        self._stream.close()
