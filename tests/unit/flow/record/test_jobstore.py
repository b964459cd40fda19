"""Job state: create-only claims, compare-and-swap updates that never lose a write, and the
published result that never goes back to an older generation or revision."""

from __future__ import annotations

import dataclasses
import json
import threading

import msgspec
import pytest

from metrika_offline.errors import PreconditionFailed
from metrika_offline.flow.record.job import Lease, PartState, Status
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.result import result_of
from tests.schema import check_result
from tests.unit.flow.record.helpers import job, part, report


def read_result(jobs: JobStore) -> dict[str, object]:
    found = jobs.store.read_bytes("incoming/a.csv.result.json")
    assert found is not None
    result: dict[str, object] = json.loads(found[0])
    check_result(result)
    return result


def test_a_generation_is_claimed_once(jobs: JobStore) -> None:
    jobs.create(job(lease=Lease("me", 1e12)))
    with pytest.raises(PreconditionFailed):
        jobs.create(job(lease=Lease("you", 1e12)))
    loaded = jobs.load("incoming/a.csv", 5)
    assert loaded is not None
    assert loaded[0].lease == Lease("me", 1e12)


def test_concurrent_updates_all_land(jobs: JobStore) -> None:
    jobs.create(job(parts=tuple(part(i) for i in range(1, 9))))
    start = threading.Barrier(8)

    def finish(index: int) -> None:
        start.wait()
        jobs.update(
            "incoming/a.csv",
            5,
            lambda j: j.with_part(dataclasses.replace(j.part(index), state=PartState.UPLOADED)),
        )

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loaded = jobs.load("incoming/a.csv", 5)
    assert loaded is not None
    assert [p.state for p in loaded[0].parts] == [PartState.UPLOADED] * 8
    assert loaded[0].revision == 9


def test_the_result_never_goes_back(jobs: JobStore) -> None:
    newer = jobs.create(job(generation=9, status=Status.VALIDATED))
    jobs.publish(newer)
    jobs.publish(jobs.create(job(generation=5, status=Status.FAILED)))  # a late, older event
    assert read_result(jobs)["source"] == msgspec.to_builtins(result_of(newer).source)
    jobs.update("incoming/a.csv", 9, lambda j: dataclasses.replace(j, status=Status.REJECTED))
    assert read_result(jobs)["status"] == "rejected"


def test_the_result_is_written_only_when_its_news_changes(jobs: JobStore) -> None:
    """Every write of the result is an event for the storage-triggered function."""
    name = "incoming/a.csv"
    created = jobs.create(job(generation=9, parts=(part(1, PartState.PENDING),)))
    assert jobs.store.stat(name + ".result.json") is None  # the claim alone is not news
    jobs.update(name, 9, lambda j: dataclasses.replace(j, status=Status.PROCESSING, check=report()))
    written = jobs.store.stat(name + ".result.json")
    assert written is not None
    sending = dataclasses.replace(
        created.parts[0], state=PartState.SENDING, attempts=1, lease=Lease("me", 2e9)
    )
    jobs.update(name, 9, lambda j: j.with_part(sending))  # taken, counted, leased: not news
    again = jobs.store.stat(name + ".result.json")
    assert again is not None
    assert again.generation == written.generation
    done = dataclasses.replace(sending, state=PartState.FAILED, lease=None)
    jobs.update(name, 9, lambda j: j.with_part(done))
    last = jobs.store.stat(name + ".result.json")
    assert last is not None
    assert last.generation != written.generation


def test_an_update_tells_what_it_changed_from(jobs: JobStore) -> None:
    created = jobs.create(job(parts=(part(1),)))
    change = jobs.update(
        "incoming/a.csv",
        5,
        lambda j: j.with_part(dataclasses.replace(j.part(1), state=PartState.SENDING)),
    )
    assert change.written
    assert change.before == created
    assert change.before.part(1).state is PartState.PENDING
    assert change.after.part(1).state is PartState.SENDING
    assert change.after.revision == created.revision + 1


def test_an_update_that_changes_nothing_writes_nothing(jobs: JobStore) -> None:
    created = jobs.create(job())
    change = jobs.update("incoming/a.csv", 5, lambda _: None)
    assert not change.written
    assert change.after is change.before
    assert change.after == created
    loaded = jobs.load("incoming/a.csv", 5)
    assert loaded is not None
    assert loaded[0].revision == created.revision
