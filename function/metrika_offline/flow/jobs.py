"""One job per (object, generation): its state, and the result JSON published from it.

The state lives under the work prefix (`WORK/jobs/<name>/<generation>.json`) and is only ever
changed with compare-and-swap writes, so concurrent invocations (duplicate events, parts
finishing together, overlapping polls) never lose each other's updates. The result JSON next
to the source (`<name>.result.json`) is the public projection of the latest generation's job;
an older generation's state stays findable under its own name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from metrika_offline.errors import ObjectNotFound, PreconditionFailed
from metrika_offline.logs import get_logger
from metrika_offline.store.base import OUTPUT_MARKER_KEY, ObjectStore

log = get_logger("jobs")

RESULT_SUFFIX = ".result.json"
REJECTS_SUFFIX = ".rejected.csv"
SCHEMA_VERSION = 1
_CAS_ATTEMPTS = 50


class Status(enum.StrEnum):
    PROCESSING = "processing"
    UPLOADED = "uploaded"
    PARTIALLY_UPLOADED = "partially_uploaded"
    REJECTED = "rejected"
    FAILED = "failed"
    VALIDATED = "validated"


FINAL_FILE_STATUSES = frozenset(Status) - {Status.PROCESSING}


class PartState(enum.StrEnum):
    PENDING = "pending"  # written, not sent yet
    SENDING = "sending"  # recorded before sending: the upload may exist in Metrica
    UPLOADED = "uploaded"  # Metrica answered with an uploading id
    FAILED = "failed"  # Metrica refused it, or we gave up


FINAL_PART_STATES = frozenset({PartState.UPLOADED, PartState.FAILED})


def utc_iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class Problem:
    """A file- or part-level error: a stable code, a message, and Metrica's own words if any."""

    code: str
    message: str
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **dict(self.details)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        rest = {k: v for k, v in data.items() if k not in {"code", "message"}}
        return cls(str(data["code"]), str(data["message"]), rest)


@dataclasses.dataclass(frozen=True)
class Lease:
    owner: str
    until: float  # Unix seconds

    def held_by_other(self, owner: str, now: float) -> bool:
        return self.owner != owner and self.until > now


@dataclasses.dataclass(frozen=True)
class Part:
    index: int
    name: str  # the part's object under the work prefix
    rows: int
    bytes: int
    marker: str
    comment: str
    state: PartState = PartState.PENDING
    attempts: int = 0
    lease: Lease | None = None
    uploading: Mapping[str, Any] | None = None
    error: Problem | None = None

    def to_json(self, *, public: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "name": self.name,
            "rows": self.rows,
            "bytes": self.bytes,
            "marker": self.marker,
            "comment": self.comment,
            "state": self.state.value,
            "attempts": self.attempts,
            "uploading": dict(self.uploading) if self.uploading is not None else None,
            "error": self.error.to_json() if self.error else None,
        }
        if not public:
            data["lease"] = dataclasses.asdict(self.lease) if self.lease else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Part:
        lease = data.get("lease")
        error = data.get("error")
        return cls(
            index=int(data["index"]),
            name=str(data["name"]),
            rows=int(data["rows"]),
            bytes=int(data["bytes"]),
            marker=str(data["marker"]),
            comment=str(data["comment"]),
            state=PartState(data["state"]),
            attempts=int(data.get("attempts", 0)),
            lease=Lease(str(lease["owner"]), float(lease["until"])) if lease else None,
            uploading=data.get("uploading"),
            error=Problem.from_json(error) if error else None,
        )


@dataclasses.dataclass(frozen=True)
class Source:
    bucket: str
    name: str
    generation: int
    size: int

    def to_json(self) -> dict[str, Any]:
        # Generations are int64: a string, as Cloud Storage itself writes them.
        return {
            "bucket": self.bucket,
            "name": self.name,
            "generation": str(self.generation),
            "size": self.size,
        }


@dataclasses.dataclass(frozen=True)
class Job:
    source: Source
    routing: Mapping[str, Any]
    status: Status = Status.PROCESSING
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    revision: int = 0
    lease: Lease | None = None
    split_attempts: int = 0
    check: Mapping[str, Any] | None = None  # the checker's report, without its parts
    parts: tuple[Part, ...] = ()
    rejects: str | None = None
    error: Problem | None = None
    metrika: Mapping[str, Any] | None = None  # Metrica's final word, filled by the follow-up

    @property
    def is_split(self) -> bool:
        return self.check is not None

    def part(self, index: int) -> Part:
        for part in self.parts:
            if part.index == index:
                return part
        raise KeyError(f"no part {index}")

    def with_part(self, part: Part) -> Job:
        parts = tuple(part if p.index == part.index else p for p in self.parts)
        return dataclasses.replace(self, parts=parts)

    def to_state_json(self) -> dict[str, Any]:
        data = self.to_result_json()
        data["parts"] = [p.to_json() for p in self.parts]
        data["internal"] = {
            "revision": self.revision,
            "lease": dataclasses.asdict(self.lease) if self.lease else None,
            "split_attempts": self.split_attempts,
            "created_at_s": self.created_at,
            "updated_at_s": self.updated_at,
            "finished_at_s": self.finished_at,
            "check": dict(self.check) if self.check is not None else None,
        }
        return data

    def to_result_json(self) -> dict[str, Any]:
        check = dict(self.check or {})
        rows = check.pop("rows", {"total": 0, "valid": 0, "invalid": 0, "duplicates": 0})
        errors = check.pop("errors", [])
        warnings = check.pop("warnings", [])
        if self.error is not None and not errors:
            errors = [
                {
                    "code": self.error.code,
                    "line": None,
                    "column": None,
                    "message": self.error.message,
                }
            ]
        return {
            "schema_version": SCHEMA_VERSION,
            "status": self.status.value,
            "source": self.source.to_json(),
            "routing": dict(self.routing),
            "rows": rows,
            "errors": errors,
            "warnings": warnings,
            "check": check or None,
            "parts": [p.to_json(public=True) for p in self.parts],
            "rejects": self.rejects,
            "error": self.error.to_json() if self.error else None,
            "metrika": dict(self.metrika) if self.metrika is not None else None,
            "created_at": utc_iso(self.created_at),
            "updated_at": utc_iso(self.updated_at),
            "finished_at": utc_iso(self.finished_at) if self.finished_at else None,
        }

    @classmethod
    def from_state_json(cls, data: Mapping[str, Any]) -> Job:
        src = data["source"]
        internal = data["internal"]
        lease = internal.get("lease")
        error = data.get("error")
        return cls(
            source=Source(src["bucket"], src["name"], int(src["generation"]), int(src["size"])),
            routing=data["routing"],
            status=Status(data["status"]),
            created_at=float(internal["created_at_s"]),
            updated_at=float(internal["updated_at_s"]),
            finished_at=internal.get("finished_at_s"),
            revision=int(internal["revision"]),
            lease=Lease(str(lease["owner"]), float(lease["until"])) if lease else None,
            split_attempts=int(internal.get("split_attempts", 0)),
            check=internal.get("check"),
            parts=tuple(Part.from_json(p) for p in data["parts"]),
            rejects=data.get("rejects"),
            error=Problem.from_json(error) if error else None,
            metrika=data.get("metrika"),
        )


