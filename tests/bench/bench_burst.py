"""A burst: FILES small files dropped at once, drained by the new topology and by the one it
replaces, on the same machine, the same fake Metrica and the same emulated Cloud Storage.

- new: the storage trigger on the input bucket only, spread over CHECKERS checker processes
  (the worker, which checks, splits and queues); the work state in a work bucket; uploads as
  tasks through gcloud-tasks-emulator and the task tap, at most 2 at once per account queue
  (infra/tasks.tf), into one `upload_part` process.
- before: the code this issue started from (`git archive` of BASE into .bench/), every object
  finalized in the one bucket an event of the worker, which uploads; the worker's cap, 2
  instances of 1 request, as one process serving 2 requests at once.

Prints the drain time of each (every file's result final), the events the storage trigger
delivered, the uploads Metrica received (each part exactly once: asserted) and the most
requests one token had in flight at once (at most 3: asserted). The ledger is off in both
(LEDGER_WINDOW_DAYS=0): with it every file of a counter waits for the ledger's lock in turn in
either design, which measures the lock, not the topology.

Run with `python -m tests.bench.bench_burst` (FILES=300 by default; BENCH_BURST_FILES to change).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests import samples
from tests.fakes.function import FunctionServer
from tests.fakes.gcs import LocalGcs, RetryPolicy
from tests.fakes.gcs_fixtures import make_client
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika
from tests.fakes.tasks import LOCATION, LocalTasks, TaskTap, wait_until_idle

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
#: The commit this issue started from: the design the new one replaces.
BASE = "143300be6817a878196e2a8defcce454f7f1706e"
FILES = int(os.environ.get("BENCH_BURST_FILES", "300"))
CHECKERS = 3
COUNTER = 51234567
BUCKET = "burst-input"
WORK_BUCKET = "burst-work"
QUEUE = f"{LOCATION}/queues/burst-{{account}}"
RETRY = RetryPolicy(max_attempts=200, initial_s=0.05, max_delay_s=1.0)
TIMEOUT_S = 1800.0


def burst_file(index: int) -> bytes:
    """A clean single-part BASIC file whose rows no other file has."""
    now = time.time()
    lines = ["ClientId,Target,DateTime,Price,Currency"]
    for row in range(5):
        stamp = int(now) - 3600 - 60 * row
        lines.append(f"{133591247640966458 + index * 10 + row},lead_form_sent,{stamp},100.00,RUB")
    return ("\n".join(lines) + "\n").encode()


def baseline_root() -> Path:
    """The function/ of BASE, unpacked once under .bench/."""
    root = BENCH_DIR / f"burst-base-{BASE[:12]}"
    if not (root / "function" / "main.py").exists():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", BASE, "function"],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
    return root


def common_env(gcs: LocalGcs, metrika: FakeMetrika) -> dict[str, str]:
    return {
        "STORAGE_EMULATOR_HOST": gcs.url,
        "METRIKA_API_URL": metrika.url,
        "METRIKA_TOKEN": FAKE_TOKEN,
        "DEFAULT_COUNTER_ID": str(COUNTER),
        "BUCKET": BUCKET,
        "LEDGER_WINDOW_DAYS": "0",
        "LOG_LEVEL": "WARNING",
    }


def drop_all(gcs: LocalGcs) -> list[str]:
    client = make_client(gcs.url)
    names = [f"incoming/{COUNTER}/basic/burst-{i:04d}.csv" for i in range(FILES)]
    bucket = client.bucket(BUCKET)
    for index, name in enumerate(names):
        bucket.blob(name).upload_from_string(burst_file(index), content_type="text/csv")
    client.close()
    return names


def results(gcs: LocalGcs, names: list[str]) -> list[dict[str, Any]]:
    client = make_client(gcs.url)
    bucket = client.bucket(BUCKET)
    found = [json.loads(bucket.blob(n + ".result.json").download_as_bytes()) for n in names]
    client.close()
    return found


def check(metrika: FakeMetrika, found: list[dict[str, Any]]) -> tuple[int, int]:
    """Every part exactly once, and never more than Metrica's 3 at once per token."""
    assert all(r["status"] == "uploaded" for r in found), {r["status"] for r in found}
    markers = sorted(p["marker"] for r in found for p in r["parts"])
    uploads = [e for e in metrika.journal if e.endpoint == "upload" and e.recorded]
    sent = sorted(u.comment.rsplit(" ", 1)[-1] for u in uploads)
    assert sent == markers, "a part was sent twice, or not at all"
    assert metrika.max_in_flight <= 3, metrika.max_in_flight
    return len(uploads), metrika.max_in_flight


