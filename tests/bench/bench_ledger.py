"""The ledger's cost: per row checked, and in memory, with 1 million and 20 million keys held.

- Per row: `check_file` on a BASIC export of 300,000 rows (a nightly 7-day window: six rows in
  seven sent before) with the ledger (stable keys hashed, looked up, each part's keys written)
  against the same check without it. CPU seconds of this process, best of three interleaved.
- CHATS: the in-file rule (`chat_same_key`: keep-last, the later version of a chat is sent)
  against the rule it replaced (keep-first, a later row of a chat is a duplicate), on a CHATS
  export of 300,000 chats, without the ledger and with it (the ledger also takes each row's
  version key). CPU seconds of this process, best of three interleaved.
- Memory and time of reading the ledger: a child process opens a ledger of 1 M and of 20 M keys
  (28 daily entries on a local folder store, as the function lays them out) through the real
  `Ledger.open`, and reports its resident set before and its high-water mark after.

Run with `make bench`, or `python -c "from tests.bench import bench_ledger; bench_ledger.main()"`.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.sent import Keys, held, stable_hashes
from metrika_offline.types import ConversionType

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench" / "ledger"
ROWS = 300_000
REPEATS = 3
NOW = 1_795_996_800  # 2026-11-30
DAY = 86_400
LEDGER_SIZES = (1_000_000, 20_000_000)
ENTRIES = 28


def _export() -> tuple[bytes, Keys]:
    """A 7-day BASIC export, and the keys of its first six days (sent by earlier nights)."""
    lines = ["ClientId,Target,DateTime,Price,Currency"]
    targets, whens, clients = [], [], []
    for i in range(ROWS):
        client = str(1_733_000_000_000_000_000 + i * 7919)
        when = str(NOW - DAY // 2 - (i * 7 * DAY) // ROWS)
        target = ("lead_form_sent", "call_request", "order_paid")[i % 3]
        lines.append(f"{client},{target},{when},{100 + i % 900}.00,RUB")
        targets.append(target)
        whens.append(when)
        clients.append(client)
    sent_rows = [i for i in range(ROWS) if i >= ROWS // 7]  # older than one day
    keys = stable_hashes([targets, whens, clients, None, None, None], sent_rows)
    return ("\n".join(lines) + "\n").encode(), keys


class _Ledger:
    """A SentKeys over sorted keys, as `flow.ledger.LedgerView` holds them."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def sent(self, keys: Keys) -> npt.NDArray[np.bool_]:
        return held(self.keys, keys)

    def who_sent(self, key: int) -> str:  # noqa: ARG002 (the bench needs no name)
        return "an earlier file"


class _NullWriter:
    def write(self, data: bytes, /) -> int:
        return len(data)

    def close(self) -> None:
        pass


class _NullSink:
    def open_part(self, index: int, name: str) -> _NullWriter:  # noqa: ARG002
        return _NullWriter()

    def open_keys(self, index: int) -> _NullWriter:  # noqa: ARG002
        return _NullWriter()

    def discard(self) -> None:
        pass


def _filler(count: int, seed: int) -> Keys:
    keys: Keys = np.random.default_rng(seed).integers(0, 2**63, size=count, dtype=np.uint64)
    return keys


def _ledger_of(size: int, sent: Keys) -> Keys:
    keys = np.concatenate([sent, _filler(size - len(sent), size)])
    keys.sort()
    return keys


def _time_check(data: bytes, ledger: _Ledger | None) -> tuple[float, int]:
    options = CheckOptions(type=ConversionType.BASIC, now=NOW)
    sink = _NullSink()
    start = time.process_time()
    report = check_file(
        io.BytesIO(data),
        options,
        sink=sink,
        sent=ledger,
        part_keys=sink if ledger is not None else None,
    )
    return time.process_time() - start, report.rows.already_sent


def _chats_export() -> bytes:
    rng = np.random.default_rng(5)
    lines = ["ClientID,DateTime,ChatPlatform,PhoneNumber,ChatAnswered,Tag,Price,Currency"]
    clients = rng.integers(10**17, 10**18, ROWS)
    phones = rng.integers(0, 10**7, ROWS)
    for i in range(ROWS):
        answered, price = i % 2, 100 + i % 9_000
        lines.append(
            f"{clients[i]},{NOW - DAY - i},whatsapp,+7912{phones[i]:07d},{answered},lead,"
            f"{price}.00,RUB"
        )
    return ("\n".join(lines) + "\n").encode()


def _time_chats(data: bytes, rule: str, ledger: _Ledger | None) -> float:
    options = CheckOptions(type=ConversionType.CHATS, now=NOW, chat_same_key=rule)
    sink = _NullSink()
    start = time.process_time()
    check_file(
        io.BytesIO(data),
        options,
        sink=sink,
        sent=ledger,
        part_keys=sink if ledger is not None else None,
    )
    return time.process_time() - start


