"""The seam between checking a file and uploading its parts: one task per part.

    checker ─► UploadQueue.enqueue(account, PartTask, name[, not_before]) ─► upload_part(task)

A task is named from its part's marker, so enqueueing it again (a redelivered source event
after a crash) is refused by name; "already exists" is done. A name refuses a second task for
a while only, and tasks come at least once: what makes a part go once is still the job state,
its leases and the marker look-up (`parts/upload.py`). A part that must wait is put back under a
name of its own (`wait_name`) with the time it may run again.

Queues: `CloudTasksQueue` (Cloud Tasks, one queue per Metrica account, see
`metrika_offline.tasks`); `InProcessQueue` runs each task at once in the caller (the CLI);
`HeldTasks` keeps them for whoever runs them (tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from metrika_offline.flow.record import codec
from metrika_offline.flow.record.job import Job
from metrika_offline.metrika.accounts import DEFAULT_ACCOUNT, MetrikaAccounts


@dataclasses.dataclass(frozen=True)
class PartTask:
    """The body of an upload task: which part of which generation of which file."""

    bucket: str
    source: str
    generation: int
    part: int

    def to_json(self) -> bytes:
        return codec.encode_json(self)

    @classmethod
    def from_json(cls, data: bytes) -> PartTask:
        return codec.from_json(data, cls)


class UploadQueue(Protocol):
    def enqueue(
        self, account: str, task: PartTask, name: str, *, not_before: float | None = None
    ) -> bool:
        """Queue `task` for `account`'s uploads; False when a task of that name exists."""
        ...


def task_name(marker: str) -> str:
    """The first task of a part: its marker (letters and digits, as task names allow)."""
    return marker


def wait_name(marker: str, attempt: int) -> str:
    """A part put back after its attempt `attempt`: a name the first task's does not block."""
    return f"{marker}-w{attempt}"


class InProcessQueue:
    """Runs each task at once, in the caller: the CLI's dispatcher. A wait is the caller's."""

    def __init__(self, run: Callable[[PartTask], object]) -> None:
        self.run = run

    def enqueue(
        self, account: str, task: PartTask, name: str, *, not_before: float | None = None
    ) -> bool:
        del account, name, not_before
        self.run(task)
        return True


@dataclasses.dataclass(frozen=True)
class Held:
    account: str
    task: PartTask
    name: str
    not_before: float | None


class HeldTasks:
    """Keeps the tasks, refusing a name it holds already, as Cloud Tasks does."""

    def __init__(self) -> None:
        self.tasks: list[Held] = []

    def enqueue(
        self, account: str, task: PartTask, name: str, *, not_before: float | None = None
    ) -> bool:
        if any(held.name == name for held in self.tasks):
            return False
        self.tasks.append(Held(account, task, name, not_before))
        return True


def account_of(metrika: MetrikaAccounts, job: Job) -> str:
    """The Metrica account whose queue the job's parts go on."""
    counter = job.routing.counter_id
    return metrika.account_of(counter) if counter is not None else DEFAULT_ACCOUNT
