"""The job record: one per (object, generation), everything the exactly-once flow knows.

Typed all the way down: the routing decision (`Route`), the checker's report without its parts
(`Report`), each part's state and Metrica's `Uploading`, and Metrica's final word as a
`MetrikaReport`. JSON appears only at the edge (`record/codec.py`); `record/jobstore.py`
keeps the record in the object store with compare-and-swap writes. See docs/contract.md for
the states and how they move.
"""

from __future__ import annotations

import dataclasses
import enum

import msgspec

from metrika_offline.check.codes import Code
from metrika_offline.check.report import Report, WarningSummary
from metrika_offline.flow.record.route import Route
from metrika_offline.metrika.models import Uploading


class Status(enum.StrEnum):
    """The file's status, as the result JSON says it."""

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
    WAITING = "waiting"  # not before `Part.wait.not_before`; looked up in Metrica first
    UPLOADED = "uploaded"  # Metrica answered with an uploading id
    FAILED = "failed"  # Metrica refused it, or we gave up


FINAL_PART_STATES = frozenset({PartState.UPLOADED, PartState.FAILED})


class MetrikaOutcome(enum.StrEnum):
    """Metrica's final word on a whole file, from its parts' upload statuses."""

    PENDING = "pending"
    PROCESSED = "processed"
    PARTIALLY_PROCESSED = "partially_processed"
    LINKAGE_FAILURE = "linkage_failure"
    STATUS_UNKNOWN = "status_unknown"


FINAL_OUTCOMES = frozenset(MetrikaOutcome) - {MetrikaOutcome.PENDING}

#: Our own upload status, beside Metrica's: we stopped asking (POLL_GIVE_UP_S).
GAVE_UP = "STATUS_UNKNOWN"


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """A file- or part-level error: a stable code, a message, and Metrica's own words if any
    (left out of the JSON when Metrica said nothing)."""

    code: str
    message: str
    http_status: int | None = None
    error_type: str | None = None
    metrika_message: str | None = None


@dataclasses.dataclass(frozen=True)
class Wait:
    """Why a part waits, and from when it is sent again (a scheduled task's time, later).

    Codes: `metrika-not-ready` (a new counter; the date Metrica named), `metrika-daily-quota`
    (QUOTA_RETRY_S), `marker-search-unfinished` and `metrika-unavailable` (at once: the next
    delivery or run looks the part up in Metrica, then sends it only if it is not there).
    """

    code: str
    message: str
    not_before: float  # Unix seconds

    def due(self, now: float) -> bool:
        return now >= self.not_before


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
    uploading: Uploading | None = None
    error: Problem | None = None
    wait: Wait | None = None  # only while `waiting`

    @property
    def waits(self) -> bool:
        """Waiting for a time, not for a worker."""
        return self.state is PartState.WAITING and self.wait is not None

    @property
    def awaits_metrika(self) -> bool:
        """Uploaded, and Metrica has not said how it ended (nor have we given up asking)."""
        return (
            self.state is PartState.UPLOADED
            and self.uploading is not None
            and not self.uploading.is_final
            and self.uploading.status != GAVE_UP
        )


@dataclasses.dataclass(frozen=True)
class Source:
    bucket: str
    name: str
    generation: int
    size: int


@dataclasses.dataclass(frozen=True)
class MetrikaReport:
    """What Metrica made of the file's uploads, summed over its parts."""

    outcome: MetrikaOutcome
    checked_at: str  # ISO 8601, UTC
    rows_sent: int = 0
    source_quantity: int = 0
    line_quantity: int = 0
    linked_quantity: int = 0
    user_not_found_quantity: int = 0
    goal_not_found_quantity: int = 0
    warnings: tuple[WarningSummary, ...] = ()


@dataclasses.dataclass(frozen=True)
class Job:
    source: Source
    routing: Route
    status: Status = Status.PROCESSING
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    revision: int = 0
    lease: Lease | None = None
    split_attempts: int = 0
    check: Report | None = None  # the checker's report, without its parts
    parts: tuple[Part, ...] = ()
    rejects: str | None = None
    error: Problem | None = None
    metrika: MetrikaReport | None = None  # Metrica's final word, filled by the follow-up
    key: str = ""  # the routing and check settings' fingerprint (`rerun.job_key`)
    restarted: int = 0  # times this generation's job was started over (parts look up first)
    notified: tuple[str, ...] = ()  # the notifications claimed (`flow/followup/news.py`)

    @property
    def is_split(self) -> bool:
        return self.check is not None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_FILE_STATUSES

    def part(self, index: int) -> Part:
        for part in self.parts:
            if part.index == index:
                return part
        raise KeyError(f"no part {index}")

    def with_part(self, part: Part) -> Job:
        parts = tuple(part if p.index == part.index else p for p in self.parts)
        return dataclasses.replace(self, parts=parts)


def settle_status(job: Job) -> Status:
    """The file's status once every part is final (PROCESSING while any is not)."""
    if any(p.state not in FINAL_PART_STATES for p in job.parts):
        return Status.PROCESSING
    uploaded = sum(p.state is PartState.UPLOADED for p in job.parts)
    skipped = job.check is not None and job.check.rows.invalid > 0
    if uploaded == len(job.parts) and not skipped:
        return Status.UPLOADED
    if uploaded:
        return Status.PARTIALLY_UPLOADED
    refused = [p.error for p in job.parts if p.error is not None]
    if refused and all(e.code == Code.METRIKA_REJECTED for e in refused):
        return Status.REJECTED
    return Status.FAILED
