"""The job's state machine: every change to a job's record, as a named pure function.

Each transition is built from its parameters and returns a `Transition`, a function from the
job as stored to the job as it should be stored, or None for "nothing to do". `JobStore.update`
applies it with compare-and-swap (so it may run more than once) and stamps `revision` and
`updated_at`; a transition may raise `ClaimHeld` to abort the write. Nothing here reads a
clock, a store or the network: `now` and every lease's end come in as parameters, so each
transition is tested alone (docs/contract.md lists them).

A lease says who works on a job's check, or on one part's upload, and until when; another
worker may take over once it runs out. Handing a lease back early lets the next attempt start
at once: after a deadline, a transient fault, or a person's Ctrl-C.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping

from metrika_offline.check.report import Report
from metrika_offline.errors import ClaimHeld
from metrika_offline.flow.record.job import (
    FINAL_FILE_STATUSES,
    FINAL_PART_STATES,
    GAVE_UP,
    Job,
    Lease,
    Part,
    PartState,
    Problem,
    Status,
    Wait,
    settle_status,
)
from metrika_offline.flow.record.metrika_report import outcome_of
from metrika_offline.metrika.models import Uploading

Transition = Callable[[Job], Job | None]

# ------------------------------------------------------------------------------- the check


def claim_check(
    fresh: Job, owner: str, now: float, until: float, *, start_over: Callable[[Job], bool]
) -> Transition:
    """Claim an existing job's check for `owner` (the first claim creates `fresh` instead).

    Nothing to do when the file is split or final and `start_over(current)` says no. A live
    lease elsewhere on the check (or, starting over, on any part) is ClaimHeld. Starting over
    puts `fresh` in its place (`restarted` + 1, created now); else an abandoned check is taken
    over: a new lease, one attempt more.
    """

    def claim(current: Job) -> Job | None:
        again = start_over(current)
        if not again and (current.is_split or current.is_final):
            return None
        held = [current.lease, *(p.lease for p in current.parts if again)]
        if any(lease is not None and lease.held_by_other(owner, now) for lease in held):
            name, generation = current.source.name, current.source.generation
            raise ClaimHeld(f"{name}@{generation} is being worked on elsewhere")
        if again:
            # The revision goes on from the old job's, so the new result replaces its own.
            return dataclasses.replace(fresh, created_at=now, restarted=current.restarted + 1)
        return dataclasses.replace(
            current, lease=Lease(owner, until), split_attempts=current.split_attempts + 1
        )

    return claim


def step_back(owner: str) -> Transition:
    """Give the job's claim back without counting this as an attempt at checking (another
    file holds what this one needs: it waits, it did not fail)."""

    def release(current: Job) -> Job | None:
        if current.lease is None or current.lease.owner != owner:
            return None
        attempts = max(current.split_attempts - 1, 0)
        return dataclasses.replace(current, lease=None, split_attempts=attempts)

    return release


def check_ran_out(owner: str) -> Transition:
    """The deadline came mid-check: drop `owner`'s lease, so the next delivery starts at once.
    A lease another worker took over meanwhile is theirs: left as it is."""

    def drop(current: Job) -> Job | None:
        if current.lease is None or current.lease.owner != owner:
            return None
        return dataclasses.replace(current, lease=None)

    return drop


def record_check(
    owner: str,
    report: Report,
    *,
    parts: tuple[Part, ...],
    rejects: str | None,
    status: Status,
    problem: Problem | None,
    now: float,
) -> Transition:
    """Write the check's outcome (the report without its parts, the parts, the rejects'
    name, the file's status), if `owner` still holds the claim; else ClaimHeld."""

    def record(current: Job) -> Job:
        if current.lease is None or current.lease.owner != owner:
            raise ClaimHeld("another worker took this check over; it will finish it")
        return dataclasses.replace(
            current,
            check=dataclasses.replace(report, parts=()),
            parts=parts,
            rejects=rejects,
            lease=None,
            status=status,
            error=problem,
            finished_at=now if status in FINAL_FILE_STATUSES else None,
        )

    return record


def finish_file(status: Status, problem: Problem, now: float) -> Transition:
    """The file ends before any part is made: its status and why, and no lease."""

    def finish(current: Job) -> Job:
        return dataclasses.replace(
            current, status=status, error=problem, lease=None, finished_at=now
        )

    return finish


def release_all(owners: Collection[str]) -> Transition:
    """Hand back every lease (the job's, each part's) that one of `owners` holds.

    A part that was being sent stays `sending`: the next attempt looks its marker up first.
    """

    def release(current: Job) -> Job | None:
        changed = current
        if current.lease is not None and current.lease.owner in owners:
            changed = dataclasses.replace(changed, lease=None)
        for part in current.parts:
            if part.lease is not None and part.lease.owner in owners:
                changed = changed.with_part(dataclasses.replace(part, lease=None))
        return None if changed is current else changed

    return release


