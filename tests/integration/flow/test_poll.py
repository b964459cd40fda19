"""The follow-up poller against the fake Metrica (its clock moved by the test, no sleeping)
and the emulated bucket (fake-gcs-server)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from metrika_offline import logs
from metrika_offline.check.report import Report, RowCounts
from metrika_offline.config import Settings
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.followup.pending import PendingUpload, add_pending, list_pending
from metrika_offline.flow.followup.poll import Poller
from metrika_offline.flow.record.job import Job, Part, PartState, Source, Status
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.types import ConversionType
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika, Outcome
from tests.schema import read_result

COUNTER = 4242
NOW = 1_800_000_000.0
CSV = b"ClientId,Target,DateTime\n1,goal,1700000000\n2,goal,1700000001\n3,goal,1700000002\n"
SETTINGS = Settings(poll_give_up_s=48 * 3600)
LAYOUT = WorkLayout(SETTINGS.work_prefix)


def upload_job(
    store_stack: GcsStack, client: MetrikaClient, name: str, parts: int = 1, counter: int = COUNTER
) -> Job:
    """A job whose parts went to the fake, with their pending index entries."""
    generation = 7
    made = []
    for index in range(1, parts + 1):
        marker = make_marker(store_stack.bucket, name, generation, index)
        comment = make_comment("poll test", marker)
        uploaded = client.upload(counter, ConversionType.BASIC, comment, io.BytesIO(CSV), len(CSV))
        made.append(Part(index, f"w/{index}", 3, len(CSV), marker, comment,
                         PartState.UPLOADED, 1, None, uploaded))  # fmt: skip
    job = Job(
        source=Source(store_stack.bucket, name, generation, 100),
        routing=Route(counter, ConversionType.BASIC, "poll test", Mode.UPLOAD, {}),
        status=Status.UPLOADED,
        check=checked(RowCounts(total=3 * parts, valid=3 * parts, invalid=0, duplicates=0)),
        parts=tuple(made),
    )
    jobs = JobStore(store_stack.store, SETTINGS.work_prefix, clock=lambda: NOW)
    job = jobs.create(job)
    jobs.publish(job)  # the result as the check left it
    for part in made:
        assert part.uploading is not None
        entry = PendingUpload(counter, part.uploading.id, name, generation, part.index,
                              job.updated_at, "BASIC")  # fmt: skip
        add_pending(store_stack.store, LAYOUT, entry)
    return job


def checked(rows: RowCounts) -> Report:
    """A checker's report without parts, as a job keeps it."""
    return Report(valid=True, rejected_reason=None, type=ConversionType.BASIC,
                  encoding="utf-8", delimiter=",", columns=("ClientId", "Target", "DateTime"),
                  rows=rows, errors=(), error_counts={}, errors_truncated=False, warnings=(),
                  parts=(), dedupe_tracking_stopped_at_line=None, bytes_read=len(CSV))  # fmt: skip


def result_of(stack: GcsStack, name: str) -> dict[str, Any]:
    return read_result(stack.store, name)


@pytest.fixture
def poller(gcs_stack: GcsStack, metrika_client: MetrikaClient) -> Callable[..., Poller]:
    def build(now: float = NOW) -> Poller:
        return Poller(FlowContext.build(store=gcs_stack.store, metrika=metrika_client,
                      settings=SETTINGS, clock=lambda: now))  # fmt: skip

    return build


@pytest.fixture
def log_lines() -> Callable[[], list[dict[str, Any]]]:
    stream = io.StringIO()
    logs.configure("INFO", stream)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    return read


