"""Promises the README makes about the flow, each pinned by a test that fails without it.

The pipeline runs in-process on a local folder store (generation preconditions enforced) and
against the fake Metrica over real HTTP, so each test drives one promise directly:

- a live claim on a file's check is never taken over;
- a part's upload gives up on an event older than `MAX_EVENT_AGE_S`;
- a check that keeps dying is given up after `MAX_SPLIT_ATTEMPTS`;
- a part's bytes leave the work prefix once Metrica has them, and its upload is indexed for
  the follow-up.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from metrika_offline import logs
from metrika_offline.config import Settings
from metrika_offline.errors import ClaimHeld, DeadlineReached
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.followup.pending import list_pending
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.queue import HeldTasks
from metrika_offline.flow.record.job import Job, PartState, Status
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.flow.source.refusals import MAX_SPLIT_ATTEMPTS
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.store.local import LocalStore
from tests import samples
from tests.fakes.metrika import FakeMetrika, Fault
from tests.schema import read_result

NAME = "incoming/5/leads.csv"
SETTINGS = Settings(max_event_age_s=3600)


class GatedStore(LocalStore):
    """A local store whose first read of one object waits until the test lets it go."""

    def __init__(self, root: Path, gated: str) -> None:
        super().__init__(root)
        self.gated = gated
        self.reading = threading.Event()
        self.go = threading.Event()

    def open_read(self, name: str, generation: int | None = None) -> IO[bytes]:
        if name == self.gated and not self.reading.is_set():
            self.reading.set()
            if not self.go.wait(timeout=30):
                raise TimeoutError("the test never let the read go")
        return super().open_read(name, generation)


@pytest.fixture
def store(tmp_path: Path) -> GatedStore:
    return GatedStore(tmp_path / "bucket", gated=NAME)


@pytest.fixture
def pipeline(store: GatedStore, metrika_client: MetrikaClient) -> Pipeline:
    store.go.set()  # ungated unless a test clears it
    return Pipeline(FlowContext.build(store=store, settings=SETTINGS, metrika=metrika_client))


def drop(store: LocalStore, data: bytes, *, age_s: float = 0.0) -> ObjectEvent:
    generation = store.write_bytes(NAME, data, content_type="text/csv")
    return ObjectEvent(store.bucket, NAME, generation, len(data), {}, "e", time.time() - age_s)


def result(store: LocalStore) -> dict[str, Any]:
    return read_result(store, NAME)


def names_under(store: LocalStore, prefix: str) -> list[str]:
    return [info.name for info in store.list(prefix)]


def test_a_live_claim_on_a_check_is_never_taken_over(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    store.go.clear()
    event = drop(store, samples.basic_csv(3))
    first = threading.Thread(target=pipeline.process_source, args=(event, Deadline()))
    first.start()
    try:
        assert store.reading.wait(timeout=30)  # the first invocation holds the claim, mid-check
        with pytest.raises(ClaimHeld):
            pipeline.process_source(event, Deadline())
    finally:
        store.go.set()
        first.join(timeout=60)
    assert not first.is_alive()
    assert result(store)["status"] == "processing"  # split once, by the first invocation
    assert len(names_under(store, f"{SETTINGS.work_prefix}parts/")) == 1
    # Nothing sent; only the counter's goals were read, once, by the claim holder.
    assert [e.endpoint for e in fake_metrika.journal] == ["goals"]


def test_a_part_event_too_old_gives_up_without_sending(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(store, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())  # split and dispatched; nothing sent yet
    late = time.time() - 2 * SETTINGS.max_event_age_s
    pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline(), event_time=late)
    found = result(store)
    assert found["status"] == "failed"
    assert found["parts"][0]["state"] == "failed"
    assert found["parts"][0]["error"]["code"] == "event-too-old"
    assert fake_metrika.uploads == []


def test_a_check_that_keeps_dying_is_given_up(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(store, samples.basic_csv(3))
    for _ in range(MAX_SPLIT_ATTEMPTS):  # each invocation runs out of time mid-check
        with pytest.raises(DeadlineReached):
            pipeline.process_source(event, Deadline(at=0.0))
    pipeline.process_source(event, Deadline())
    found = result(store)
    assert (found["status"], found["error"]["code"]) == ("failed", "split-gave-up")
    assert names_under(store, f"{SETTINGS.work_prefix}parts/") == []
    assert fake_metrika.journal == []


def test_the_check_before_the_limit_still_runs(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    """The twin of the test above: one attempt fewer is not given up."""
    event = drop(store, samples.basic_csv(3))
    for _ in range(MAX_SPLIT_ATTEMPTS - 1):
        with pytest.raises(DeadlineReached):
            pipeline.process_source(event, Deadline(at=0.0))
    pipeline.process_source(event, Deadline())
    pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline())
    assert result(store)["status"] == "uploaded"
    assert len(fake_metrika.uploads) == 1


def test_an_uploaded_part_leaves_the_work_prefix_and_is_indexed(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(store, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    parts = names_under(store, f"{SETTINGS.work_prefix}parts/")
    assert len(parts) == 1  # written by the split, waiting for its upload
    pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline())
    assert names_under(store, f"{SETTINGS.work_prefix}parts/") == []
    uploaded = result(store)["parts"][0]["uploading"]["id"]
    pending = [e.upload for e in list_pending(store, WorkLayout(SETTINGS.work_prefix))]
    assert [(p.counter_id, p.uploading_id, p.source, p.part) for p in pending] == [
        (5, uploaded, NAME, 1)
    ]
    assert [u.id for u in fake_metrika.uploads] == [uploaded]


def deliver_until_quiet(store: LocalStore, pipeline: Pipeline, first: ObjectEvent) -> int:
    """The trigger and the task queue, in-process: every object finalized since the last
    round is an event, and every task queued is run."""
    seen = {(info.name, info.generation) for info in store.list("")}
    queue = [first]
    delivered = ran = 0
    held = pipeline.queue
    assert isinstance(held, HeldTasks)
    while queue or ran < len(held.tasks):
        if queue:
            pipeline.handle(queue.pop(0), Deadline())
            delivered += 1
        while ran < len(held.tasks):
            pipeline.run_task(held.tasks[ran].task, Deadline())
            ran += 1
        for info in store.list(""):
            if (info.name, info.generation) not in seen:
                seen.add((info.name, info.generation))
                queue.append(
                    ObjectEvent(
                        store.bucket,
                        info.name,
                        info.generation,
                        info.size,
                        dict(info.metadata),
                        "e",
                        time.time(),
                    )
                )
    return delivered


def test_every_event_a_file_causes_settles_it_and_each_line_names_the_object(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    lines = io.StringIO()
    logs.configure("DEBUG", lines)
    try:
        event = drop(store, samples.basic_csv(3))
        delivered = deliver_until_quiet(store, pipeline, event)
    finally:
        logs.configure("INFO")
    assert result(store)["status"] == "uploaded"
    assert len(fake_metrika.uploads) == 1
    # the source, then the pipeline's own writes: the result beside it at least
    assert delivered >= 2
    entries = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert entries
    for entry in entries:
        assert entry["bucket"] == store.bucket
        assert entry["object"]
        assert entry["generation"].isdigit()
    about_source = [e for e in entries if e["object"] == NAME]
    assert {e["generation"] for e in about_source} == {str(event.generation)}
    assert any(e.get("event") == "file_result" and e["status"] == "uploaded" for e in entries)


def test_one_row_left_out_makes_the_file_partially_uploaded(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    one_bad = samples.basic_csv(3) + b"not-a-client-id,lead_form_sent,1795000000,1.00,RUB\n"
    event = drop(store, one_bad)
    pipeline.process_source(event, Deadline())
    pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline())
    found = result(store)
    assert (found["rows"]["valid"], found["rows"]["invalid"]) == (3, 1)
    assert found["status"] == "partially_uploaded"
    assert [u.rows for u in fake_metrika.uploads] == [3]


def test_a_part_left_sending_is_looked_up_by_its_marker_not_sent_again(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    """A worker that died after Metrica took the part but before recording it."""
    event = drop(store, samples.basic_csv(3))
    job = pipeline.process_source(event, Deadline())
    part = job.part(1)
    found = store.read_bytes(part.name)
    assert found is not None
    pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline())
    assert len(fake_metrika.uploads) == 1
    # Put back what the dead worker left: the part's bytes, and the part still `sending`.
    store.write_bytes(part.name, found[0], content_type="text/csv")
    jobs = JobStore(store, SETTINGS.work_prefix)

    def died_sending(current: Job) -> Job:
        left = dataclasses.replace(
            current.part(1), state=PartState.SENDING, lease=None, uploading=None
        )
        return dataclasses.replace(current.with_part(left), status=Status.PROCESSING)

    jobs.update(event.name, event.generation, died_sending)
    pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline())
    assert len(fake_metrika.uploads) == 1  # adopted, not sent twice
    settled = result(store)
    assert settled["status"] == "uploaded"
    assert settled["parts"][0]["uploading"]["id"] == fake_metrika.uploads[0].id


def test_a_refused_part_records_metricas_own_words(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(store, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    fake_metrika.script(
        Fault.http(400, "invalid_uploading", message="bad column", endpoint="upload")
    )
    pipeline.uploader.upload_part(event.name, event.generation, 1, Deadline())
    found = result(store)
    assert found["status"] == "rejected"
    part = found["parts"][0]
    assert part["state"] == "failed"
    error = part["error"]
    assert error["code"] == "metrika-rejected"
    assert (error["http_status"], error["error_type"], error["metrika_message"]) == (
        400,
        "invalid_uploading",
        "bad column",
    )
    assert "bad column" in error["message"]
    assert fake_metrika.uploads == []


def test_a_file_rejected_whole_is_final_and_names_its_rejected_rows(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    bad = b"ClientId,Target,DateTime\nnot-an-id,lead,1795000000\nalso-bad,lead,1795000000\n"
    event = drop(store, bad)
    pipeline.process_source(event, Deadline())
    found = result(store)
    assert found["status"] == "rejected"
    assert found["error"]["code"]
    assert found["finished_at"] is not None
    assert found["rejects"] == NAME + ".rejected.csv"
    assert store.stat(NAME + ".rejected.csv") is not None
    assert names_under(store, f"{SETTINGS.work_prefix}parts/") == []
    assert fake_metrika.journal == []


def test_a_file_still_uploading_is_not_final(
    store: GatedStore, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    event = drop(store, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    found = result(store)
    assert (found["status"], found["finished_at"], found["rejects"]) == ("processing", None, None)
    assert fake_metrika.uploads == []
