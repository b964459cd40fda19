"""End-to-end on the local stack: throughput as a ratio to a plain copy of the same bytes
through the same emulator, and the function process's peak RSS, for a 60 MB and a 200 MB input
(BENCH_E2E_SIZES_MB).

The baseline is measured in the same run on the same stack, just before each pipeline run
(BENCH_E2E_PAIRS pairs, median ratio): the real client downloads the source and uploads it
again as a new object (a copy). The pipeline reads the source, writes
the parts, and reads every part again to send it to Metrica, so it moves about three times the
bytes of a copy; the ratio says how close to that floor it gets. Peak RSS is the kernel's
high-water mark (VmHWM) of the process serving the function, after its first file and after
all of them: every run after the first reads the earlier runs' keys from the ledger (8 bytes a
row sent), so the second figure holds those too, and the ledger's keys read by the last run
are printed beside it. The function runs on one CPU (every thread pinned to the machine's last
one), as deployed with one vCPU; the emulator and the fake Metrica run on the others. The
source's own invocation (check, split, write the parts) is timed too: it says how large a file
one invocation can check.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
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
#: Copies and pipeline runs, in turn: the machine's speed drifts, a pair's ratio less so.
PAIRS = int(os.environ.get("BENCH_E2E_PAIRS", "3"))
#: The function on one CPU, as deployed (BENCH_E2E_ONE_CPU=0: on every CPU, as measured before).
ONE_CPU = os.environ.get("BENCH_E2E_ONE_CPU", "1") != "0"
DAY = 86_400


def write_calls_csv(path: Path, size_mb: int, first_block: int = 0) -> int:
    """A CALLS file of about `size_mb` MB with recent dates; returns its row count. Files
    written with different `first_block`s share no row (ClientIds differ)."""
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
        number = first_block
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


def pin_to_one_cpu(server: FunctionServer) -> int | None:
    """Every thread of the function's processes onto the machine's last CPU, as deployed (one
    vCPU); the emulator, the fake Metrica and this process keep the others. Threads started
    later inherit it. None where the machine has a single CPU."""
    assert server.process is not None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    root = psutil.Process(server.process.pid)
    for proc in [root, *root.children(recursive=True)]:
        for thread in proc.threads():
            os.sched_setaffinity(thread.id, {cpus[-1]})
    return cpus[-1]


def source_seconds(gcs: LocalGcs, name: str) -> float:
    """How long the invocation for the dropped file itself took: decode, check, split and write
    the parts (each part is then sent by an invocation of its own)."""
    took = [d.seconds for d in gcs.events.deliveries if d.name == name and d.ok]
    if not took:
        raise RuntimeError(f"no delivery of {name} succeeded")
    return max(took)


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
        copy_path = workdir / "copy.csv"

        def copy(index: int) -> float:
            bucket.blob("baseline/source.csv").upload_from_filename(str(source))
            started = time.perf_counter()
            bucket.blob("baseline/source.csv").download_to_filename(str(copy_path))
            bucket.blob(f"baseline/copy-{index}.csv").upload_from_filename(str(copy_path))
            elapsed = time.perf_counter() - started
            copy_path.unlink()
            return elapsed

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
        rss = 0.0
        ratios: list[float] = []
        copies: list[float] = []
        runs: list[float] = []
        checks: list[float] = []
        results = []
        with FunctionServer(env, log_path=workdir / "function.log") as server:
            pinned = pin_to_one_cpu(server) if ONE_CPU else None
            for index in range(PAIRS):  # a copy, then the pipeline: the ratio pair by pair
                if index:  # rows already sent would be skipped: new ones each time
                    write_calls_csv(source, size_mb, first_block=index * 100_000)
                copy_s = copy(index)
                # Time the pipeline, not the user's upload: its event goes out once it is done.
                name = f"incoming/calls/big-{index}.csv"
                bucket.blob(name).upload_from_filename(str(source))
                dropped = bucket.get_blob(name)
                assert dropped is not None
                gcs.events.add_subscriber(server.url)
                started = time.perf_counter()
                gcs.events.finalized(dropped._properties)
                if not gcs.events.wait_idle(3600):
                    raise RuntimeError("the pipeline did not finish")
                pipeline_s = time.perf_counter() - started
                gcs.events.remove_subscriber(server.url)
                checks.append(source_seconds(gcs, name))
                results.append(json.loads(bucket.blob(name + ".result.json").download_as_bytes()))
                if not index:  # one invocation's peak, before later runs add their state
                    rss = peak_rss_mb(server)
                ratios.append(copy_s / pipeline_s)
                copies.append(copy_s)
                runs.append(pipeline_s)
            rss_after = peak_rss_mb(server)
        client.close()
    for result in results:
        if result["status"] != "uploaded" or result["rows"]["valid"] != rows:
            raise RuntimeError(f"unexpected result: {result['status']} {result['rows']}")
    return {
        "size_mb": size / MB,
        "parts": len(results[0]["parts"]),
        "copy_mb_s": size / MB / statistics.median(copies),
        "pipeline_mb_s": size / MB / statistics.median(runs),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "peak_rss_mb": rss,
        "peak_rss_after_all_mb": rss_after,
        "check_mb_s": size / MB / statistics.median(checks),
        "one_cpu": pinned is not None,
        "ledger_keys_last_run": float(
            ((results[-1].get("check") or {}).get("ledger") or {}).get("keys_read", 0)
        ),
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
                f"MB/s = {figures['ratio']:.2f}x (median of {PAIRS} pairs, "
                f"{figures['ratio_min']:.2f}-{figures['ratio_max']:.2f}x); function peak RSS "
                f"{figures['peak_rss_mb']:.0f} MB after the first run, "
                f"{figures['peak_rss_after_all_mb']:.0f} MB after all (the last run read "
                f"{figures['ledger_keys_last_run']:,.0f} keys, "
                f"{figures['ledger_keys_last_run'] * 8 / MB:.0f} MB, from the ledger); the "
                f"source's own invocation (check, split, write the parts) "
                f"{figures['check_mb_s']:.1f} MB/s" + (" on one CPU" if figures["one_cpu"] else ""),
                flush=True,
            )
            shutil.rmtree(workdir / "emulator", ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
