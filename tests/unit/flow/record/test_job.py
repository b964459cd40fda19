"""The job record itself: a file's status settled from its parts, the record reading back as it
was written, and a lease held at its boundary."""

from __future__ import annotations

import msgspec
import pytest

from metrika_offline.flow.record.job import Lease, PartState, Problem, Status, settle_status
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.metrika.models import Uploading
from tests.unit.flow.record.helpers import ROWS, job, part, report

NOW = 1_795_000_000.0


def uploading(uploading_id: int, status: str) -> Uploading:
    return Uploading(uploading_id, "2026-11-30 10:00:00", 2, 2, "c", "BASIC", None, status, 0, 0, 0)


def test_state_round_trips(jobs: JobStore) -> None:
    original = job(
        check=report(),
        parts=(
            part(1, PartState.UPLOADED, uploading=uploading(9, "PREPARED")),
            part(2, PartState.FAILED, error=Problem("metrika-rejected", "no", http_status=4)),
        ),
    )
    created = jobs.create(original)
    loaded = jobs.load("incoming/a.csv", 5)
    assert loaded is not None
    assert loaded[0] == created


@pytest.mark.parametrize(
    ("states", "invalid", "expected"),
    [
        ((PartState.UPLOADED, PartState.UPLOADED), 0, Status.UPLOADED),
        ((PartState.UPLOADED, PartState.UPLOADED), 3, Status.PARTIALLY_UPLOADED),
        ((PartState.UPLOADED, PartState.FAILED), 0, Status.PARTIALLY_UPLOADED),
        ((PartState.FAILED, PartState.FAILED), 0, Status.REJECTED),
        ((PartState.UPLOADED, PartState.SENDING), 0, Status.PROCESSING),
    ],
)
def test_settling_a_file(states: tuple[PartState, ...], invalid: int, expected: Status) -> None:
    error = Problem("metrika-rejected", "refused")
    parts = tuple(
        part(i, s, error=error if s is PartState.FAILED else None) for i, s in enumerate(states, 1)
    )
    settled = settle_status(
        job(parts=parts, check=report(msgspec.structs.replace(ROWS, invalid=invalid)))
    )
    assert settled is expected


def test_auth_failures_make_a_failed_file() -> None:
    parts = (part(1, PartState.FAILED, error=Problem("metrika-auth", "bad token")),)
    assert settle_status(job(parts=parts, check=report())) is Status.FAILED


def test_a_lease_is_held_only_by_another_owner_and_only_before_it_ends() -> None:
    lease = Lease("a", until=NOW + 10)
    assert lease.held_by_other("b", NOW)
    assert not lease.held_by_other("a", NOW)  # one's own live lease never blocks
    assert not lease.held_by_other("b", NOW + 10)  # at its end it may be taken over
    assert not lease.held_by_other("b", NOW + 11)