def test_an_upload_goes_through_every_status_to_processed(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    metrika_client: MetrikaClient,
    poller: Callable[..., Poller],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    job = upload_job(gcs_stack, metrika_client, "incoming/a.csv")
    jobs = JobStore(gcs_stack.store, SETTINGS.work_prefix)
    seen, written = [], []
    for _ in range(6):
        poller().poll()
        loaded = jobs.load(job.source.name, job.source.generation)
        assert loaded is not None
        uploading = loaded[0].parts[0].uploading
        assert uploading is not None
        seen.append(uploading.status)
        written.append(result_of(gcs_stack, "incoming/a.csv")["parts"][0]["uploading"]["status"])
        fake_metrika.advance(60)
    assert seen[:4] == ["UPLOADED", "EXPORTED", "MATCHED", "PROCESSED"]
    # The result is written (an event of the trigger) for Metrica's final word only.
    assert written[:4] == ["UPLOADED", "UPLOADED", "UPLOADED", "PROCESSED"]
    result = result_of(gcs_stack, "incoming/a.csv")
    assert result["metrika"]["outcome"] == "processed"
    assert result["metrika"]["linked_quantity"] == 3
    assert result["metrika"]["warnings"] == []
    assert list(list_pending(gcs_stack.store, LAYOUT)) == []
    outcomes = [line for line in log_lines() if line.get("event") == "metrika_outcome"]
    assert [o["outcome"] for o in outcomes] == ["processed"]


def test_linkage_failure_is_the_outcome(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    metrika_client: MetrikaClient,
    poller: Callable[..., Poller],
) -> None:
    fake_metrika.script_outcome(Outcome(final_status="LINKAGE_FAILURE", linked=0))
    upload_job(gcs_stack, metrika_client, "incoming/a.csv")
    fake_metrika.advance(3600)
    poller().poll()
    result = result_of(gcs_stack, "incoming/a.csv")
    assert result["metrika"]["outcome"] == "linkage_failure"
    assert "few-linked" in {w["code"] for w in result["metrika"]["warnings"]}


def test_rows_dropped_by_metrica_are_a_warning(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    metrika_client: MetrikaClient,
    poller: Callable[..., Poller],
) -> None:
    fake_metrika.script_outcome(Outcome(dropped_rows=2))
    upload_job(gcs_stack, metrika_client, "incoming/a.csv")
    fake_metrika.advance(3600)
    poller().poll()
    result = result_of(gcs_stack, "incoming/a.csv")
    warnings = {w["code"]: w for w in result["metrika"]["warnings"]}
    assert warnings["rows-dropped-by-metrika"]["count"] == 2
    assert "1 of 3" in warnings["rows-dropped-by-metrika"]["message"]


def test_two_overlapping_polls_agree(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    metrika_client: MetrikaClient,
    poller: Callable[..., Poller],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    upload_job(gcs_stack, metrika_client, "incoming/a.csv", parts=3)
    fake_metrika.advance(3600)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            poller().poll()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = result_of(gcs_stack, "incoming/a.csv")
    assert [p["uploading"]["status"] for p in result["parts"]] == ["PROCESSED"] * 3
    assert result["metrika"]["outcome"] == "processed"
    outcomes = [line for line in log_lines() if line.get("event") == "metrika_outcome"]
    assert len(outcomes) == 1


def test_gives_up_with_status_unknown(
    gcs_stack: GcsStack,
    metrika_client: MetrikaClient,
    poller: Callable[..., Poller],
) -> None:
    upload_job(gcs_stack, metrika_client, "incoming/a.csv")
    poller(NOW + 49 * 3600).poll()  # Metrica never moved on
    result = result_of(gcs_stack, "incoming/a.csv")
    assert result["metrika"]["outcome"] == "status_unknown"
    assert result["parts"][0]["uploading"]["status"] == "STATUS_UNKNOWN"
    assert "status-unknown" in {w["code"] for w in result["metrika"]["warnings"]}
    assert list(list_pending(gcs_stack.store, LAYOUT)) == []


def test_a_hundred_pending_uploads_cost_a_page_not_a_hundred_requests(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    metrika_client: MetrikaClient,
    poller: Callable[..., Poller],
) -> None:
    for i in range(10):  # 10 files of 10 parts: 100 uploads waiting
        upload_job(gcs_stack, metrika_client, f"incoming/f{i:03d}.csv", parts=10)
    fake_metrika.advance(3600)
    before = len(fake_metrika.journal)
    summary = poller().poll()
    asked = [e for e in fake_metrika.journal[before:] if e.method == "GET"]
    assert summary.pending == 100
    assert summary.final == 100
    assert summary.requests == len(asked)
    assert len(asked) <= 2


def test_a_spent_daily_quota_is_asked_once_a_round_not_once_a_counter(
    gcs_stack: GcsStack, metrika_client_for: Callable[..., MetrikaClient]
) -> None:
    counters = [COUNTER + i for i in range(4)]
    with FakeMetrika(daily_requests_per_token=len(counters)) as fake:
        client = metrika_client_for(fake)
        for counter in counters:  # the day's quota goes on the uploads
            upload_job(gcs_stack, client, f"incoming/{counter}.csv", counter=counter)
        fake.advance(3600)
        before = len(fake.journal)
        ctx = FlowContext.build(store=gcs_stack.store, metrika=client, settings=SETTINGS,
                                clock=lambda: NOW)  # fmt: skip
        summary = Poller(ctx).poll()
        asked = fake.journal[before:]
        # One refusal says the token's day is spent: the other counters are not asked.
        assert [(e.status, e.method) for e in asked] == [(429, "GET")]
        assert (summary.pending, summary.final, summary.requests) == (4, 0, 1)
        assert len(list(list_pending(gcs_stack.store, LAYOUT))) == 4
