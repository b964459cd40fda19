"""Speed and memory of the core check-and-split, as ratios to baselines measured in the same run.

- Throughput of `validate` (check only) and `split` (check, repair, write parts to disk) on
  200 MB CALLS files, as a ratio to a bare `csv.reader` pass over the same file (target: at
  least 0.5x, aim 0.8x) and to `frictionless validate` (target: at least 6x). Frictionless is
  timed on a 20 MB slice and compared in MB/s, so the run stays short.
- The duplicate check's cost per row: `validate` with and without it.
- Peak resident memory of `metrika-offline split` in a child process, on a 200 MB file and on
  a 2 GB one (target: under 150 MB, and the same for both).

Two 200 MB files, generated under `.bench/` (git-ignored) and reused while the generator is
unchanged, both with every CALLS column, Cyrillic tags and dates over the last 30 days:
- clean: what a tracking system exports: 1% of tags quoted (a comma inside), nothing to fix;
- dirty: what a CRM export looks like: 2% of tags quoted, 3% of phones to normalize, 0.2%
  bad prices, 0.3% repeated rows: every batch takes the slow paths.
Timings are CPU seconds of this process (not wall time: the machine may be shared), the best
of a few interleaved runs.

Run with `make bench`, or `python -c "from tests.bench import bench_core; bench_core.main()"`.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.report import Report
from metrika_offline.check.splitter import FolderSink
from metrika_offline.types import ConversionType

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
GENERATOR_VERSION = "core-2"
MB = 1_000_000
SIZE_SMALL = 200 * MB
SIZE_LARGE = 2_000 * MB
SLICE = 20 * MB
REPEATS = 3

HEADER = (
    "UserId,ClientId,Yclid,DateTime,StaticCall,Price,Currency,PhoneNumber,TalkDuration,"
    "HoldDuration,CallMissed,Tag,FirstTimeCaller,URL,CallTrackerURL\n"
)
_TAGS = ["lead", "звонок с сайта", "repeat", "", "vip"]

# The child reports its own high-water mark. Not getrusage's ru_maxrss: Linux carries the
# parent's peak across fork and exec into it, and this parent holds hundreds of MB.
_PEAK_RSS_SCRIPT = """
import resource, sys
from metrika_offline import cli
code = cli.main(sys.argv[1:])
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
except OSError:
    pass