def chats_rule() -> None:
    data = _chats_export()
    ledger = _Ledger(_filler(1_000_000, seed=9))
    best: dict[tuple[str, bool], float] = {}
    for _ in range(REPEATS):
        for rule in ("keep-first", "keep-last"):
            for with_ledger in (False, True):
                elapsed = _time_chats(data, rule, ledger if with_ledger else None)
                key = (rule, with_ledger)
                best[key] = min(best.get(key, elapsed), elapsed)
    for with_ledger, label in ((False, "without the ledger"), (True, "with a 1 M-key ledger")):
        old, new = best[("keep-first", with_ledger)], best[("keep-last", with_ledger)]
        print(
            f"CHATS {label}: keep-last {new / ROWS * 1e9:.0f} ns a row, keep-first "
            f"{old / ROWS * 1e9:.0f} ({new / old:.2f}x)"
        )


# The child reads a ledger laid out by the parent and reports its own memory.
_READ_SCRIPT = """
import sys, time
from pathlib import Path
def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field))
from metrika_offline.config import Settings
from metrika_offline.flow.record.job import Job, Source
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.flow.ledger.view import Ledger
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.store.local import LocalStore
from metrika_offline.types import ConversionType
store = LocalStore(Path(sys.argv[1]))
before = status("VmRSS:")
start = time.perf_counter()
names = WorkLayout("w/").ledger(5, "BASIC")
own = Job(Source("b", "new.csv", 1, 0), Route(5, ConversionType.BASIC, "", Mode.UPLOAD, {}))
view = Ledger(store, JobStore(store, "w/"), names, clock=lambda: float(sys.argv[2])).open(
    own, 28 * 86400.0, 50_000_000
)
elapsed = time.perf_counter() - start
print(len(view.keys), elapsed, before, status("VmHWM:"))
"""


def _lay_out(size: int) -> Path:
    """A ledger of `size` keys in ENTRIES daily entries, written once under .bench/."""
    from metrika_offline.flow.record.layout import Role, WorkLayout, marked
    from metrika_offline.store.local import LocalStore

    folder = BENCH_DIR / f"keys-{size}"
    done = folder / "complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    store = LocalStore(folder)
    names = WorkLayout("w/").ledger(5, "BASIC")
    per_entry = size // ENTRIES
    for day in range(ENTRIES):
        keys = _filler(per_entry, day)
        keys.sort()
        source = f"incoming/5/export-{day:02d}.csv"
        fields = {"source": source, "generation": "1", "part": "1"}
        store.write_bytes(
            names.keys(source, 1, 1),
            keys.astype("<u8").tobytes(),
            metadata=marked(Role.LEDGER_KEYS, **fields),
        )
        sent_at = {"sent_at": repr(float(NOW - day * DAY)), "uploading_id": str(1000 + day)}
        store.write_bytes(
            names.sent(source, 1, 1),
            b"{}",
            metadata=marked(Role.LEDGER_SENT, **fields, **sent_at),
        )
    done.write_text("ok")
    return folder


def _read_ledger(size: int) -> tuple[int, float, float]:
    """Keys read, seconds, MB added to the resident set by reading a ledger of `size`."""
    folder = _lay_out(size)
    out = subprocess.run(
        [sys.executable, "-c", _READ_SCRIPT, str(folder), str(float(NOW))],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    keys, elapsed, before_kb, peak_kb = int(out[0]), float(out[1]), int(out[2]), int(out[3])
    return keys, elapsed, (peak_kb - before_kb) / 1024


def main() -> None:
    data, sent = _export()
    print(f"export: {ROWS} rows, {len(data) / 1e6:.1f} MB, {len(sent)} of them sent before")
    ledgers = {size: _Ledger(_ledger_of(size, sent)) for size in LEDGER_SIZES}
    best: dict[str, float] = {}
    for _ in range(REPEATS):
        for label, ledger in [("without", None), *((str(s), ledgers[s]) for s in LEDGER_SIZES)]:
            elapsed, dropped = _time_check(data, ledger)
            assert ledger is None or dropped == len(sent), dropped
            best[label] = min(best.get(label, elapsed), elapsed)
    base = best["without"]
    print(f"check without the ledger: {base / ROWS * 1e9:.0f} ns a row")
    for size in LEDGER_SIZES:
        cost = (best[str(size)] - base) / ROWS * 1e9
        print(
            f"with a ledger of {size / 1e6:g} M keys: {best[str(size)] / ROWS * 1e9:.0f} ns a row, "
            f"+{cost:.0f} ns a row ({best[str(size)] / base:.2f}x the check without it)"
        )
    chats_rule()
    for size in LEDGER_SIZES:
        keys, elapsed, added_mb = _read_ledger(size)
        print(
            f"reading a ledger of {keys / 1e6:g} M keys ({ENTRIES} entries): {elapsed:.2f} s, "
            f"+{added_mb:.0f} MB resident ({added_mb * 1024 * 1024 / keys:.1f} bytes a key)"
        )


if __name__ == "__main__":
    main()
