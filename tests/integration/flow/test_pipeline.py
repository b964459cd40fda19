"""The pipeline in-process, on the emulated bucket (fake-gcs-server, through the tap) and the
fake Metrica: the paths that are hard to reach through the trigger."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from metrika_offline.config import Settings
from metrika_offline.errors import ClaimHeld, DeadlineReached
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.followup.pending import list_pending
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.record.job import PartState
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.client import MetrikaClient
from tests import samples
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika, Fault, Gate
from tests.schema import read_result

NAME = "incoming/5/leads.csv"
SETTINGS = Settings(max_event_age_s=3600)


@pytest.fixture
def pipeline(gcs_stack: GcsStack, metrika_client: MetrikaClient) -> Pipeline:
    return Pipeline(
        FlowContext.build(store=gcs_stack.store, settings=SETTINGS, metrika=metrika_client)
    )


def drop(stack: GcsStack, data: bytes, name: str = NAME) -> ObjectEvent:
    generation = stack.store.write_bytes(name, data, content_type="text/csv")
    return ObjectEvent(stack.bucket, name, generation, len(data), {}, "e", time.time())


def result(stack: GcsStack, name: str = NAME) -> dict[str, Any]:
    return read_result(stack.store, name)


def dispatch_part(pipeline: Pipeline, event: ObjectEvent) -> Callable[[], object]:
    return lambda: pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline())


def test_two_invocations_in_one_process_do_not_share_a_claim(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(gcs_stack, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())  # split and dispatched; nothing sent yet
    gate = fake_metrika.hold("upload")
    first = threading.Thread(target=dispatch_part(pipeline, event))
    first.start()
    assert gate.wait_for(1)
    with pytest.raises(ClaimHeld):
        dispatch_part(pipeline, event)()
    gate.release()
    first.join()
    assert len(fake_metrika.uploads) == 1
    assert result(gcs_stack)["status"] == "uploaded"


def test_an_event_too_old_gives_up_with_a_failed_result(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(gcs_stack, samples.basic_csv(3))
    stale = ObjectEvent(event.bucket, event.name, event.generation, event.size, {}, "e",
                        time.time() - 2 * 3600)  # fmt: skip
    pipeline.handle(stale)
    found = result(gcs_stack)
    assert found["status"] == "failed"
    assert found["error"]["code"] == "event-too-old"
    assert fake_metrika.journal == []


def test_an_overwrite_is_a_new_job_and_the_old_state_stays(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    now = time.time()
    first = drop(gcs_stack, samples.basic_csv(2, now=now))
    pipeline.process_source(first, Deadline())
    dispatch_part(pipeline, first)()
    second = drop(gcs_stack, samples.basic_csv(5, now=now))
    assert second.generation > first.generation
    pipeline.process_source(second, Deadline())
    dispatch_part(pipeline, second)()
    latest = result(gcs_stack)
    assert latest["source"]["generation"] == str(second.generation)
    # The first two rows went with the first generation: the ledger keeps them from going twice.
    assert (latest["rows"]["valid"], latest["rows"]["already_sent"]) == (3, 2)
    older = JobStore(gcs_stack.store, SETTINGS.work_prefix).load(NAME, first.generation)
    assert older is not None
    assert older[0].parts[0].state is PartState.UPLOADED
    assert [u.rows for u in fake_metrika.uploads] == [2, 3]


def test_a_deadline_hands_over_and_the_next_invocation_resumes(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(gcs_stack, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    passed = Deadline(at=0.0)  # the invocation's time is up before the POST
    with pytest.raises(DeadlineReached):
        pipeline.uploader.upload_part(event.name, event.generation, 1, passed)
    loaded = JobStore(gcs_stack.store, SETTINGS.work_prefix).load(NAME, event.generation)
    assert loaded is not None
    part = loaded[0].part(1)
    # Released for the next one, saying why; it is looked up in Metrica before it is sent.
    assert (part.state, part.lease) == (PartState.WAITING, None)
    assert part.wait is not None
    assert part.wait.code == "metrika-unavailable"
    dispatch_part(pipeline, event)()
    assert result(gcs_stack)["parts"][0]["attempts"] == 2
    assert len(fake_metrika.uploads) == 1


def test_a_source_gone_before_reading_fails_clearly(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(gcs_stack, samples.basic_csv(3))
    gcs_stack.store.delete(NAME)
    pipeline.process_source(event, Deadline())
    found = result(gcs_stack)
    assert (found["status"], found["error"]["code"]) == ("failed", "source-missing")
    assert fake_metrika.journal == []


def test_a_file_over_the_size_limit_is_rejected_at_once_with_the_limit(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    data = samples.basic_csv(50)
    settings = Settings(max_event_age_s=3600, max_source_bytes=len(data) - 1)
    pipeline = Pipeline(
        FlowContext.build(store=gcs_stack.store, settings=settings, metrika=metrika_client)
    )
    event = drop(gcs_stack, data)
    pipeline.process_source(event, Deadline())
    found = result(gcs_stack)
    assert (found["status"], found["error"]["code"]) == ("rejected", "too-large")
    assert "MAX_SOURCE_BYTES" in found["error"]["message"]
    assert f"{(len(data) - 1) / 1e9:.2f} GB" in found["error"]["message"]
    assert list(gcs_stack.store.list(settings.work_prefix + "parts/")) == []
    assert fake_metrika.journal == []


def test_an_owner_whose_lease_was_taken_over_stops_before_its_next_attempt(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    metrika_client: MetrikaClient,
    metrika_client_for: Callable[..., MetrikaClient],
) -> None:
    now = [time.time()]
    settings = Settings(max_event_age_s=3600, lease_s=60, invocation_timeout_s=50)
    taker = Pipeline(FlowContext.build(store=gcs_stack.store, settings=settings,
                                       metrika=metrika_client, clock=lambda: now[0]))  # fmt: skip
    event = drop(gcs_stack, samples.basic_csv(3))
    taker.process_source(event, Deadline())
    taking_over = threading.Thread(
        target=lambda: taker.uploader.upload_part(event.name, event.generation, 1, Deadline())
    )
    gates: list[Gate] = []

    def backoff_outlives_the_lease(_seconds: float) -> None:
        # While the first owner waits to retry, its lease runs out and a redelivered event
        # takes the part over: its upload is in flight when the first owner wakes up.
        if gates:
            return
        now[0] += settings.lease_s + 1
        gates.append(fake_metrika.hold("upload"))
        taking_over.start()
        assert gates[0].wait_for(1)

    slow = metrika_client_for(fake_metrika, sleep=backoff_outlives_the_lease)
    owner = Pipeline(
        FlowContext.build(
            store=gcs_stack.store, settings=settings, metrika=slow, clock=lambda: now[0]
        )
    )
    fake_metrika.script(Fault.http(503, endpoint="upload"))
    try:
        # A 503 to an upload may stand for one: the first owner looks its marker up before it
        # would send again, finds the new owner's upload and adopts it instead of sending.
        job = owner.uploader.upload_part(event.name, event.generation, 1, Deadline())
    finally:
        for gate in gates:
            gate.release()
        if gates:
            taking_over.join(timeout=30)
    attempts = [e for e in fake_metrika.journal if e.endpoint == "upload"]
    assert len(attempts) == 2  # the first owner's 503 and the new owner's upload; no third
    [made] = fake_metrika.uploads
    assert job is not None
    uploading = job.part(1).uploading
    assert uploading is not None
    assert uploading.id == made.id
    part = result(gcs_stack)["parts"][0]
    assert (part["state"], part["attempts"]) == ("uploaded", 2)


def test_a_part_event_again_indexes_an_upload_a_killed_worker_left_unindexed(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(gcs_stack, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    dispatch_part(pipeline, event)()
    layout = WorkLayout(SETTINGS.work_prefix)
    (entry,) = list_pending(gcs_stack.store, layout)
    # As if the worker died after recording the upload, before indexing it.
    gcs_stack.store.delete(entry.object_name)
    dispatch_part(pipeline, event)()  # the killed invocation's event, delivered again
    again = list_pending(gcs_stack.store, layout)
    assert [e.upload.uploading_id for e in again] == [entry.upload.uploading_id]
    assert len(fake_metrika.uploads) == 1