sys.stderr.write("\\nmaxrss_kb=%d\\n" % peak_kb)
sys.exit(code)
"""


# --- files -------------------------------------------------------------------------------------


def _row(rng: random.Random, serial: int, now: int, *, dirty: bool) -> str:
    roll = rng.random()
    phone = f"+7{rng.randrange(9_000_000_000, 9_999_999_999)}"
    if dirty and roll < 0.03:
        phone = f"+7 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"
    quoted = 0.03 <= roll < (0.05 if dirty else 0.04)
    tag = '"hot, callback"' if quoted else rng.choice(_TAGS)
    price = f"{rng.randrange(100, 90_000)}.{rng.randrange(100):02d}"
    if dirty and 0.05 <= roll < 0.052:
        price = "abc"
    client = str(rng.randrange(10**17, 10**18)) if rng.random() < 0.7 else ""
    return (
        f"u{serial},{client},,{now - rng.randrange(30 * 86_400)},{rng.randrange(2)},{price},RUB,"
        f"{phone},{rng.randrange(900)},{rng.randrange(90)},{rng.randrange(2)},{tag},"
        f"{rng.randrange(2)},https://shop.example.com/item/{rng.randrange(10**6)},"
        f"https://calltracker.example.com/c/{serial}\n"
    )


def _fresh(path: Path, size: int) -> bool:
    marker = path.with_suffix(".version")
    return (
        path.exists()
        and marker.exists()
        and marker.read_text() == f"{GENERATOR_VERSION} {size}"
        and path.stat().st_size >= size * 0.98
    )


def generate_small(path: Path, *, dirty: bool, size: int = SIZE_SMALL) -> None:
    """A CALLS file of about `size` bytes (see the module docstring)."""
    if _fresh(path, size):
        return
    rng = random.Random(20_240_501)
    now = int(time.time()) - 3_600
    written = 0
    serial = 0
    previous = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        while written < size:
            block = io.StringIO()
            for _ in range(5_000):
                serial += 1
                repeat = dirty and previous and rng.random() < 0.003
                row = previous if repeat else _row(rng, serial, now, dirty=dirty)
                previous = row
                block.write(row)
            text = block.getvalue()
            out.write(text)
            written += len(text.encode())
    path.with_suffix(".version").write_text(f"{GENERATOR_VERSION} {size}")


def generate_large(path: Path, source: Path, size: int = SIZE_LARGE) -> None:
    """About `size` bytes: copies of `source`'s rows, each with its own user IDs, so that the
    duplicate check keeps meeting new keys (and reaches its limit)."""
    if _fresh(path, size):
        return
    body = source.read_bytes().split(b"\n", 1)[1]
    written = 0
    with path.open("wb") as out:
        out.write(HEADER.encode())
        copy = 0
        while written < size:
            copy += 1
            block = body.replace(b"\nu", b"\nu%d_" % copy)
            out.write(block)
            written += len(block)
    path.with_suffix(".version").write_text(f"{GENERATOR_VERSION} {size}")


def cut_slice(path: Path, source: Path, size: int = SLICE) -> None:
    with source.open("rb") as stream:
        data = stream.read(size)
    path.write_bytes(data[: data.rfind(b"\n") + 1])


# --- measurements -------------------------------------------------------------------------------


def csv_reader_pass(path: Path) -> float:
    start = time.process_time()
    with path.open(encoding="utf-8", newline="") as stream:
        for _ in csv.reader(stream):
            pass
    return time.process_time() - start


def check_pass(
    path: Path, *, split_to: Path | None = None, dedupe: bool = True
) -> tuple[float, Report]:
    options = CheckOptions(type=ConversionType.CALLS, max_dedupe_keys=5_000_000 if dedupe else 0)
    if split_to is not None:
        shutil.rmtree(split_to, ignore_errors=True)
    start = time.process_time()
    with path.open("rb") as stream:
        sink = FolderSink(split_to) if split_to is not None else None
        report = check_file(stream, options, sink=sink)
    elapsed = time.process_time() - start
    if split_to is not None:
        shutil.rmtree(split_to, ignore_errors=True)
    return elapsed, report


def frictionless_pass(path: Path) -> float:
    import frictionless
    from frictionless import system

    start = time.process_time()
    with system.use_context(trusted=True):
        report = frictionless.validate(str(path), limit_errors=10**9)
    elapsed = time.process_time() - start
    rows = report.tasks[0].stats["rows"] if report.tasks else 0
    assert rows > 0, report.flatten(["type", "message"])[:3]
    return elapsed


def peak_rss(path: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `metrika-offline split` on `path` in a child process."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK_RSS_SCRIPT,
            "split",
            str(path),
            "--type",
            "calls",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    marker = [line for line in result.stderr.splitlines() if line.startswith("maxrss_kb=")]
    if not marker:
        raise RuntimeError(f"the child failed ({result.returncode}): {result.stderr[-2000:]}")
    return int(marker[0].split("=")[1]) / 1024, elapsed


def _measure(path: Path, split_dir: Path) -> dict[str, Any]:
    """csv.reader, validate, split and validate without the duplicate check on one file."""
    runs: dict[str, list[float]] = {"csv": [], "validate": [], "split": [], "nodedupe": []}
    report: Report | None = None
    for _ in range(REPEATS):  # interleaved, so that a noisy neighbour hits all alike
        runs["csv"].append(csv_reader_pass(path))
        seconds, report = check_pass(path)
        runs["validate"].append(seconds)
        runs["split"].append(check_pass(path, split_to=split_dir)[0])
        runs["nodedupe"].append(check_pass(path, dedupe=False)[0])
    assert report is not None
    best = {name: min(values) for name, values in runs.items()}
    size = path.stat().st_size / MB
    rows = report.rows.total
    return {
        "file_mb": round(size),
        "rows": rows,
        "report_rows": report.rows.to_json(),
        "cpu_s": {name: round(value, 2) for name, value in best.items()},
        "mb_s": {name: round(size / value, 1) for name, value in best.items()},
        "validate_vs_csv_reader": round(best["csv"] / best["validate"], 2),
        "split_vs_csv_reader": round(best["csv"] / best["split"], 2),
        "validate_without_dedupe_vs_csv_reader": round(best["csv"] / best["nodedupe"], 2),
        "dedupe_ns_per_row": round((best["validate"] - best["nodedupe"]) / rows * 1e9),
    }


def main() -> None:
    clean = BENCH_DIR / "core-calls-clean-200mb.csv"
    dirty = BENCH_DIR / "core-calls-dirty-200mb.csv"
    large = BENCH_DIR / "core-calls-dirty-2gb.csv"
    sliced = BENCH_DIR / "core-calls-clean-20mb.csv"
    split_dir = BENCH_DIR / "core-split"
    print("generating (reused when present)...", flush=True)
    generate_small(clean, dirty=False)
    generate_small(dirty, dirty=True)
    generate_large(large, dirty)
    cut_slice(sliced, clean)

    figures: dict[str, Any] = {
        "clean": _measure(clean, split_dir),
        "dirty": _measure(dirty, split_dir),
    }
    frictionless_mb_s = sliced.stat().st_size / MB / frictionless_pass(sliced)
    figures["frictionless_mb_s"] = round(frictionless_mb_s, 2)
    for name in ("clean", "dirty"):
        mb_s = figures[name]["mb_s"]
        figures[name]["validate_vs_frictionless"] = round(mb_s["validate"] / frictionless_mb_s, 1)
        figures[name]["split_vs_frictionless"] = round(mb_s["split"] / frictionless_mb_s, 1)
    rss_small, _ = peak_rss(dirty, BENCH_DIR / "core-split-rss")
    rss_large, large_s = peak_rss(large, BENCH_DIR / "core-split-rss")
    figures["peak_rss_mb"] = {"200mb": round(rss_small), "2gb": round(rss_large)}
    figures["split_2gb_wall_mb_s"] = round(large.stat().st_size / MB / large_s, 1)
    (BENCH_DIR / "bench_core.json").write_text(json.dumps(figures, indent=2))

    lines = []
    for name in ("clean", "dirty"):
        f = figures[name]
        lines.append(
            f"{name} 200 MB CALLS file, {f['rows']:,} rows {f['report_rows']}\n"
            f"  csv.reader pass      {f['mb_s']['csv']:6.1f} MB/s  (baseline)\n"
            f"  validate             {f['mb_s']['validate']:6.1f} MB/s  "
            f"{f['validate_vs_csv_reader']:.2f}x csv.reader, "
            f"{f['validate_vs_frictionless']:.1f}x frictionless\n"
            f"  split (to disk)      {f['mb_s']['split']:6.1f} MB/s  "
            f"{f['split_vs_csv_reader']:.2f}x csv.reader, "
            f"{f['split_vs_frictionless']:.1f}x frictionless\n"
            f"  duplicate check      {f['dedupe_ns_per_row']} ns a row (validate without it: "
            f"{f['validate_without_dedupe_vs_csv_reader']:.2f}x csv.reader)"
        )
    lines.append(
        f"frictionless validate  {frictionless_mb_s:.2f} MB/s (on a {SLICE // MB} MB slice)\n"
        f"peak RSS of split      {rss_small:.0f} MB on 200 MB, {rss_large:.0f} MB on 2 GB "
        f"({figures['split_2gb_wall_mb_s']} MB/s wall on 2 GB)"
    )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
