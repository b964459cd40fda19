"""Speed and memory of the core check-and-split, as ratios to baselines measured in the same run.

Whole commands, start-up included, each paired with its baseline run just before it (A B A B
…), the ratio taken pair by pair and the median quoted, so that a machine shared with other
work slows both sides of a pair alike:

- `metrika-offline validate` and `metrika-offline split` (parts written to disk) on CALLS
  exports of three shapes, against a bare `csv.reader` pass over the same file in a fresh
  `python` (target: at least 0.6x, aim 0.8x). Ratios of CPU seconds (user + system, the
  kernel's own accounting of the finished child) and of wall seconds.
  - plain: no quote anywhere (a tracking system's export);
  - one quoted field a row: a Tag with a comma in every row;
  - all quoted: every field quoted (R `write.csv`, pandas `QUOTE_ALL`, CRMs).
  A dirty export (3% of phones to normalize, 0.2% bad prices, 0.3% repeated rows, 2% of tags
  quoted) shows the cost of repairs.
- Start-up: `metrika-offline validate` of a one-row file against `python -c pass`.
- The duplicate check's cost per row (in process: validate with and without it).
- Peak resident memory of `metrika-offline split` on the dirty export and on one ten times
  its size (target: flat).
- The rejects file's formula guard (in process): the check of a file whose every row is
  rejected (and whose every phone starts with `+`, the guard's slow case), writing its rejects
  file with the guard and with the guard swapped for a plain copy of the cells, paired.
- `frictionless validate` (in process, on a slice) as a yardstick.

Files are generated under `.bench/` (git-ignored) and reused while the generator is unchanged.
Sizes: BENCH_CORE_MB (default 60) for the shapes, BENCH_RSS_MB (default 200) for the memory
pair (the large file is ten times that).

Run with `make bench`, or `python -c "from tests.bench import bench_core; bench_core.main()"`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.types import ConversionType

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
GENERATOR_VERSION = "core-3"
MB = 1_000_000
SHAPE_BYTES = int(os.environ.get("BENCH_CORE_MB", "60")) * MB
RSS_BYTES = int(os.environ.get("BENCH_RSS_MB", "200")) * MB
SLICE = 20 * MB
PAIRS = int(os.environ.get("BENCH_PAIRS", "3"))
CLI = Path(sys.executable).with_name("metrika-offline")

HEADER = [
    "UserId",
    "ClientId",
    "Yclid",
    "DateTime",
    "StaticCall",
    "Price",
    "Currency",
    "PhoneNumber",
    "TalkDuration",
    "HoldDuration",
    "CallMissed",
    "Tag",
    "FirstTimeCaller",
    "URL",
    "CallTrackerURL",
]
_TAGS = ["lead", "звонок с сайта", "repeat", "", "vip"]
_TAGS_WITH_COMMAS = ["hot, callback", "звонок, сайт", "repeat, vip", "lead, new"]
SHAPES = ("plain", "one-quoted", "all-quoted", "dirty")

CSV_READER_PASS = """
import csv, sys
with open(sys.argv[1], encoding="utf-8", newline="") as stream:
    for _ in csv.reader(stream):
        pass
