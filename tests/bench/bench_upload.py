"""Memory and speed of uploading one full-size part to the fake Metrica.

The fake runs in its own process, so the figures are the client's alone. Memory is this
process's peak resident set while the upload runs, minus its resident set just before (after a
small warm-up upload, so imports and the connection pool are already paid for). Speed is
compared with reading the same file from disk in the same run. For contrast, a smaller part is
also sent the way most uploaders do it (`requests`' `files=`, which builds the body in memory).

Run with `make bench` (or `python -m tests.bench.bench_upload`). The part is generated once
under `.bench/` and reused.
"""

from __future__ import annotations

import gc
import io
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.metrika.retry import RetryPolicy
from metrika_offline.metrika.transport import Timeouts
from metrika_offline.types import DEFAULT_MAX_PART_BYTES, ConversionType
from tests.fakes.metrika import FAKE_TOKEN

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
HEADER = b"ClientId,Target,DateTime,Price,Currency\n"
COUNTER = 51234567
TARGET_ADDED_MB = 50
CONTRAST_BYTES = 100 * 1024 * 1024
MB = 1024 * 1024


def generate_part(path: Path, size: int) -> int:
    """A valid BASIC file of at most `size` bytes; returns its row count. Reused if present."""
    rows_path = path.with_suffix(".rows")
    if path.exists() and rows_path.exists() and path.stat().st_size <= size:
        expected = int(rows_path.read_text())
        if path.stat().st_size > size - 64 * 1024:
            return expected
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    written = len(HEADER)
    with path.open("wb") as out:
        out.write(HEADER)
        client_id = 133591247640966458
        while True:
            block = io.BytesIO()
            for _ in range(2000):
                client_id += 1
                block.write(b"%d,purchase,%d,1500.00,RUB\n" % (client_id, 1_700_000_000 + rows))
                rows += 1
            data = block.getvalue()
            if written + len(data) > size:
                rows -= 2000
                break
            out.write(data)
            written += len(data)
    rows_path.write_text(str(rows))
    return rows


@contextmanager
def fake_server() -> Iterator[tuple[str, psutil.Process]]:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.metrika", "--port", "0", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if "listening on" not in line:
                raise RuntimeError(f"the fake did not start: {line!r}")
            yield line.rsplit(" ", 1)[-1].strip(), psutil.Process(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)


class PeakRss:
    """Samples a process's resident set in a thread; `peak` is the largest seen."""

    def __init__(self, process: psutil.Process, interval_s: float = 0.01) -> None:
        self.process = process
        self.interval_s = interval_s
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def measure(
    action: Callable[[], object], fake: psutil.Process
) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """(seconds, (RSS before, peak RSS during), the same for the fake's process).

    Sampling can miss a short spike; the kernel's own high-water mark cannot. When the action
    raised this process's lifetime peak, that peak is exact and is used.
    """
    gc.collect()
    me = psutil.Process(os.getpid())
    before, fake_before = me.memory_info().rss, fake.memory_info().rss
    high_water = _max_rss()
    with PeakRss(me) as mine, PeakRss(fake) as theirs:
        started = time.perf_counter()
        action()
        elapsed = time.perf_counter() - started
    peak = mine.peak
    if _max_rss() > high_water:
        peak = max(peak, _max_rss())
    return elapsed, (before, peak), (fake_before, theirs.peak)


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts in KiB


def read_through(path: Path) -> None:
    with path.open("rb") as stream:
        while stream.read(MB):
            pass


def main() -> None:
    part = BENCH_DIR / "upload-part.csv"
    rows = generate_part(part, DEFAULT_MAX_PART_BYTES)
    size = part.stat().st_size
    read_through(part)  # warm the page cache so every timing reads from memory
    with fake_server() as (url, fake):
        client = MetrikaClient(
            FAKE_TOKEN,
            base_url=url,
            timeouts=Timeouts(connect_s=10, read_s=900),
            retry=RetryPolicy(max_attempts=1),
        )
        marker = make_marker("bench", str(part), 1, 0)

        def send(path: Path, data_size: int) -> None:
            uploading = client.upload(
                COUNTER,
                ConversionType.BASIC,
                make_comment("bench", marker),
                lambda: path.open("rb"),
                data_size,
            )
            if path == part and uploading.source_quantity != rows:
                raise RuntimeError(f"the fake counted {uploading.source_quantity} rows")

        small = BENCH_DIR / "upload-small.csv"
        generate_part(small, CONTRAST_BYTES)
        send(small, small.stat().st_size)  # warm-up: imports, pool, encoder paths
        elapsed, (before, peak), (fake_base, fake_peak) = measure(lambda: send(part, size), fake)

        headers = {"Authorization": f"OAuth {FAKE_TOKEN}"}
        upload_url = f"{url}/management/v1/counter/{COUNTER}/offline_conversions/upload"

        def buffered() -> None:
            with small.open("rb") as stream:
                response = requests.post(
                    upload_url,
                    params={"type": "BASIC"},
                    files={"file": ("small.csv", stream)},
                    headers=headers,
                    timeout=(10, 900),
                )
            response.raise_for_status()

        _, (buffered_before, buffered_peak), _ = measure(buffered, fake)

        def raw() -> None:
            # The same bytes as a plain streamed body: the fake reads it all, then refuses it.
            with part.open("rb") as stream:
                requests.post(
                    upload_url,
                    data=stream,
                    headers={**headers, "Content-Type": "text/csv"},
                    timeout=(10, 900),
                )

        raw_s = min(timed(raw) for _ in range(2))
        client.close()

    added = (peak - before) / MB
    print(f"part: {size / 1e9:.2f} GB, {rows:,} rows ({part.relative_to(ROOT)})")
    print(
        f"streamed upload: peak RSS +{added:.2f} MB over {before / MB:.0f} MB before "
        f"(target < {TARGET_ADDED_MB} MB: {'met' if added < TARGET_ADDED_MB else 'MISSED'}); "
        f"{(peak - before) / size * 100:.2f}% of the part"
    )
    print(f"fake server (own process): peak RSS +{(fake_peak - fake_base) / MB:.1f} MB")
    print(
        f"throughput: {size / MB / elapsed:.0f} MB/s; {elapsed / raw_s:.2f}x the time of "
        "sending the same bytes as a plain body (no multipart, no parsing by the fake)"
    )
    buffered_added = (buffered_peak - buffered_before) / MB
    print(
        f"contrast, requests' files= with a {CONTRAST_BYTES / MB:.0f} MB part: "
        f"peak RSS +{buffered_added:.0f} MB = {buffered_added * MB / CONTRAST_BYTES:.1f}x the part"
    )


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
