"""The local trigger: every finalize in the bucket becomes a CloudEvent shaped like Eventarc's,
delivered at least once, retried, duplicated on demand."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from cloudevents.conversion import to_binary

from tests.fakes.gcs_events import RetryPolicy, finalized_event
from tests.fakes.gcs_fixtures import TEST_RETRY, GcsStack
from tests.fakes.gcs_server import free_port
from tests.integration.conftest import EventSink

IDLE_S = 20.0


def check_binary_event(headers: Mapping[str, str], body: bytes, bucket: str, name: str) -> None:
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-type"] == "google.cloud.storage.object.v1.finalized"
    assert headers["ce-source"] == f"//storage.googleapis.com/projects/_/buckets/{bucket}"
    assert headers["ce-subject"] == f"objects/{name}"
    assert headers["ce-id"]
    assert headers["ce-time"].endswith("Z")
    datetime.datetime.fromisoformat(headers["ce-time"].replace("Z", "+00:00"))
    assert headers["content-type"] == "application/json"
    check_resource(json.loads(body), bucket, name)


def check_resource(data: Mapping[str, Any], bucket: str, name: str) -> None:
    assert (data["bucket"], data["name"]) == (bucket, name)
    for field in ("size", "generation", "metageneration"):
        assert isinstance(data[field], str)
        assert data[field].isdigit()
    for field in ("timeCreated", "updated"):
        datetime.datetime.fromisoformat(data[field].replace("Z", "+00:00"))
    assert data["md5Hash"]
    assert data["crc32c"]
    assert "acl" not in data


def test_every_finalize_produces_one_event_of_the_right_shape(
    gcs_stack: GcsStack, event_sink: EventSink
) -> None:
    gcs_stack.events.add_subscriber(event_sink.url)
    store = gcs_stack.store
    small = store.write_bytes(
        "incoming/51234567/leads.csv", b"a,b\n", content_type="text/csv", metadata={"k": "v"}
    )
    with store.open_write("work/part-1.csv", metadata={"metrika-offline-output": "part"}) as w:
        w.write(b"p" * 100)
    overwrite = store.write_bytes("incoming/51234567/leads.csv", b"a,b\nc,d\n")
    assert gcs_stack.events.wait_idle(IDLE_S)

    received = event_sink.wait_for(3)
    assert len(received) == 3
    assert sorted((r.json["name"], r.json["generation"]) for r in received) == sorted(
        [
            ("incoming/51234567/leads.csv", str(small)),
            ("incoming/51234567/leads.csv", str(overwrite)),
            ("work/part-1.csv", str(w.generation)),
        ]
    )
    for event in received:
        check_binary_event(event.headers, event.body, gcs_stack.bucket, event.json["name"])
    first = next(r.json for r in received if r.json["generation"] == str(small))
    assert first["size"] == "4"
    assert first["contentType"] == "text/csv"
    assert first["metadata"] == {"k": "v"}
    assert first["metageneration"] == "1"
    part = next(r.json for r in received if r.json["name"] == "work/part-1.csv")
    assert part["size"] == "100"
    assert part["metadata"] == {"metrika-offline-output": "part"}
    assert len({r.headers["ce-id"] for r in received}) == 3
    assert [d.ok for d in gcs_stack.events.deliveries] == [True] * 3


def test_refused_and_deleted_writes_produce_no_event(
    gcs_stack: GcsStack, event_sink: EventSink
) -> None:
    gcs_stack.events.add_subscriber(event_sink.url)
    generation = gcs_stack.store.write_bytes("claim", b"1", if_generation_match=0)
    with pytest.raises(Exception, match="precondition"):
        gcs_stack.store.write_bytes("claim", b"2", if_generation_match=0)
    gcs_stack.store.delete("claim", if_generation_match=generation)
    assert gcs_stack.events.wait_idle(IDLE_S)
    events = [(e.data["name"], e.data["generation"]) for e in gcs_stack.events.events]
    assert events == [("claim", str(generation))]
    assert len(event_sink.received) == 1


def test_duplicates_are_delivered_concurrently_with_one_id(
    gcs_stack: GcsStack, event_sink: EventSink
) -> None:
    gcs_stack.events.duplicates = 3
    gcs_stack.events.add_subscriber(event_sink.url)
    # Every copy waits at the subscriber until all three arrived: they are in flight at once.
    event_sink.barrier = threading.Barrier(3)
    gcs_stack.store.write_bytes("dup.csv", b"x")
    assert gcs_stack.events.wait_idle(IDLE_S)
    received = event_sink.wait_for(3)
    assert len(received) == 3
    assert len({r.headers["ce-id"] for r in received}) == 1
    assert not event_sink.barrier.broken
    assert sorted(d.copy for d in gcs_stack.events.deliveries) == [0, 1, 2]
    assert all(d.ok for d in gcs_stack.events.deliveries)


def test_failed_deliveries_are_retried_with_backoff_until_they_succeed(
    gcs_stack: GcsStack, event_sink: EventSink
) -> None:
    gcs_stack.events.add_subscriber(event_sink.url)
    event_sink.answers = [500, 503]
    gcs_stack.store.write_bytes("retry.csv", b"r")
    assert gcs_stack.events.wait_idle(IDLE_S)
    received = event_sink.wait_for(3)
    assert [r.status for r in received] == [500, 503, 204]
    assert len({r.headers["ce-id"] for r in received}) == 1
    (delivery,) = gcs_stack.events.deliveries
    assert (delivery.attempts, delivery.status, delivery.ok) == (3, 204, True)
    assert delivery.name == "retry.csv"


def test_retries_stop_after_the_last_attempt(gcs_stack: GcsStack, event_sink: EventSink) -> None:
    gcs_stack.events.add_subscriber(event_sink.url)
    event_sink.answers = [500] * 10
    gcs_stack.store.write_bytes("hopeless.csv", b"h")
    assert gcs_stack.events.wait_idle(IDLE_S)
    (delivery,) = gcs_stack.events.deliveries
    assert (delivery.attempts, delivery.status, delivery.ok) == (
        TEST_RETRY.max_attempts,
        500,
        False,
    )
    assert len(event_sink.received) == TEST_RETRY.max_attempts


def test_a_subscriber_that_is_down_counts_as_a_failure(gcs_stack: GcsStack) -> None:
    gcs_stack.events.add_subscriber(f"http://127.0.0.1:{free_port()}/")
    gcs_stack.store.write_bytes("nobody.csv", b"n")
    assert gcs_stack.events.wait_idle(IDLE_S)
    (delivery,) = gcs_stack.events.deliveries
    assert (delivery.status, delivery.attempts) == (0, TEST_RETRY.max_attempts)
    assert delivery.error


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, initial_s=1.0, max_delay_s=5.0, multiplier=2.0)
    assert [policy.delay_after(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_observers_see_the_object_before_the_writer_and_the_subscriber_do(
    gcs_stack: GcsStack, event_sink: EventSink
) -> None:
    gcs_stack.events.add_subscriber(event_sink.url)
    seen: list[tuple[str, str, int]] = []

    def observe(resource: Mapping[str, Any]) -> None:
        seen.append((resource["name"], resource["generation"], len(event_sink.received)))

    remove = gcs_stack.events.on_finalize(observe)
    generation = gcs_stack.store.write_bytes("watched.csv", b"w")
    assert seen == [("watched.csv", str(generation), 0)]  # before write_bytes returned
    remove()
    gcs_stack.store.write_bytes("unwatched.csv", b"u")
    assert gcs_stack.events.wait_idle(IDLE_S)
    assert len(seen) == 1


def test_an_event_can_be_built_for_any_resource() -> None:
    resource = {"bucket": "b", "name": "incoming/x.csv", "generation": 7, "size": 10, "acl": []}
    at = datetime.datetime(2026, 11, 24, 12, 0, 0, tzinfo=datetime.UTC)
    event = finalized_event(resource, event_id="e-1", at=at)
    headers, body = to_binary(event)
    assert headers["ce-id"] == "e-1"
    assert headers["ce-time"] == "2026-11-24T12:00:00.000000Z"
    assert headers["ce-subject"] == "objects/incoming/x.csv"
    assert json.loads(body) == {
        "bucket": "b",
        "name": "incoming/x.csv",
        "generation": "7",
        "size": "10",
    }
