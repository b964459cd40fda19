"""ReadAhead and WriteBehind: the same bytes in the same order, failures where the caller is,
nothing committed after a failed write, threads gone after close."""

from __future__ import annotations

import io
import threading

import pytest

from metrika_offline.store.streams import ReadAhead, WriteBehind


class _Source(io.BytesIO):
    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        super().__init__(data)
        self.fail_after = fail_after
        self.was_closed = False

    def read(self, size: int | None = -1, /) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise OSError("connection reset")
        return super().read(size)

    def close(self) -> None:
        self.was_closed = True
        super().close()


class _Target:
    def __init__(self, fail_at: int | None = None) -> None:
        self.data = bytearray()
        self.closed = False
        self.aborted = False
        self.fail_at = fail_at

    def write(self, data: bytes, /) -> int:
        if self.fail_at is not None and len(self.data) >= self.fail_at:
            raise OSError("upload failed")
        self.data += data
        return len(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


DATA = bytes(range(256)) * 4_000


@pytest.mark.parametrize(
    ("block", "size", "length"),
    [(1, 7, 3_000), (100, 4096, 100_000), (4096, 100, 100_000), (1 << 20, 1 << 18, len(DATA))],
)
def test_read_ahead_gives_the_same_bytes(block: int, size: int, length: int) -> None:
    data = DATA[:length]
    source = _Source(data)
    reader = ReadAhead(source, block_bytes=block, depth=3)
    got = bytearray()
    while chunk := reader.read(size):
        assert len(chunk) <= size
        got += chunk
    assert reader.read(size) == b""
    reader.close()
    assert bytes(got) == data
    assert source.was_closed


def test_read_ahead_whole_read_and_early_close() -> None:
    assert ReadAhead(_Source(DATA), block_bytes=1000).read() == DATA
    before = threading.active_count()
    reader = ReadAhead(_Source(DATA), block_bytes=10, depth=2)
    assert reader.read(5) == DATA[:5]
    reader.close()  # the thread, blocked on a full queue, must end
    assert threading.active_count() <= before
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)


def test_a_failed_read_raises_in_the_reader() -> None:
    reader = ReadAhead(_Source(DATA, fail_after=5_000), block_bytes=1_000)
    assert reader.read(5_000) == DATA[:5_000]
    with pytest.raises(OSError, match="connection reset"):
        reader.read(1_000)
    reader.close()


def test_write_behind_writes_in_order_and_commits_on_close() -> None:
    target = _Target()
    writer = WriteBehind(target, depth=2)
    for start in range(0, len(DATA), 3_333):
        writer.write(DATA[start : start + 3_333])
    assert not target.closed
    writer.close()
    assert target.closed
    assert bytes(target.data) == DATA
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"x")


def test_a_failed_write_raises_in_the_writer_and_commits_nothing() -> None:
    target = _Target(fail_at=10)
    writer = WriteBehind(target, depth=1)

    def write_all() -> None:
        for _ in range(1_000):
            writer.write(b"0123456789")
        writer.close()

    with pytest.raises(OSError, match="upload failed"):  # at a later write, or at close
        write_all()
    with pytest.raises(OSError, match="upload failed"):
        writer.close()  # whatever came first, closing after a failure commits nothing
    assert not target.closed
    assert target.aborted
