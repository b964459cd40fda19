"""Reading the ledger: the keys sent within the window, and those reserved by parts not yet
final."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from metrika_offline.check.sent import EMPTY, Keys, held
from metrika_offline.errors import ClaimHeld, ObjectNotFound
from metrika_offline.flow.ledger.keys import record_sent
from metrika_offline.flow.ledger.lock import LedgerLock
from metrika_offline.flow.record.job import Job, PartState, Status
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import LedgerLayout
from metrika_offline.flow.record.result import utc_iso
from metrika_offline.logs import get_logger
from metrika_offline.store.base import ObjectInfo, ObjectStore

log = get_logger("ledger")

_READ_CHUNK = 1 << 23  # 8 MB: one read of a keys object at a time


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
