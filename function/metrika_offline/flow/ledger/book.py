"""The ledger: the keys of the rows each counter and type was sent, so no row is sent twice.

Per counter and type, under `WORK/ledger/<counter>/<TYPE>/` (names from `layout.LedgerLayout`):

    keys/<source>/<generation>/<job key>/part-00001.keys
        the part's row keys (sorted runs of uint64), written beside the part while it is split
    sent/<source>/<generation>/<job key>/part-00001.json
        tiny, create-only: the part's upload was recorded (when, which upload); this is what
        makes its keys count as sent
    lock.json
        who is checking a file against the ledger

A part's keys count as sent once its upload is recorded in its job: the `sent/` entry is
written by the worker that recorded it, again by a redelivered event that finds the part
uploaded, and by any reader that finds keys whose job says uploaded but no entry (a worker
killed between the two steps). Keys whose part is still pending, being sent or waiting for
Metrica (a new counter, a daily quota) are *reserved*:
a file that needs any of them waits (`ClaimHeld`, retried) until that part is final, so two
files racing for the same rows never both send them. The lock makes "read the ledger, check,
write the keys, record the parts" one step per counter and type. See `docs/ledger.md`.

Entries are read newest first within the window, at most `max_keys` of them (8 bytes a key,
sorted once in place); older ones are left out and the report says so (`ledger-limited`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from metrika_offline.check.report import LedgerSummary
from metrika_offline.check.sent import EMPTY, Keys, KeyWriter, held
from metrika_offline.config import Settings
from metrika_offline.errors import ClaimHeld, ObjectNotFound, PreconditionFailed
from metrika_offline.flow.record.job import Job, PartState, Status
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import LedgerLayout, Role, WorkLayout, marked
from metrika_offline.flow.record.result import utc_iso
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.logs import get_logger
from metrika_offline.store.base import ObjectInfo, ObjectStore

log = get_logger("ledger")

_READ_CHUNK = 1 << 23  # 8 MB: one read of a keys object at a time


# --------------------------------------------------------------------------------- writing


class StagedKeys:
    """The checker's `PartKeysSink`: each part's keys under `keys/`, dropped with the parts."""

    def __init__(self, store: ObjectStore, names: LedgerLayout, job: Job):
        self.store = store
        self.names = names
        self.source = job.source.name
        self.generation = job.source.generation
        self.job = job.key
        self.written: list[str] = []

    def open_keys(self, index: int) -> KeyWriter:
        name = self.names.keys(self.source, self.generation, index, self.job)
        self.written.append(name)
        fields = {
            "source": self.source,
            "generation": str(self.generation),
            "part": str(index),
            "job": self.job,
        }
        return self.store.open_write(
            name,
            content_type="application/octet-stream",
            metadata=marked(Role.LEDGER_KEYS, **fields),
        )

    def discard(self) -> None:
        for name in self.written:
            self.store.delete(name)
        self.written.clear()


def record_sent(
    store: ObjectStore, names: LedgerLayout, job: Job, index: int, *, now: float
) -> bool:
    """Write the `sent/` entry of an uploaded part, once (create-only: a second call finds it
    and does nothing). True when this call wrote it."""
    uploading = job.part(index).uploading
    fields = {
        "source": job.source.name,
        "generation": str(job.source.generation),
        "part": str(index),
        "job": job.key,
        "uploading_id": str(uploading.id) if uploading is not None else "",
        "sent_at": repr(now),
    }
    try:
        store.write_bytes(
            names.sent(job.source.name, job.source.generation, index, job.key),
            json.dumps(fields).encode(),
            content_type="application/json",
            metadata=marked(Role.LEDGER_SENT, **fields),
            if_generation_match=0,
        )
    except PreconditionFailed:
        return False
    return True


# --------------------------------------------------------------------------------- the lock


class LedgerLock:
    """One checker at a time per counter and type: a lease in `lock.json`, taken and given
    back with compare-and-swap writes (never deleted: the emulator ignores delete
    preconditions, and an expired lease is as good as none)."""

    def __init__(self, store: ObjectStore, names: LedgerLayout, *, clock: Callable[[], float]):
        self.store = store
        self.name = names.lock
        self.clock = clock

    def _write(self, owner: str, until: float, holder: str, match: int, job: str = "") -> None:
        self.store.write_bytes(
            self.name,
            json.dumps({"owner": owner, "until": until, "holder": holder, "job": job}).encode(),
            content_type="application/json",
            metadata=marked(Role.LEDGER_LOCK),
            if_generation_match=match,
        )

    def acquire(self, owner: str, lease_s: float, holder: str, job: str = "") -> None:
        """Take the lock for `lease_s`; ClaimHeld while another live owner has it. `job` names
        the check (source@generation): whoever holds its claim now may take the lock over from
        an earlier check of the same job, which gave the claim up by dying."""
        now = self.clock()
        with contextlib.suppress(PreconditionFailed):
            self._write(owner, now + lease_s, holder, 0, job)
            return
        found = self.store.read_bytes(self.name)
        if found is not None:
            data, generation = found
            current = json.loads(data)
            same_job = bool(job) and current.get("job") == job
            if current["owner"] != owner and float(current["until"]) > now and not same_job:
                raise ClaimHeld(
                    f"{current.get('holder') or 'another file'} is being checked against the "
                    "ledger of this counter and type; this file waits its turn"
                )
            with contextlib.suppress(PreconditionFailed):
                self._write(owner, now + lease_s, holder, generation, job)
                return
        raise ClaimHeld("another file took the ledger lock first; this file waits its turn")

    def release(self, owner: str) -> None:
        found = self.store.read_bytes(self.name)
        if found is None:
            return
        data, generation = found
        if json.loads(data)["owner"] != owner:
            return
        with contextlib.suppress(PreconditionFailed):
            self._write("", 0.0, "", generation)


# --------------------------------------------------------------------------------- reading


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """One part's keys in the ledger."""

    name: str  # the keys object
    source: str
    generation: int
    part: int
    keys: int
    job: str = ""  # the job's key: a rerun with other settings is another job
    uploading_id: str = ""
    sent_at: float | None = None  # None: reserved (the part is not final yet)

    def describe(self) -> str:
        if self.sent_at is None:
            return f"{self.source} (generation {self.generation}, part {self.part}, in flight)"
        upload = f"upload {self.uploading_id}" if self.uploading_id else "an upload"
        return f"{self.source} ({upload}, part {self.part}, {utc_iso(self.sent_at)})"


