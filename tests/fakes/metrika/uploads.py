"""Accepted uploads: what arrived, how each is scripted to end, and how Metrica shows them.

A new upload is `UPLOADED`, then `EXPORTED`, `MATCHED` and its final status (`PROCESSED`, or
the scripted `LINKAGE_FAILURE`), one step every `step_s` of the fake clock. `uploadings` lists
ONE type (BASIC when none is named: the documented default; the BASIC list of Metrica's tests
holds none of the counter's CALLS uploads), in the order the uploads were made: oldest first.
That order is not documented, and this reading breaks any code that assumes the newest come
first (`newest_first` gives that order, for contrast).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

from tests.fakes.metrika.clock import Clock

LIFECYCLE = ("UPLOADED", "EXPORTED", "MATCHED")
FINAL_STATUSES = ("PROCESSED", "LINKAGE_FAILURE")
_FIRST_ID = 1001


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How an accepted upload ends. `comment_contains` None applies to the next upload."""

    final_status: str = "PROCESSED"
    dropped_rows: int = 0
    linked: int | None = None  # None: every row that passed validation links
    user_not_found: int = 0
    goal_not_found: int = 0
    client_id_type: str | None = "CLIENT_ID"
    comment_contains: str | None = None

    def __post_init__(self) -> None:
        if self.final_status not in FINAL_STATUSES:
            raise ValueError(f"final_status must be one of {FINAL_STATUSES}")


@dataclasses.dataclass(frozen=True)
class FakeUpload:
    """An accepted upload."""

    id: int
    counter_id: int
    type: str
    comment: str
    bytes: int
    rows: int
    created_at: float  # the fake clock
    create_time: str
    outcome: Outcome


class Uploads:
    def __init__(self, clock: Clock, step_s: float, *, newest_first: bool = False) -> None:
        self._clock = clock
        self._step_s = step_s
        self._newest_first = newest_first
        self._uploads: dict[int, FakeUpload] = {}
        self._outcomes: list[Outcome] = []
        self._next_id = _FIRST_ID
        self._lock = threading.Lock()

    def script(self, *outcomes: Outcome) -> None:
        with self._lock:
            self._outcomes.extend(outcomes)

    def accept(self, *, counter_id: int, type: str, comment: str, bytes: int, rows: int) -> int:
        """Keep an upload, with the first scripted outcome that matches its comment."""
        with self._lock:
            outcome = Outcome()
            for index, candidate in enumerate(self._outcomes):
                wanted = candidate.comment_contains
                if wanted is None or wanted in comment:
                    outcome = self._outcomes.pop(index)
                    break
            now, created = self._clock.now(), _stamp(self._clock.utc())
            upload = FakeUpload(
                self._next_id, counter_id, type, comment, bytes, rows, now, created, outcome
            )
            return self._add(upload)

    def seed(self, counter_id: int, count: int, *, type: str, comment: str, age_s: float) -> None:
        with self._lock:
            start = self._clock.utc() - dt.timedelta(seconds=age_s)
            created_at = self._clock.now() - age_s
            for index in range(count):  # a second apart, the last `age_s` ago
                created = _stamp(start - dt.timedelta(seconds=count - index))
                upload = FakeUpload(
                    self._next_id, counter_id, type, comment, 100, 1, created_at, created, Outcome()
                )
                self._add(upload)

    def _add(self, upload: FakeUpload) -> int:
        self._uploads[upload.id] = upload
        self._next_id += 1
        return upload.id

    @property
    def all(self) -> list[FakeUpload]:
        with self._lock:
            return list(self._uploads.values())

    def counters(self) -> set[int]:
        with self._lock:
            return {upload.counter_id for upload in self._uploads.values()}

    def uploading(self, uploading_id: int, counter_id: int | None = None) -> dict[str, Any] | None:
        """Metrica's `uploading` object, as of the fake clock now; None for an unknown id or
        one of another counter."""
        with self._lock:
            upload = self._uploads.get(uploading_id)
        if upload is None or counter_id not in (None, upload.counter_id):
            return None
        return self._json(upload, self._clock.now())

    def listing(self, counter_id: int, kind: str | None) -> list[dict[str, Any]]:
        """`uploadings` of one type, BASIC when none is named."""
        wanted = kind or "BASIC"
        with self._lock:
            uploads = sorted(self._uploads.values(), key=lambda u: u.id, reverse=self._newest_first)
        now = self._clock.now()
        return [
            self._json(upload, now)
            for upload in uploads
            if upload.counter_id == counter_id and upload.type == wanted
        ]

    def _json(self, upload: FakeUpload, now: float) -> dict[str, Any]:
        outcome = upload.outcome
        age = max(0.0, now - upload.created_at)
        step = int(age // self._step_s) if self._step_s > 0 else len(LIFECYCLE)
        status = LIFECYCLE[step] if step < len(LIFECYCLE) else outcome.final_status
        final = status in FINAL_STATUSES
        lines = max(0, upload.rows - outcome.dropped_rows)
        linked = lines if outcome.linked is None else outcome.linked
        if outcome.final_status == "LINKAGE_FAILURE" and outcome.linked is None:
            linked = 0
        return {
            "id": upload.id,
            "create_time": upload.create_time,
            "source_quantity": upload.rows,
            "line_quantity": lines,
            "comment": upload.comment,
            "type": upload.type,
            "client_id_type": outcome.client_id_type,
            "status": status,
            "goal_not_found_quantity": outcome.goal_not_found if final else 0,
            "user_not_found_quantity": outcome.user_not_found if final else 0,
            "linked_quantity": linked if final else 0,
        }