def settle_status(job: Job) -> Status:
    """The file's status once every part is final (PROCESSING while any is not)."""
    if any(p.state not in FINAL_PART_STATES for p in job.parts):
        return Status.PROCESSING
    uploaded = sum(p.state is PartState.UPLOADED for p in job.parts)
    rows = (job.check or {}).get("rows", {})
    skipped = int(rows.get("invalid", 0)) > 0
    if uploaded == len(job.parts) and not skipped:
        return Status.UPLOADED
    if uploaded:
        return Status.PARTIALLY_UPLOADED
    refused = [p.error for p in job.parts if p.error is not None]
    if refused and all(e.code == "metrika-rejected" for e in refused):
        return Status.REJECTED
    return Status.FAILED


class JobStore:
    """Reads and compare-and-swap updates job state, and publishes the result JSON."""

    def __init__(
        self,
        store: ObjectStore,
        work_prefix: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.work_prefix = work_prefix
        self.clock = clock

    def state_name(self, source_name: str, generation: int) -> str:
        return f"{self.work_prefix}jobs/{source_name}/{generation}.json"

    @staticmethod
    def result_name(source_name: str) -> str:
        return source_name + RESULT_SUFFIX

    def load(self, source_name: str, generation: int) -> tuple[Job, int] | None:
        found = self.store.read_bytes(self.state_name(source_name, generation))
        if found is None:
            return None
        data, object_generation = found
        return Job.from_state_json(json.loads(data)), object_generation

    def create(self, job: Job) -> Job:
        """Create the state; PreconditionFailed if a job for this generation already exists."""
        now = self.clock()
        job = dataclasses.replace(job, created_at=now, updated_at=now, revision=1)
        self._write(job, if_generation_match=0)
        self.publish(job)
        return job

    def update(self, source_name: str, generation: int, change: Callable[[Job], Job | None]) -> Job:
        """Apply `change` with compare-and-swap until it sticks; None from `change` = no-op.

        `change` may raise to abort (the exception propagates and nothing is written).
        ObjectNotFound when there is no such job.
        """
        for _ in range(_CAS_ATTEMPTS):
            loaded = self.load(source_name, generation)
            if loaded is None:
                raise ObjectNotFound(f"no job state for {source_name}@{generation}")
            current, object_generation = loaded
            changed = change(current)
            if changed is None:
                return current
            changed = dataclasses.replace(
                changed, revision=current.revision + 1, updated_at=self.clock()
            )
            try:
                self._write(changed, if_generation_match=object_generation)
            except PreconditionFailed:
                continue
            self.publish(changed)
            return changed
        raise PreconditionFailed(f"job state for {source_name} kept changing under us")

    def _write(self, job: Job, *, if_generation_match: int) -> None:
        self.store.write_bytes(
            self.state_name(job.source.name, job.source.generation),
            json.dumps(job.to_state_json(), ensure_ascii=False, indent=1).encode(),
            content_type="application/json",
            metadata={OUTPUT_MARKER_KEY: "state"},
            if_generation_match=if_generation_match,
        )

    def publish(self, job: Job) -> None:
        """Write the result JSON unless a newer generation or revision is already there."""
        name = self.result_name(job.source.name)
        body = json.dumps(job.to_result_json(), ensure_ascii=False, indent=2).encode()
        mine = (job.source.generation, job.revision)
        for _ in range(_CAS_ATTEMPTS):
            info = self.store.stat(name)
            if info is not None:
                theirs = (
                    int(info.metadata.get("source-generation", "0")),
                    int(info.metadata.get("revision", "0")),
                )
                if theirs >= mine:
                    return
            try:
                self.store.write_bytes(
                    name,
                    body,
                    content_type="application/json",
                    metadata={
                        OUTPUT_MARKER_KEY: "result",
                        "source-generation": str(job.source.generation),
                        "revision": str(job.revision),
                    },
                    if_generation_match=info.generation if info else 0,
                )
            except PreconditionFailed:
                continue
            return
        log.warning("result JSON kept changing; left to the next update", extra={"result": name})