def _read_into(store: ObjectStore, entry: LedgerEntry, out: Keys) -> int:
    """Read `entry`'s keys into `out` (at most len(out)); how many were read."""
    view = out.view(np.uint8)
    filled = 0
    reader = store.open_read(entry.name)
    try:
        while filled < len(view):
            chunk = reader.read(min(_READ_CHUNK, len(view) - filled))
            if not chunk:
                break
            view[filled : filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            filled += len(chunk)
    finally:
        reader.close()
    return filled // 8


def _load(store: ObjectStore, entries: list[LedgerEntry]) -> Keys:
    total = sum(e.keys for e in entries)
    keys: Keys = np.empty(total, dtype=np.uint64)
    at = 0
    for entry in entries:
        try:
            at += _read_into(store, entry, keys[at : at + entry.keys])
        except ObjectNotFound:
            log.warning("ledger keys vanished while read", extra={"keys": entry.name})
    keys = keys[:at]
    if not np.little_endian:  # stored little-endian
        keys.byteswap(inplace=True)
    keys.sort()
    return keys


class LedgerView:
    """The checker's `SentKeys`: what this counter and type were sent within the window."""

    def __init__(
        self,
        store: ObjectStore,
        sent: list[LedgerEntry],
        reserved: list[LedgerEntry],
        limited_since: float | None,
    ) -> None:
        self.store = store
        self.entries = sent  # newest first
        self.limited_since = limited_since  # sent entries older than this were left out
        self.keys = _load(store, sent) if sent else EMPTY
        self.reserved_entries = reserved
        self.reserved = _load(store, reserved) if reserved else EMPTY

    def sent(self, keys: Keys) -> npt.NDArray[np.bool_]:
        if len(self.reserved):
            waiting = held(self.reserved, keys)
            if waiting.any():
                owner = self._find(int(keys[int(np.argmax(waiting))]), self.reserved_entries)
                raise ClaimHeld(
                    "rows of this file are in "
                    + (owner.describe() if owner else "another file's part")
                    + ", not uploaded yet: this file waits until it is"
                )
        return held(self.keys, keys)

    def counts(self) -> dict[str, int]:
        return {"entries_read": len(self.entries), "keys_read": len(self.keys),
                "keys_in_flight": len(self.reserved)}  # fmt: skip

    def who_sent(self, key: int) -> str:
        entry = self._find(key, self.entries)
        return entry.describe() if entry is not None else "an earlier file"

    def _find(self, key: int, entries: list[LedgerEntry]) -> LedgerEntry | None:
        wanted = np.array([key], dtype=np.uint64)
        for entry in entries:
            try:
                keys = _load(self.store, [entry])
            except ObjectNotFound:
                continue
            if held(keys, wanted)[0]:
                return entry
        return None


class Ledger:
    """The ledger of one counter and type."""

    def __init__(
        self, store: ObjectStore, jobs: JobStore, names: LedgerLayout, *, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.names = names
        self.clock = clock
        self.lock = LedgerLock(store, names, clock=clock)

    def open(self, own: Job, window_s: float, max_keys: int) -> LedgerView:
        """Read what was sent within `window_s` (newest first, at most `max_keys` keys) and
        what other files have in flight; record uploaded parts found without their entry."""
        now = self.clock()
        mine = (own.source.name, own.source.generation, own.key)
        keys: dict[str, ObjectInfo] = {}
        sent: dict[str, ObjectInfo] = {}
        for info in self.store.list(self.names.prefix):
            found = self.names.part_of(info.name)
            if found is not None:
                (keys if found[0] == "keys" else sent)[found[1]] = info
        committed: list[LedgerEntry] = []
        reserved: list[LedgerEntry] = []
        states = _JobCache(self.jobs)
        for path, info in keys.items():
            entry = _entry(info)
            if entry is None or (entry.source, entry.generation, entry.job) == mine:
                continue  # this job's own keys, left by an earlier attempt at it
            if path in sent:
                meta = sent[path].metadata
                sent_at = float(meta.get("sent_at") or 0.0)
                uploading_id = meta.get("uploading_id", "")
                committed.append(
                    dataclasses.replace(entry, sent_at=sent_at, uploading_id=uploading_id)
                )
                continue
            job = states.job(entry.source, entry.generation)
            state = _part_state(job, entry)
            if job is not None and state is PartState.UPLOADED:
                record_sent(self.store, self.names, job, entry.part, now=now)
                log.info("recorded a sent part found without its entry", extra={"keys": info.name})
                uploading = job.part(entry.part).uploading
                uploading_id = str(uploading.id) if uploading is not None else ""
                committed.append(dataclasses.replace(entry, sent_at=now, uploading_id=uploading_id))
            elif state in (PartState.PENDING, PartState.SENDING, PartState.WAITING):
                reserved.append(entry)
        in_window = [e for e in committed if (e.sent_at or 0.0) >= now - window_s]
        in_window.sort(key=lambda e: (e.sent_at or 0.0, e.name), reverse=True)
        chosen: list[LedgerEntry] = []
        held = 0
        limited_since: float | None = None
        for entry in in_window:
            if held + entry.keys > max_keys:
                limited_since = entry.sent_at
                break
            chosen.append(entry)
            held += entry.keys
        return LedgerView(self.store, chosen, reserved, limited_since)


def _entry(info: ObjectInfo) -> LedgerEntry | None:
    meta = info.metadata
    try:
        return LedgerEntry(
            name=info.name,
            source=meta["source"],
            generation=int(meta["generation"]),
            part=int(meta["part"]),
            keys=info.size // 8,
            job=meta.get("job", ""),
        )
    except (KeyError, ValueError):
        log.warning("ledger keys without their fields; ignored", extra={"keys": info.name})
        return None


def _part_state(job: Job | None, entry: LedgerEntry) -> PartState | None:
    """The part's state when it counts: None for a job gone or replaced by a rerun with other
    settings, never split (a check that died: its keys are leftovers), or finished without
    that part being uploaded."""
    if job is None or not job.is_split or job.key != entry.job:
        return None
    try:
        state = job.part(entry.part).state
    except KeyError:
        return None
    if state is not PartState.UPLOADED and job.status is not Status.PROCESSING:
        return None
    return state


class _JobCache:
    """Job states, each read once per ledger read."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self.loaded: dict[tuple[str, int], Job | None] = {}

    def job(self, source: str, generation: int) -> Job | None:
        key = (source, generation)
        if key not in self.loaded:
            found = self.jobs.load(source, generation)
            self.loaded[key] = found[0] if found is not None else None
        return self.loaded[key]


# --------------------------------------------------------------------------------- a file's turn


def window_days(routed: Route) -> float:
    """The window a file is checked with: metadata `ledger-window-days`, else the folder's
    `ledger_window_days` (metrika-offline.json), else `LEDGER_WINDOW_DAYS`."""
    return routed.ledger_window_days


@dataclasses.dataclass
class Turn:
    """What one file's check gets from the ledger."""

    mode: str  # "on", "resend" (keys written, none dropped) or "off"
    window_days: float
    view: LedgerView | None = None  # None: nothing is dropped
    staged: StagedKeys | None = None  # None: no keys written (dry run, or off)

    def summary(self) -> LedgerSummary:
        view = self.view
        if view is None:
            return LedgerSummary(self.mode, self.window_days)
        since = view.limited_since
        return LedgerSummary(
            self.mode,
            self.window_days,
            **view.counts(),
            limited_since=None if since is None else utc_iso(since),
        )


def _names(settings: Settings, job: Job) -> LedgerLayout | None:
    counter = job.routing.counter_id
    if counter is None:
        return None
    return WorkLayout(settings.work_prefix).ledger(counter, job.routing.type.value)


@contextlib.contextmanager
def ledger_turn(
    store: ObjectStore,
    jobs: JobStore,
    settings: Settings,
    job: Job,
    *,
    owner: str,
    clock: Callable[[], float],
) -> Iterator[Turn]:
    """Hold the ledger of the file's counter and type (if it has one) for its check: read
    it, and stage its parts' keys. ClaimHeld while another file holds it."""
    routed = job.routing
    days = window_days(routed)
    names = _names(settings, job)
    if names is None or routed.problem is not None or days <= 0:
        yield Turn("off", days)
        return
    source, generation = job.source.name, job.source.generation
    ledger = Ledger(store, jobs, names, clock=clock)
    dry = routed.mode is Mode.DRY_RUN
    if not dry:
        ledger.lock.acquire(owner, settings.lease_s, holder=source, job=f"{source}@{generation}")
    try:
        resend = routed.mode is Mode.RESEND
        view = None if resend else ledger.open(job, days * 86_400.0, settings.ledger_max_keys)
        staged = None if dry else StagedKeys(store, names, job)
        yield Turn("resend" if resend else "on", days, view, staged)
    finally:
        if not dry:
            ledger.lock.release(owner)


def record_uploaded(
    store: ObjectStore, settings: Settings, job: Job, index: int, now: float
) -> None:
    """The part's upload is recorded: its keys now count as sent (idempotent)."""
    names = _names(settings, job)
    if names is None or job.routing.ledger_window_days <= 0:
        return
    if job.part(index).state is PartState.UPLOADED:
        record_sent(store, names, job, index, now=now)
