"""The functions SIGKILLed at several points, then the work delivered again: every part is
uploaded exactly once and the result is complete.

The trigger retries a source event that got no answer, and the queue a task that got none;
the restarted function finds the dead worker's lease, asks to be retried until it expires,
then takes over from what the job state recorded. The work bucket has no trigger: a test
watches its writes with an observer of its own, to kill at the right one.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from metrika_offline.flow.followup.pending import list_pending
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout
from tests import samples
from tests.e2e.conftest import SHORT_LEASE, LocalStack
from tests.fakes.function import FunctionServer
from tests.fakes.gcs_events import EventSource
from tests.fakes.metrika import Fault

pytestmark = pytest.mark.slow

ROWS = 200
NAME = "incoming/1/calls/big.csv"


class KillOnce:
    """SIGKILLs `victim` at the first call whose name contains `fragment`."""

    def __init__(self, victim: FunctionServer, fragment: str) -> None:
        self.victim = victim
        self.fragment = fragment
        self.killed = threading.Event()
        self._lock = threading.Lock()
        self._matched = False

    def __call__(self, name: str) -> None:
        with self._lock:
            if self._matched or self.fragment not in name:
                return
            self._matched = True
        self.victim.kill()
        self.killed.set()  # only now may the test start a fresh instance


@pytest.fixture
def work_writes(local_stack: LocalStack) -> Iterator[EventSource]:
    """Every object finalized in the work bucket, for observers only (it triggers nothing)."""
    watched = EventSource()
    local_stack.gcs.local.tap.watchers[local_stack.work.bucket] = watched
    try:
        yield watched
    finally:
        del local_stack.gcs.local.tap.watchers[local_stack.work.bucket]
        watched.close()


def on_write(source: EventSource, kill: KillOnce) -> Callable[[], None]:
    def observe(resource: Mapping[str, Any]) -> None:
        kill(str(resource["name"]))

    return source.on_finalize(observe)


def run_until_killed(stack: LocalStack, kill: KillOnce) -> dict[str, Any]:
    stack.drop(NAME, samples.big_calls_csv(ROWS))
    assert kill.killed.wait(60), f"never reached {kill.fragment!r}"
    kill.victim.start()  # a fresh instance on the same address
    stack.settle(timeout=120)
    return stack.result(NAME)


def assert_each_part_uploaded_once(stack: LocalStack, result: dict[str, Any]) -> None:
    assert result["status"] == "uploaded"
    uploads = stack.uploads()
    assert sorted(u.comment for u in uploads) == sorted(p["comment"] for p in result["parts"])
    assert sum(u.rows for u in uploads) == ROWS
    ids = {p["uploading"]["id"] for p in result["parts"]}
    assert ids == {u.uploading_id for u in uploads}
    # Every upload is indexed for the follow-up, whatever the kill interrupted.
    pending = list_pending(stack.work, WorkLayout("metrika-offline/"))
    assert sorted(p.upload.uploading_id for p in pending) == sorted(ids)


def split_attempts(stack: LocalStack, result: dict[str, Any]) -> int:
    loaded = JobStore(stack.work, "metrika-offline/").load(
        NAME, int(result["source"]["generation"])
    )
    assert loaded is not None
    return loaded[0].split_attempts


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
def test_checker_killed_mid_split(local_stack: LocalStack, work_writes: EventSource) -> None:
    kill = KillOnce(local_stack.function, "/parts/")  # the first part was just written
    on_write(work_writes, kill)
    result = run_until_killed(local_stack, kill)
    assert_each_part_uploaded_once(local_stack, result)
    assert split_attempts(local_stack, result) == 2  # the check was taken over and done again


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
def test_checker_killed_between_recording_the_parts_and_queueing_them(
    local_stack: LocalStack,
) -> None:
    """The first result written is the verdict, recorded with the parts in the same job update,
    before any task is queued: killed there, the redelivered event queues them."""
    kill = KillOnce(local_stack.function, ".result.json")
    on_write(local_stack.gcs.events, kill)
    result = run_until_killed(local_stack, kill)
    assert_each_part_uploaded_once(local_stack, result)
    assert split_attempts(local_stack, result) == 1  # the parts were recorded: no new check
    assert {d.task for d in local_stack.tap.deliveries} >= {p["marker"] for p in result["parts"]}


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
def test_uploader_killed_right_after_recording_an_upload(
    local_stack: LocalStack, work_writes: EventSource
) -> None:
    kill = KillOnce(local_stack.uploader, "/pending/")  # recorded, the task not answered
    on_write(work_writes, kill)
    result = run_until_killed(local_stack, kill)
    assert_each_part_uploaded_once(local_stack, result)


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
def test_uploader_killed_while_metrica_holds_the_upload(local_stack: LocalStack) -> None:
    gate = local_stack.metrika.hold("upload")
    local_stack.drop(NAME, samples.big_calls_csv(ROWS))
    assert gate.wait_for(1, timeout=60)
    local_stack.uploader.kill()  # the body arrived; the answer never will
    gate.release()
    local_stack.uploader.start()
    local_stack.settle(timeout=120)
    result = local_stack.result(NAME)
    assert_each_part_uploaded_once(local_stack, result)
    adopted = [p for p in result["parts"] if p["attempts"] > 1]
    assert adopted, "the interrupted part should have been resumed by a second attempt"


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
@pytest.mark.parametrize("tap_options", [{"duplicates": 2}], indirect=True)
def test_every_task_delivered_twice_at_once(local_stack: LocalStack) -> None:
    local_stack.gcs.events.duplicates = 2
    local_stack.drop(NAME, samples.big_calls_csv(ROWS))
    local_stack.settle(timeout=120)
    result = local_stack.result(NAME)
    assert_each_part_uploaded_once(local_stack, result)
    twice = {d.task for d in local_stack.tap.deliveries if d.copy == 1}
    assert len(twice) >= len(result["parts"])


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
@pytest.mark.parametrize("tap_options", [{"duplicates": 2}], indirect=True)
def test_four_in_ten_metrica_calls_fail(local_stack: LocalStack) -> None:
    """A seeded 40% of upload calls answer 503, 429 or nothing at all (sent, unanswered)."""
    rng = random.Random(22)
    failures = itertools.cycle(
        [
            Fault.http(503, endpoint="upload"),
            Fault.drop("upload"),
            Fault.quota(retry_after=1, endpoint="upload"),
        ]
    )
    script = [
        next(failures) if rng.random() < 0.4 else Fault.slow(0.0, "upload") for _ in range(40)
    ]
    assert 10 <= sum(f.kind != "slow" for f in script) <= 22
    local_stack.metrika.script(*script)
    local_stack.drop(NAME, samples.big_calls_csv(ROWS))
    local_stack.settle(timeout=240)
    assert_each_part_uploaded_once(local_stack, local_stack.result(NAME))
