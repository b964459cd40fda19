"""Changes to a job's leases, as functions for `JobStore.update` (compare-and-swap).

A lease says who works on a job's check, or on one part's upload, and until when; another
worker may take over once it runs out. Handing a lease back early lets the next attempt start
at once: after a deadline, a transient fault, or a person's Ctrl-C.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection

from metrika_offline.errors import ClaimHeld
from metrika_offline.flow.record.job import Job, Lease, PartState, Wait

Change = Callable[[Job], Job | None]


def release_all(owners: Collection[str]) -> Change:
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


def renew_part(index: int, owner: str, until: float) -> Change:
    """Still ours? Hold it until `until`. Taken over? ClaimHeld: the new owner sends it."""

    def renew(current: Job) -> Job:
        part = current.part(index)
        if part.state is not PartState.SENDING or part.lease is None or part.lease.owner != owner:
            raise ClaimHeld(f"part {index} was taken over; its new owner sends it")
        return current.with_part(dataclasses.replace(part, lease=Lease(owner, until)))

    return renew


def release_part(index: int, owner: str) -> Change:
    """Let the next attempt take the part over at once; it stays `sending`."""

    def release(current: Job) -> Job | None:
        part = current.part(index)
        if part.lease is None or part.lease.owner != owner:
            return None
        return current.with_part(dataclasses.replace(part, lease=None))

    return release


def wait_part(index: int, owner: str, wait: Wait) -> Change:
    """Still ours? The part waits (`waiting`, with why and until when) and its lease goes."""

    def hold(current: Job) -> Job | None:
        part = current.part(index)
        if part.state is not PartState.SENDING or part.lease is None or part.lease.owner != owner:
            return None
        return current.with_part(
            dataclasses.replace(part, state=PartState.WAITING, wait=wait, lease=None)
        )

    return hold


def step_back(owner: str) -> Change:
    """Give the job's claim back without counting this as an attempt at checking (another
    file holds what this one needs: it waits, it did not fail)."""

    def release(current: Job) -> Job | None:
        if current.lease is None or current.lease.owner != owner:
            return None
        attempts = max(current.split_attempts - 1, 0)
        return dataclasses.replace(current, lease=None, split_attempts=attempts)

    return release