# ------------------------------------------------------------------------------- a part


def claim_part(index: int, owner: str, now: float, until: float) -> Transition:
    """Claim part `index` for one upload attempt: `sending`, one attempt more, a lease until
    `until`. Nothing to do when the part or the file is final, or the part waits and its
    time has not come; ClaimHeld when a live lease elsewhere holds it."""

    def claim(current: Job) -> Job | None:
        part = current.part(index)
        if part.state in FINAL_PART_STATES or current.is_final:
            return None
        if part.waits and part.wait is not None and not part.wait.due(now):
            return None  # not yet: the follow-up (or the same command) sends it then
        if part.lease is not None and part.lease.held_by_other(owner, now):
            raise ClaimHeld(f"part {index} is being uploaded elsewhere")
        return current.with_part(
            dataclasses.replace(
                part,
                state=PartState.SENDING,
                attempts=part.attempts + 1,
                lease=Lease(owner, until),
                wait=None,
            )
        )

    return claim


def renew_part(index: int, owner: str, until: float) -> Transition:
    """Still ours? Hold it until `until`. Taken over? ClaimHeld: the new owner sends it."""

    def renew(current: Job) -> Job:
        part = current.part(index)
        if part.state is not PartState.SENDING or part.lease is None or part.lease.owner != owner:
            raise ClaimHeld(f"part {index} was taken over; its new owner sends it")
        return current.with_part(dataclasses.replace(part, lease=Lease(owner, until)))

    return renew


def release_part(index: int, owner: str) -> Transition:
    """Let the next attempt take the part over at once; it stays `sending`."""

    def release(current: Job) -> Job | None:
        part = current.part(index)
        if part.lease is None or part.lease.owner != owner:
            return None
        return current.with_part(dataclasses.replace(part, lease=None))

    return release


def wait_part(index: int, owner: str, wait: Wait) -> Transition:
    """Still ours? The part waits (`waiting`, with why and until when) and its lease goes."""

    def hold(current: Job) -> Job | None:
        part = current.part(index)
        if part.state is not PartState.SENDING or part.lease is None or part.lease.owner != owner:
            return None
        return current.with_part(
            dataclasses.replace(part, state=PartState.WAITING, wait=wait, lease=None)
        )

    return hold


def finish_part(
    index: int, uploading: Uploading | None, problem: Problem | None, now: float
) -> Transition:
    """Part `index` is `uploaded` (with Metrica's `uploading`) or, with a problem, `failed`;
    its lease goes. Once every part is final, so is the file (`settle_status`)."""

    def finish(current: Job) -> Job:
        part = dataclasses.replace(
            current.part(index),
            state=PartState.UPLOADED if problem is None else PartState.FAILED,
            lease=None,
            uploading=uploading,
            error=problem,
        )
        updated = current.with_part(part)
        status = settle_status(updated)
        if status is not Status.PROCESSING:
            updated = dataclasses.replace(updated, status=status, finished_at=now)
        return updated

    return finish


# ------------------------------------------------------------------------------- follow-up


@dataclasses.dataclass(frozen=True)
class UploadNews:
    """What one round learned about one upload: Metrica's answer (if any), and whether we
    have waited long enough to stop asking."""

    upload_id: int
    answer: Uploading | None
    gave_up: bool

    def applied_to(self, current: Uploading) -> Uploading:
        known = self.answer or current
        if self.gave_up and not known.is_final:
            return dataclasses.replace(known, status=GAVE_UP)
        return known


def awaits(job: Job, index: int, uploading_id: int) -> bool:
    """True while the job's part `index` is this upload, waiting for Metrica's final word."""
    part = next((p for p in job.parts if p.index == index), None)
    return (
        part is not None
        and part.uploading is not None
        and part.uploading.id == uploading_id
        and part.awaits_metrika
    )


def record_metrika_news(news: Mapping[int, UploadNews], now: float) -> Transition:
    """Write Metrica's answers (or "gave up") into the parts still awaiting that very upload,
    and the file's outcome from them; nothing to do when no part changed."""

    def record(current: Job) -> Job | None:
        updated = current
        for index, item in news.items():
            if not awaits(updated, index, item.upload_id):
                continue  # the job was started over since: not this part's upload
            part = updated.part(index)
            if part.uploading is None:
                continue
            uploading = item.applied_to(part.uploading)
            if uploading != part.uploading:
                updated = updated.with_part(dataclasses.replace(part, uploading=uploading))
        if updated is current:
            return None
        return dataclasses.replace(updated, metrika=outcome_of(updated, now))

    return record


def claim_news(key: str) -> Transition:
    """Claim one notification (its key into `notified`); nothing to do when it is there."""

    def claim(current: Job) -> Job | None:
        if key in current.notified:
            return None
        return dataclasses.replace(current, notified=(*current.notified, key))

    return claim
