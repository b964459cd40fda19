"""The seam between the checker and the uploads, in-process: the checker queues one task per
part and never uploads; a task queued again is refused by its name; Metrica's "not before"
puts the part back for then under a name of its own; the work state stays out of the input
bucket."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from metrika_offline.config import Settings
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.queue import HeldTasks, task_name
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.store.gcs import GcsStore
from tests import samples
from tests.fakes.gcs import LocalGcs
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika, Fault
from tests.schema import read_result

NAME = "incoming/5/calls/big.csv"
SETTINGS = Settings(max_event_age_s=3600, max_part_bytes=4096)


@pytest.fixture
def work(local_gcs: LocalGcs, gcs_stack: GcsStack) -> Iterator[GcsStore]:
    bucket = f"w-{uuid.uuid4().hex[:24]}"
    local_gcs.server.create_bucket(bucket)
    try:
        yield GcsStore(gcs_stack.client, bucket)
    finally:
        local_gcs.server.delete_bucket(bucket)


def pipeline_for(stack: GcsStack, work: GcsStore, client: MetrikaClient) -> Pipeline:
    return Pipeline(
        FlowContext.build(store=stack.store, work=work, settings=SETTINGS, metrika=client)
    )


def drop(stack: GcsStack, data: bytes) -> ObjectEvent:
    generation = stack.store.write_bytes(NAME, data, content_type="text/csv")
    return ObjectEvent(stack.bucket, NAME, generation, len(data), {}, "e", time.time())


def test_the_checker_queues_a_task_per_part_and_never_uploads(
    gcs_stack: GcsStack, work: GcsStore, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    pipeline = pipeline_for(gcs_stack, work, metrika_client)
    queue = pipeline.queue
    assert isinstance(queue, HeldTasks)
    event = drop(gcs_stack, samples.big_calls_csv(200))
    job = pipeline.process_source(event, Deadline())
    assert len(job.parts) > 1
    assert [h.name for h in queue.tasks] == [task_name(p.marker) for p in job.parts]
    assert {h.account for h in queue.tasks} == {"default"}
    assert fake_metrika.uploads == []  # checking never uploads
    pipeline.process_source(event, Deadline())  # the event again: every name is taken
    assert len(queue.tasks) == len(job.parts)
    for held in list(queue.tasks):
        pipeline.run_task(held.task, Deadline())
        pipeline.run_task(held.task, Deadline())  # a task delivered twice: sent once
    assert len(fake_metrika.uploads) == len(job.parts)
    assert read_result(gcs_stack.store, NAME)["status"] == "uploaded"
    # The input bucket holds the drop and what was written beside it; the rest is work's.
    names = {info.name for info in gcs_stack.store.list("")}
    assert names == {NAME, NAME + ".result.json"}
    assert any(info.name.startswith("metrika-offline/jobs/") for info in work.list(""))


def test_a_quota_with_a_time_puts_the_part_back_for_then(
    gcs_stack: GcsStack, work: GcsStore, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    pipeline = pipeline_for(gcs_stack, work, metrika_client)
    queue = pipeline.queue
    assert isinstance(queue, HeldTasks)
    job = pipeline.process_source(drop(gcs_stack, samples.basic_csv(3)), Deadline())
    (first,) = queue.tasks
    fake_metrika.script(Fault.quota(retry_after=3600, endpoint="upload"))
    before = time.time()
    assert pipeline.run_task(first.task, Deadline()) is None  # put back, not failed
    assert fake_metrika.uploads == []
    (_, again) = queue.tasks
    assert again.task == first.task
    assert again.name != first.name  # the first task's name does not block it
    assert again.not_before is not None
    assert before + 3600 <= again.not_before <= time.time() + 3600
    pipeline.run_task(again.task, Deadline())
    assert len(fake_metrika.uploads) == 1
    assert read_result(gcs_stack.store, NAME)["parts"][0]["marker"] == job.parts[0].marker