@contextmanager
def stack() -> Iterator[tuple[LocalGcs, FakeMetrika]]:
    with LocalGcs(buckets=[BUCKET], retry=RETRY) as gcs, FakeMetrika() as metrika:
        metrika.set_goals(COUNTER, samples.GOALS)
        yield gcs, metrika


def run_new(logs: Path) -> dict[str, float]:
    with stack() as (gcs, metrika), ExitStack() as started:
        gcs.server.create_bucket(WORK_BUCKET)
        tasks = started.enter_context(LocalTasks([QUEUE.replace("{account}", "default")]))
        tap = started.enter_context(TaskTap(concurrency=2))
        gcs.events.spread = True
        env = {
            **common_env(gcs, metrika),
            "WORK_BUCKET": WORK_BUCKET,
            "UPLOAD_QUEUE": QUEUE,
            "UPLOAD_URL": tap.url,
            "CLOUD_TASKS_EMULATOR_HOST": tasks.host,
            "THREADS": "1",
        }
        for i in range(CHECKERS):
            checker = started.enter_context(
                FunctionServer(env, log_path=logs / f"burst-checker-{i}.log")
            )
            gcs.events.add_subscriber(checker.url)
        uploader = started.enter_context(
            FunctionServer({**env, "THREADS": "8"}, target="upload_part",
                           signature_type="http", log_path=logs / "burst-uploader.log")
        )  # fmt: skip
        tap.target = uploader.url
        queues = [QUEUE.replace("{account}", "default")]
        started_at = time.perf_counter()
        names = drop_all(gcs)
        idle = wait_until_idle(tasks, tap, lambda: queues, gcs.events.wait_idle, TIMEOUT_S)
        drained = time.perf_counter() - started_at
        assert idle, "the burst did not drain"
        uploads, most = check(metrika, results(gcs, names))
        return {"drain_s": drained, "events": len(gcs.events.deliveries), "uploads": uploads,
                "most_in_flight": most, "tasks": len(tap.deliveries)}  # fmt: skip


def run_before(logs: Path) -> dict[str, float]:
    with stack() as (gcs, metrika):
        env = {**common_env(gcs, metrika), "THREADS": "2"}  # 2 instances x 1 request
        with FunctionServer(env, log_path=logs / "burst-before.log", root=baseline_root()) as fn:
            gcs.events.add_subscriber(fn.url)
            started_at = time.perf_counter()
            names = drop_all(gcs)
            assert gcs.events.wait_idle(TIMEOUT_S), "the burst did not drain"
            drained = time.perf_counter() - started_at
            uploads, most = check(metrika, results(gcs, names))
        return {"drain_s": drained, "events": len(gcs.events.deliveries), "uploads": uploads,
                "most_in_flight": most, "tasks": 0}  # fmt: skip


def main() -> None:
    BENCH_DIR.mkdir(exist_ok=True)
    runs: dict[str, Callable[[Path], dict[str, float]]] = {
        "before (events, 2 x 1)": run_before,
        f"new (tasks, {CHECKERS} checkers)": run_new,
    }
    measured = {label: run(BENCH_DIR) for label, run in runs.items()}
    base = measured["before (events, 2 x 1)"]["drain_s"]
    print(f"{FILES} clean single-part files dropped at once, {os.cpu_count()} CPUs")
    for label, figures in measured.items():
        ratio = figures["drain_s"] / base
        print(
            f"  {label:<26} drained in {figures['drain_s']:7.1f} s ({ratio:.2f}x)"
            f", {figures['events']:5.0f} storage events, {figures['tasks']:4.0f} task deliveries"
            f", {figures['uploads']:4.0f} uploads (each part once)"
            f", at most {figures['most_in_flight']:.0f} in flight per token"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
