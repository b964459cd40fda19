"""End-to-end on the local stack: throughput as a ratio to a plain copy of the same bytes
through the same emulator, and the function process's peak RSS for a 200 MB and a 2 GB input.

The baseline is measured in the same run on the same stack: the real client downloads the
source and uploads it again as a new object (a copy). The pipeline reads the source, writes
the parts, and reads every part again to send it to Metrica, so it moves about three times the
bytes of a copy; the ratio says how close to that floor it gets. Peak RSS is the kernel's
high-water mark (VmHWM) of the process serving the function.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from tests.fakes.function import FunctionServer
from tests.fakes.gcs import LocalGcs
from tests.fakes.gcs_events import RetryPolicy
from tests.fakes.gcs_fixtures import make_client
from tests.fakes.metrika import FAKE_TOKEN

BUCKET = "bench"
MB = 1024 * 1024
SIZES_MB = (60, 200)  # BENCH_E2E_SIZES_MB=60,200,2048 for a 2 GB run too
QUOTED_EVERY = int(os.environ.get("BENCH_E2E_QUOTED_EVERY", "1"))
DAY = 86_400


def write_calls_csv(path: Path, size_mb: int) -> int:
    """A CALLS file of about `size_mb` MB with recent dates; returns its row count."""
    now = int(time.time())
    header = "ClientId,DateTime,PhoneNumber,TalkDuration,Tag,URL\n"
    # A Tag with a comma in every row (QUOTED_EVERY=1), as many CRM exports have: every row
    # holds one quoted field.
    tags = ['"site, form"' if i % QUOTED_EVERY == 0 else f"tag {i % 7}" for i in range(10_000)]
    block = [
        f"1BBBBBB{i:011d},{now - DAY - (i * 37) % (5 * DAY)},+7912{i:07d},"
        f"{i % 600},{tags[i]},https://example.com/p/{i}\n"
        for i in range(10_000)
    ]
    template = "".join(block).encode()
    rows = 0
    with path.open("wb") as out:
        out.write(header.encode())
        number = 0
        while out.tell() < size_mb * MB:
            # Every block gets its own ClientIds, so no row is a duplicate of another.
            out.write(template.replace(b"BBBBBB", b"%06d" % number))
            number += 1
            rows += len(block)
    return rows


@contextlib.contextmanager
def fake_metrika() -> Iterator[str]:
    """The fake Metrica in a process of its own, as the real one is elsewhere: its parsing
    must not compete for this process's GIL with the storage tap serving the function."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.metrika", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak_rss_mb(server: FunctionServer) -> float:
    """The largest VmHWM among the function server's processes (gunicorn master + worker)."""
    assert server.process is not None
    root = psutil.Process(server.process.pid)
    peaks = []
    for proc in [root, *root.children(recursive=True)]:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def run_one(size_mb: int, workdir: Path) -> dict[str, float]:
    source = workdir / f"calls-{size_mb}.csv"
    rows = write_calls_csv(source, size_mb)
    size = source.stat().st_size
    data_dir = workdir / "emulator"
    data_dir.mkdir(exist_ok=True)
    retry = RetryPolicy(max_attempts=10, initial_s=0.5, max_delay_s=5.0)
    with LocalGcs(buckets=[BUCKET], retry=retry, data_dir=data_dir) as gcs, fake_metrika() as url:
        client = make_client(gcs.url)
        bucket = client.bucket(BUCKET)
        bucket.blob("baseline/source.csv").upload_from_filename(str(source))
        copy_path = workdir / "copy.csv"
        started = time.perf_counter()
        bucket.blob("baseline/source.csv").download_to_filename(str(copy_path))
        bucket.blob("baseline/copy.csv").upload_from_filename(str(copy_path))
        copy_s = time.perf_counter() - started
        copy_path.unlink()

        env = {
            "STORAGE_EMULATOR_HOST": gcs.url,
            "METRIKA_API_URL": url,
            "METRIKA_TOKEN": FAKE_TOKEN,
            "DEFAULT_COUNTER_ID": "51234567",
            "INVOCATION_TIMEOUT_S": "3600",
            "LEASE_S": "4000",  # a lease outlasts the invocation, or the function refuses
            # As deployed (max_instance_request_concurrency = 1): one event at a time, so
            # the peak is one invocation's, not three part uploads' side by side.
            "THREADS": "1",
        }
        with FunctionServer(env, log_path=workdir / "function.log") as server:
            # Time the pipeline, not the user's upload: its event goes out once it is done.
            bucket.blob("incoming/calls/big.csv").upload_from_filename(str(source))
            dropped = bucket.get_blob("incoming/calls/big.csv")
            assert dropped is not None
            gcs.events.add_subscriber(server.url)
            started = time.perf_counter()
            gcs.events.finalized(dropped._properties)
            if not gcs.events.wait_idle(3600):
                raise RuntimeError("the pipeline did not finish")
            pipeline_s = time.perf_counter() - started
            rss = peak_rss_mb(server)
        result = json.loads(bucket.blob("incoming/calls/big.csv.result.json").download_as_bytes())
        client.close()
    if result["status"] != "uploaded" or result["rows"]["valid"] != rows:
        raise RuntimeError(f"unexpected result: {result['status']} {result['rows']}")
    return {
        "size_mb": size / MB,
        "parts": len(result["parts"]),
        "copy_mb_s": size / MB / copy_s,
        "pipeline_mb_s": size / MB / pipeline_s,
        "ratio": copy_s / pipeline_s,
        "peak_rss_mb": rss,
    }


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_E2E_SIZES_MB", "").split(",") if s] or list(
        SIZES_MB
    )
    Path(".bench").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="e2e-", dir=".bench")).resolve()
    try:
        for size_mb in sizes:
            figures = run_one(size_mb, workdir)
            print(
                f"{figures['size_mb']:.0f} MB CALLS, {figures['parts']:.0f} part(s): pipeline "
                f"{figures['pipeline_mb_s']:.1f} MB/s vs plain copy {figures['copy_mb_s']:.1f} "
                f"MB/s = {figures['ratio']:.2f}x; function peak RSS "
                f"{figures['peak_rss_mb']:.0f} MB",
                flush=True,
            )
            shutil.rmtree(workdir / "emulator", ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
