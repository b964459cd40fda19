"""The ledger in-process, on the emulated bucket and the fake Metrica, with the pipeline's clock
in the test's hands: the window, racing files, and a worker killed between recording an
upload and telling the ledger."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pytest

from metrika_offline.check.sent import stable_hashes
from metrika_offline.config import Settings
from metrika_offline.errors import ClaimHeld
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.ledger.lock import LedgerLock
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.flow.source.run import SourceChoices
from metrika_offline.metrika.client import MetrikaClient
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika, Fault
from tests.schema import read_result

DAY = 86_400.0
COUNTER = 5
NAMES = WorkLayout("metrika-offline/").ledger(COUNTER, "BASIC")
PREFIX = NAMES.prefix


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _csv(first: int, count: int, now: float) -> bytes:
    lines = ["ClientId,Target,DateTime"]
    lines += [
        f"{1335912476409000 + i},lead,{int(now) - DAY - i * 60:.0f}"
        for i in range(first, first + count)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _pipeline(stack: GcsStack, client: MetrikaClient, clock: Clock, **settings: Any) -> Pipeline:
    return Pipeline(
        FlowContext.build(
            store=stack.store,
            settings=Settings(max_event_age_s=3600, **settings),
            metrika=client,
            clock=clock,
        )
    )


def _drop(stack: GcsStack, name: str, data: bytes, clock: Clock) -> ObjectEvent:
    generation = stack.store.write_bytes(name, data, content_type="text/csv")
    return ObjectEvent(stack.bucket, name, generation, len(data), {}, "e", clock.now)


def _result(stack: GcsStack, name: str) -> dict[str, Any]:
    return read_result(stack.store, name)


def _upload_all(pipeline: Pipeline, event: ObjectEvent) -> None:
    job = JobStore(pipeline.ctx.store, pipeline.ctx.settings.work_prefix).load(
        event.name, event.generation
    )
    assert job is not None
    for part in job[0].parts:
        pipeline.uploader.upload_part(event.name, event.generation, part.index, Deadline())


def test_a_row_sent_longer_ago_than_the_window_is_sent_again(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock, ledger_window_days=7)
    first = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 4, clock.now), clock)
    pipeline.process_source(first, Deadline())
    _upload_all(pipeline, first)

    clock.now += 6 * DAY  # inside the window: rows 0..3 are not sent again
    second = _drop(gcs_stack, "incoming/5/b.csv", _csv(2, 4, clock.now - 6 * DAY), clock)
    pipeline.process_source(second, Deadline())
    _upload_all(pipeline, second)
    assert _result(gcs_stack, second.name)["rows"]["already_sent"] == 2

    clock.now += 1.5 * DAY  # a's upload is now 7.5 days old, b's 1.5
    third = _drop(gcs_stack, "incoming/5/c.csv", _csv(0, 6, clock.now - 7.5 * DAY), clock)
    pipeline.process_source(third, Deadline())
    _upload_all(pipeline, third)
    rows = _result(gcs_stack, third.name)["rows"]
    # The window counts from a row's upload, not from its last sighting: rows 0..3 went with
    # a (7.5 days ago, outside the window now) and are sent again, b sent only 4 and 5.
    assert (rows["valid"], rows["already_sent"]) == (4, 2)
    assert [u.rows for u in fake_metrika.uploads] == [4, 2, 4]


def test_window_zero_turns_the_ledger_off(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock, ledger_window_days=0)
    for name in ("incoming/5/a.csv", "incoming/5/b.csv"):
        event = _drop(gcs_stack, name, _csv(0, 3, clock.now), clock)
        pipeline.process_source(event, Deadline())
        _upload_all(pipeline, event)
        assert _result(gcs_stack, name)["check"]["ledger"]["mode"] == "off"
    assert [u.rows for u in fake_metrika.uploads] == [3, 3]
    assert list(gcs_stack.store.list(PREFIX)) == []


def test_a_file_needing_rows_in_flight_waits_for_their_upload(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    first = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 5, clock.now), clock)
    pipeline.process_source(first, Deadline())  # checked and split; its part not sent yet
    second = _drop(gcs_stack, "incoming/5/b.csv", _csv(3, 5, clock.now), clock)
    for _ in range(4):  # however often it is retried meanwhile
        with pytest.raises(ClaimHeld, match=r"a\.csv .*in flight"):
            pipeline.process_source(second, Deadline())
    assert fake_metrika.uploads == []
    state = JobStore(gcs_stack.store, "metrika-offline/").load(second.name, second.generation)
    assert state is not None
    assert not state[0].is_split
    assert state[0].split_attempts <= 1  # waiting is not a failed attempt

    _upload_all(pipeline, first)
    pipeline.process_source(second, Deadline())
    _upload_all(pipeline, second)
    assert _result(gcs_stack, second.name)["rows"]["already_sent"] == 2
    assert [u.rows for u in fake_metrika.uploads] == [5, 3]


def _chat(now: float, answered: str, price: str) -> bytes:
    header = "ClientID,DateTime,ChatPlatform,PhoneNumber,ChatAnswered,Price,Currency\n"
    currency = "RUB" if price else ""
    row = f"133591247640966458,{int(now - DAY)},telegram,+71234567890,{answered},{price},"
    row += currency + "\n"
    return (header + row).encode()


def test_a_chat_update_waits_for_the_earlier_version_still_in_flight(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    """Sent first, the update would be overwritten by the chat it updates: it waits."""
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    first = _drop(gcs_stack, "incoming/5/chats/day1.csv", _chat(clock.now, "", ""), clock)
    pipeline.process_source(first, Deadline())  # checked and split; its part not sent yet
    second = _drop(gcs_stack, "incoming/5/chats/day2.csv", _chat(clock.now, "1", "990"), clock)
    with pytest.raises(ClaimHeld, match=r"day1\.csv .*in flight"):
        pipeline.process_source(second, Deadline())
    assert fake_metrika.uploads == []

    _upload_all(pipeline, first)
    pipeline.process_source(second, Deadline())
    _upload_all(pipeline, second)
    result = _result(gcs_stack, second.name)
    assert (result["rows"]["valid"], result["rows"]["already_sent"]) == (1, 0)
    assert [w["count"] for w in result["warnings"] if w["code"] == "chat-update"] == [1]
    assert [u.rows for u in fake_metrika.uploads] == [1, 1]


def test_a_refused_part_frees_its_rows_for_the_file_waiting_on_them(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    first = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 5, clock.now), clock)
    pipeline.process_source(first, Deadline())
    second = _drop(gcs_stack, "incoming/5/b.csv", _csv(3, 5, clock.now), clock)
    with pytest.raises(ClaimHeld):
        pipeline.process_source(second, Deadline())
    fake_metrika.script(Fault.http(400, "invalid_uploading", endpoint="upload"))
    _upload_all(pipeline, first)
    assert _result(gcs_stack, first.name)["parts"][0]["state"] == "failed"
    pipeline.process_source(second, Deadline())
    _upload_all(pipeline, second)
    assert _result(gcs_stack, second.name)["rows"]["already_sent"] == 0
    assert [u.rows for u in fake_metrika.uploads] == [5]


def test_one_check_at_a_time_per_counter_and_type(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    lock = LedgerLock(gcs_stack.store, NAMES, clock=clock)
    lock.acquire("someone-else", 600.0, "incoming/5/other.csv")
    event = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 3, clock.now), clock)
    with pytest.raises(ClaimHeld, match=r"other\.csv"):
        pipeline.process_source(event, Deadline())
    lock.release("someone-else")
    pipeline.process_source(event, Deadline())
    _upload_all(pipeline, event)
    assert [u.rows for u in fake_metrika.uploads] == [3]
    # Another counter's ledger is another lock.
    lock.acquire("someone-else", 600.0, "incoming/5/other.csv")
    elsewhere = _drop(gcs_stack, "incoming/6/a.csv", _csv(0, 3, clock.now), clock)
    pipeline.process_source(elsewhere, Deadline())


def test_a_worker_killed_before_the_ledger_heard_of_the_upload(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    first = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 4, clock.now), clock)
    pipeline.process_source(first, Deadline())
    _upload_all(pipeline, first)
    state = JobStore(gcs_stack.store, "metrika-offline/").load(first.name, first.generation)
    assert state is not None
    sent = NAMES.sent(first.name, first.generation, 1, state[0].key)
    assert gcs_stack.store.stat(sent) is not None
    gcs_stack.store.delete(sent)  # as if the worker died right after recording the upload

    # A redelivered event for the part finds it uploaded and tells the ledger.
    _upload_all(pipeline, first)
    assert gcs_stack.store.stat(sent) is not None
    gcs_stack.store.delete(sent)

    # Without a redelivery, the next file that reads the ledger finds the keys, asks the job,
    # and counts them as sent.
    second = _drop(gcs_stack, "incoming/5/b.csv", _csv(0, 6, clock.now), clock)
    pipeline.process_source(second, Deadline())
    _upload_all(pipeline, second)
    assert _result(gcs_stack, second.name)["rows"]["already_sent"] == 4
    assert gcs_stack.store.stat(sent) is not None
    assert [u.rows for u in fake_metrika.uploads] == [4, 2]


def test_a_check_killed_holding_the_lock_is_taken_over_by_its_own_retry(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock, lease_s=600)
    event = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 3, clock.now), clock)
    job = f"{event.name}@{event.generation}"
    lock = LedgerLock(gcs_stack.store, NAMES, clock=clock)
    lock.acquire("a-dead-worker", 600.0, event.name, job)  # it died mid-check
    other = _drop(gcs_stack, "incoming/5/b.csv", _csv(10, 3, clock.now), clock)
    with pytest.raises(ClaimHeld, match=r"a\.csv is being checked"):
        pipeline.process_source(other, Deadline())  # another file still waits for it
    pipeline.process_source(event, Deadline())  # its own retry does not
    _upload_all(pipeline, event)
    assert [u.rows for u in fake_metrika.uploads] == [3]


def test_a_rerun_with_other_settings_is_another_job_in_the_ledger(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    event = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 4, clock.now), clock)
    pipeline.process_source(event, Deadline())
    _upload_all(pipeline, event)
    jobs = JobStore(gcs_stack.store, "metrika-offline/")
    before = jobs.load(event.name, event.generation)
    assert before is not None
    # The same generation again, as the CLI reruns it with other settings: a new job.
    rerun = Pipeline(
        FlowContext.build(
            store=gcs_stack.store,
            settings=Settings(max_event_age_s=3600, timezone="Europe/Moscow"),
            metrika=metrika_client,
            clock=clock,
        ),
        choices=SourceChoices(restart="on_change"),
    )
    rerun.process_source(event, Deadline())
    after = jobs.load(event.name, event.generation)
    assert after is not None
    assert after[0].key != before[0].key
    # Its rows are the same conversions (Unix times do not move with the zone): sent before,
    # by the first job of this very file, whose entry still stands for its own keys only.
    assert _result(gcs_stack, event.name)["rows"]["already_sent"] == 4
    assert [u.rows for u in fake_metrika.uploads] == [4]
    names = {i.name for i in gcs_stack.store.list(PREFIX)}
    assert NAMES.keys(event.name, event.generation, 1, before[0].key) in names
    assert NAMES.sent(event.name, event.generation, 1, before[0].key) in names


def test_the_benchmark_reads_a_ledger_as_the_function_lays_it_out() -> None:
    from tests.bench import bench_ledger

    keys, seconds, _ = bench_ledger._read_ledger(28 * 1000)
    assert keys == 28 * 1000
    assert seconds > 0


def test_rows_of_a_part_that_waits_for_metrica_stay_reserved(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    # A new counter: the first file's part waits for the date Metrica names. Its rows are
    # still on their way, so a file that repeats them waits too instead of sending them.
    fake_metrika.set_not_ready(COUNTER, fake_metrika.wall() + 2 * DAY)
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    first = _drop(gcs_stack, "incoming/5/a.csv", _csv(0, 5, clock.now), clock)
    pipeline.process_source(first, Deadline())
    _upload_all(pipeline, first)
    assert _result(gcs_stack, first.name)["parts"][0]["state"] == "waiting"
    second = _drop(gcs_stack, "incoming/5/b.csv", _csv(3, 5, clock.now), clock)
    with pytest.raises(ClaimHeld, match=r"a\.csv .*in flight"):
        pipeline.process_source(second, Deadline())
    assert fake_metrika.uploads == []
    clock.now += 2 * DAY
    fake_metrika.advance(2 * DAY)
    _upload_all(pipeline, first)
    retried = dataclasses.replace(second, event_time=clock.now)  # the platform's retry
    pipeline.process_source(retried, Deadline())
    _upload_all(pipeline, second)
    assert _result(gcs_stack, second.name)["rows"]["already_sent"] == 2
    assert [u.rows for u in fake_metrika.uploads] == [5, 3]


def test_a_chat_replaced_after_it_was_written_is_sent_only_in_its_later_version(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient, clock: Clock
) -> None:
    """The later row comes megabytes after the earlier one, which was already written to a
    part: the function reads the file from the bucket a second time."""
    header = "ClientID,DateTime,ChatPlatform,PhoneNumber,ChatAnswered,Price,Currency\n"
    at = int(clock.now - DAY)

    def chat(n: int, outcome: str = ",,") -> str:
        return f"1336{n:014d},{at - n},whatsapp,+7912{n:07d},{outcome}\n"

    rows = [chat(0)] + [chat(n) for n in range(1, 30_001)] + [chat(0, "1,1500.00,RUB")]
    pipeline = _pipeline(gcs_stack, metrika_client, clock)
    event = _drop(
        gcs_stack, "incoming/5/chats/export.csv", (header + "".join(rows)).encode(), clock
    )
    pipeline.process_source(event, Deadline())
    _upload_all(pipeline, event)

    result = _result(gcs_stack, event.name)
    assert (result["rows"]["valid"], result["rows"]["duplicates"]) == (30_001, 1)
    assert [w["count"] for w in result["warnings"] if w["code"] == "chat-superseded-in-file"] == [1]
    assert sum(u.rows for u in fake_metrika.uploads) == 30_001
    # The parts are gone once uploaded; the ledger's keys say which version each part held.
    ledger = WorkLayout("metrika-offline/").ledger(COUNTER, "CHATS").prefix
    held: set[int] = set()
    for info in gcs_stack.store.list(ledger + "keys/"):
        found = gcs_stack.store.read_bytes(info.name)
        assert found is not None
        held.update(np.frombuffer(found[0], dtype="<u8").tolist())
    assert len(held) == 2 * 30_001

    def version(outcome: tuple[str, str, str]) -> int:
        cells = [f"1336{0:014d}", "", "", "", str(at), "whatsapp", "", ""]
        cells += ["+79120000000", outcome[0], "", outcome[1], outcome[2], "", ""]
        return int(stable_hashes([[c] for c in cells], [0], version=True)[0])

    assert version(("1", "1500.00", "RUB")) in held
    assert version(("", "", "")) not in held
