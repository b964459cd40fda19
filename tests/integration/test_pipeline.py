"""The pipeline in-process, on the emulated bucket (through the precondition proxy) and the
fake Metrica: the paths that are hard to reach through the trigger."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from metrika_offline.config import Settings
from metrika_offline.errors import ClaimHeld, DeadlineReached
from metrika_offline.flow.events import ObjectEvent
from metrika_offline.flow.jobs import PartState
from metrika_offline.flow.jobstore import JobStore
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.metrika.client import MetrikaClient
from tests import samples
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika
from tests.schema import check_result

NAME = "incoming/5/leads.csv"
SETTINGS = Settings(max_event_age_s=3600)


@pytest.fixture
def pipeline(gcs_stack: GcsStack, metrika_client: MetrikaClient) -> Pipeline:
    return Pipeline(store=gcs_stack.store, settings=SETTINGS, metrika=metrika_client)


def drop(stack: GcsStack, data: bytes, name: str = NAME) -> ObjectEvent:
    generation = stack.store.write_bytes(name, data, content_type="text/csv")
    return ObjectEvent(stack.bucket, name, generation, len(data), {}, "e", time.time())


def result(stack: GcsStack, name: str = NAME) -> dict[str, Any]:
    found = stack.store.read_bytes(name + ".result.json")
    assert found is not None
    data: dict[str, Any] = json.loads(found[0])
    check_result(data)
    return data


def dispatch_part(pipeline: Pipeline, event: ObjectEvent) -> Callable[[], object]:
    return lambda: pipeline.upload_part(event.name, event.generation, 1, Deadline())


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
    first = drop(gcs_stack, samples.basic_csv(2))
    pipeline.process_source(first, Deadline())
    dispatch_part(pipeline, first)()
    second = drop(gcs_stack, samples.basic_csv(5))
    assert second.generation > first.generation
    pipeline.process_source(second, Deadline())
    dispatch_part(pipeline, second)()
    latest = result(gcs_stack)
    assert latest["source"]["generation"] == str(second.generation)
    assert latest["rows"]["valid"] == 5
    older = JobStore(gcs_stack.store, SETTINGS.work_prefix).load(NAME, first.generation)
    assert older is not None
    assert older[0].parts[0].state is PartState.UPLOADED
    assert [u.rows for u in fake_metrika.uploads] == [2, 5]


def test_a_deadline_hands_over_and_the_next_invocation_resumes(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(gcs_stack, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    passed = Deadline(at=0.0)  # the invocation's time is up before the POST
    with pytest.raises(DeadlineReached):
        pipeline.upload_part(event.name, event.generation, 1, passed)
    loaded = JobStore(gcs_stack.store, SETTINGS.work_prefix).load(NAME, event.generation)
    assert loaded is not None
    part = loaded[0].part(1)
    assert (part.state, part.lease) == (PartState.SENDING, None)  # released for the next one
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