"""

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


def _row(rng: random.Random, serial: int, now: int, shape: str) -> list[str]:
    roll = rng.random()
    phone = f"+7{rng.randrange(9_000_000_000, 9_999_999_999)}"
    dirty = shape == "dirty"
    if dirty and roll < 0.03:
        phone = f"+7 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"
    if shape == "one-quoted" or (dirty and 0.03 <= roll < 0.05):
        tag = rng.choice(_TAGS_WITH_COMMAS)
    else:
        tag = rng.choice(_TAGS)
    price = f"{rng.randrange(100, 90_000)}.{rng.randrange(100):02d}"
    if dirty and 0.05 <= roll < 0.052:
        price = "abc"
    client = str(rng.randrange(10**17, 10**18)) if rng.random() < 0.7 else ""
    return [
        f"u{serial}",
        client,
        "",
        str(now - rng.randrange(30 * 86_400)),
        str(rng.randrange(2)),
        price,
        "RUB",
        phone,
        str(rng.randrange(900)),
        str(rng.randrange(90)),
        str(rng.randrange(2)),
        tag,
        str(rng.randrange(2)),
        f"https://shop.example.com/item/{rng.randrange(10**6)}",
        f"https://calltracker.example.com/c/{serial}",
    ]


def _fresh(path: Path, size: int) -> bool:
    marker = path.with_suffix(".version")
    return (
        path.exists()
        and marker.exists()
        and marker.read_text() == f"{GENERATOR_VERSION} {size}"
        and path.stat().st_size >= size * 0.98
    )


def generate(path: Path, shape: str, size: int) -> None:
    """A CALLS export of about `size` bytes of the given shape (see the module docstring)."""
    if _fresh(path, size):
        return
    rng = random.Random(20_261_130)
    now = int(time.time()) - 3_600
    quoting = csv.QUOTE_ALL if shape == "all-quoted" else csv.QUOTE_MINIMAL
    written = serial = 0
    previous: list[str] | None = None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, quoting=quoting, lineterminator="\n").writerow(HEADER)
        while written < size:
            block = io.StringIO()
            writer = csv.writer(block, quoting=quoting, lineterminator="\n")
            for _ in range(5_000):
                serial += 1
                repeat = shape == "dirty" and previous is not None and rng.random() < 0.003
                row = previous if repeat and previous else _row(rng, serial, now, shape)
                previous = row
                writer.writerow(row)
            text = block.getvalue()
            out.write(text)
            written += len(text.encode())
    path.with_suffix(".version").write_text(f"{GENERATOR_VERSION} {size}")


def generate_large(path: Path, source: Path, copies: int = 10) -> None:
    """`copies` times `source`'s rows, each copy with its own user IDs, so that the duplicate
    check keeps meeting new keys (and reaches its limit)."""
    size = source.stat().st_size * copies
    if _fresh(path, size):
        return
    body = source.read_bytes().split(b"\n", 1)[1]
    with path.open("wb") as out:
        out.write((",".join(HEADER) + "\n").encode())
        for copy in range(1, copies + 1):
            out.write(body.replace(b"\nu", b"\nu%d_" % copy))
    path.with_suffix(".version").write_text(f"{GENERATOR_VERSION} {size}")


def cut_slice(path: Path, source: Path, size: int = SLICE) -> None:
    with source.open("rb") as stream:
        data = stream.read(size)
    path.write_bytes(data[: data.rfind(b"\n") + 1])


# --- whole commands ----------------------------------------------------------------------------


def run_command(argv: list[str], before: Callable[[], None] | None = None) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `argv` to its exit, start-up included."""
    if before is not None:
        before()
    start = time.perf_counter()
    child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    if child.returncode not in (0, 1):
        raise RuntimeError(f"{argv} exited {child.returncode}: {errors.decode()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall


def paired(
    command: list[str], baseline: list[str], before: Callable[[], None] | None = None
) -> dict[str, float]:
    """Throughput of `command` as a ratio to `baseline` (baseline time / command time), run
    in turn, pair by pair; medians, CPU and wall, and each side's median seconds."""
    cpu, wall, seconds, base_seconds = [], [], [], []
    run_command(command, before)  # warm-up: the file in the page cache, the imports compiled
    for _ in range(PAIRS):
        base_cpu, base_wall = run_command(baseline)
        own_cpu, own_wall = run_command(command, before)
        cpu.append(base_cpu / own_cpu)
        wall.append(base_wall / own_wall)
        seconds.append(own_cpu)
        base_seconds.append(base_cpu)
    return {
        "cpu_ratio": round(statistics.median(cpu), 2),
        "cpu_ratio_min": round(min(cpu), 2),
        "cpu_ratio_max": round(max(cpu), 2),
        "wall_ratio": round(statistics.median(wall), 2),
        "cpu_s": round(statistics.median(seconds), 3),
        "baseline_cpu_s": round(statistics.median(base_seconds), 3),
    }


def _measure_shape(path: Path, split_dir: Path) -> dict[str, Any]:
    baseline = [sys.executable, "-c", CSV_READER_PASS, str(path)]
    validate = [str(CLI), "validate", str(path), "--type", "calls"]
    split = [str(CLI), "split", str(path), "--type", "calls", "--out", str(split_dir)]
    figures = {
        "file_mb": round(path.stat().st_size / MB),
        "validate": paired(validate, baseline),
        "split": paired(split, baseline, lambda: shutil.rmtree(split_dir, ignore_errors=True)),
    }
    shutil.rmtree(split_dir, ignore_errors=True)
    size = path.stat().st_size / MB
    for name in ("validate", "split"):
        figures[name]["mb_s_cpu"] = round(size / figures[name]["cpu_s"], 1)
    figures["csv_reader_mb_s_cpu"] = round(size / figures["validate"]["baseline_cpu_s"], 1)
    return figures


def startup(one_row: Path) -> dict[str, float]:
    """`metrika-offline validate` of a one-row file (every import a real run needs, and the
    run itself) against `python -c pass`: both sides' median wall and CPU milliseconds."""
    row = _row(random.Random(1), 1, int(time.time()) - 3_600, "plain")
    one_row.write_text(",".join(HEADER) + "\n" + ",".join(row) + "\n")
    figures = paired(
        [str(CLI), "validate", "--type", "CALLS", str(one_row)], [sys.executable, "-c", "pass"]
    )
    bare = figures["baseline_cpu_s"]
    return {
        "cli_cpu_ms": round(figures["cpu_s"] * 1000),
        "python_cpu_ms": round(bare * 1000),
        "imports_cpu_ms": round((figures["cpu_s"] - bare) * 1000),
        "times_python_pass": round(figures["cpu_s"] / bare, 1),
    }


# --- in process ---------------------------------------------------------------------------------


def dedupe_ns_per_row(path: Path) -> int:
    """CPU cost of the duplicate check per row: validate with and without it, best of three."""
    best: dict[bool, float] = {}
    rows = 0
    for _ in range(3):
        for dedupe in (True, False):
            options = CheckOptions(
                type=ConversionType.CALLS, max_dedupe_keys=5_000_000 if dedupe else 0
            )
            start = time.process_time()
            with path.open("rb") as stream:
                report = check_file(stream, options)
            elapsed = time.process_time() - start
            best[dedupe] = min(best.get(dedupe, elapsed), elapsed)
            rows = report.rows.total
    return round((best[True] - best[False]) / rows * 1e9)


class _NullWriter:
    def write(self, data: bytes, /) -> int:
        return len(data)

    def close(self) -> None:
        pass


def all_rejected(path: Path, source: Path, size: int = SLICE) -> None:
    """`source`'s first rows up to `size` bytes, each with a DateTime that cannot be read."""
    with source.open(encoding="utf-8", newline="") as stream, path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        for row in csv.reader(stream):
            if row[0] != "UserId":
                row[3] = "вчера"
            writer.writerow(row)
            if out.tell() >= size:
                break


def rejects_guard(path: Path) -> dict[str, float]:
    """CPU of the check writing the rejects file of `path` (every row rejected), with the
    formula guard against without it: the median ratio of PAIRS pairs, and ns a row."""
    from metrika_offline.check import rejects as rejects_module

    guard = rejects_module.defused
    options = CheckOptions(type=ConversionType.CALLS, max_invalid_ratio=1.0, max_dedupe_keys=0)

    def run() -> tuple[float, int]:
        start = time.process_time()
        with path.open("rb") as stream:
            report = check_file(stream, options, rejects=_NullWriter)
        return time.process_time() - start, report.rows.invalid

    ratios, costs = [], []
    try:
        for _ in range(PAIRS):
            rejects_module.defused = list
            without, rows = run()
            rejects_module.defused = guard
            with_guard, _ = run()
            ratios.append(with_guard / without)
            costs.append((with_guard - without) / rows * 1e9)
    finally:
        rejects_module.defused = guard
    return {
        "rows": rows,
        "cpu_ratio": round(statistics.median(ratios), 3),
        "ns_per_row": round(statistics.median(costs)),
    }


def frictionless_mb_s(path: Path) -> float:
    import frictionless
    from frictionless import system

    start = time.process_time()
    with system.use_context(trusted=True):
        report = frictionless.validate(str(path), limit_errors=10**9)
    elapsed = time.process_time() - start
    rows = report.tasks[0].stats["rows"] if report.tasks else 0
    assert rows > 0, report.flatten(["type", "message"])[:3]
    return path.stat().st_size / MB / elapsed


def peak_rss(path: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of `metrika-offline split` on `path` in a child."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    args = ["split", str(path), "--type", "calls", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_SCRIPT, *args],
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


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    mb = SHAPE_BYTES // MB
    files = {shape: BENCH_DIR / f"core-calls-{shape}-{mb}mb.csv" for shape in SHAPES}
    rss_small = BENCH_DIR / f"core-calls-dirty-{RSS_BYTES // MB}mb.csv"
    rss_large = BENCH_DIR / f"core-calls-dirty-{RSS_BYTES * 10 // MB}mb.csv"
    sliced = BENCH_DIR / "core-calls-plain-slice.csv"
    split_dir = BENCH_DIR / "core-split"
    print("generating (reused when present)...", flush=True)
    for shape, path in files.items():
        generate(path, shape, SHAPE_BYTES)
    generate(rss_small, "dirty", RSS_BYTES)
    generate_large(rss_large, rss_small)
    cut_slice(sliced, files["plain"])

    figures: dict[str, Any] = {"pairs": PAIRS, "startup": startup(BENCH_DIR / "one-row.csv")}
    for shape, path in files.items():
        figures[shape] = _measure_shape(path, split_dir)
    figures["dedupe_ns_per_row"] = dedupe_ns_per_row(files["dirty"])
    rejected = BENCH_DIR / "core-calls-all-rejected.csv"
    all_rejected(rejected, files["dirty"])
    figures["rejects_guard"] = rejects_guard(rejected)
    figures["frictionless_mb_s_cpu"] = round(frictionless_mb_s(sliced), 2)
    small_rss, _ = peak_rss(rss_small, BENCH_DIR / "core-split-rss")
    large_rss, large_s = peak_rss(rss_large, BENCH_DIR / "core-split-rss")
    figures["peak_rss_mb"] = {
        f"{RSS_BYTES // MB}mb": round(small_rss),
        f"{RSS_BYTES * 10 // MB}mb": round(large_rss),
    }
    figures["split_large_wall_mb_s"] = round(rss_large.stat().st_size / MB / large_s, 1)
    BENCH_DIR.mkdir(exist_ok=True)
    (BENCH_DIR / "bench_core.json").write_text(json.dumps(figures, indent=2))
    print(report(figures), flush=True)


def report(figures: dict[str, Any]) -> str:
    start = figures["startup"]
    lines = [
        f"whole commands, {figures['pairs']} pairs each, median ratio to a csv.reader pass "
        "over the same file (CPU; wall in brackets)",
        f"{'shape':<12} {'MB':>4} {'csv.reader':>11} {'validate':>16} {'split':>16}",
    ]
    for shape in SHAPES:
        f = figures[shape]
        v, s = f["validate"], f["split"]
        lines.append(
            f"{shape:<12} {f['file_mb']:>4} {f['csv_reader_mb_s_cpu']:>6.1f} MB/s "
            f"{v['cpu_ratio']:>6.2f}x ({v['wall_ratio']:.2f}x) "
            f"{s['cpu_ratio']:>6.2f}x ({s['wall_ratio']:.2f}x)"
        )
    frictionless = figures["frictionless_mb_s_cpu"]
    plain = figures["plain"]["validate"]["mb_s_cpu"]
    rss = figures["peak_rss_mb"]
    guard = figures["rejects_guard"]
    lines += [
        f"start-up: metrika-offline validate (one row) {start['cli_cpu_ms']} ms CPU, "
        f"python -c pass {start['python_cpu_ms']} ms ({start['times_python_pass']}x; imports "
        f"{start['imports_cpu_ms']} ms)",
        f"duplicate check: {figures['dedupe_ns_per_row']} ns a row",
        f"rejects formula guard, every row rejected: {guard['cpu_ratio']:.3f}x CPU of the check "
        f"without it ({guard['ns_per_row']} ns a row, {guard['rows']} rows)",
        f"frictionless validate: {frictionless} MB/s (validate on plain: "
        f"{plain / frictionless:.1f}x)",
        "peak RSS of split: "
        + ", ".join(f"{mb_s} MB on {name}" for name, mb_s in rss.items())
        + f" ({figures['split_large_wall_mb_s']} MB/s wall on the large one)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
