"""The Metrica client against the fake Metrica, over real HTTP: every error class, retries,
Retry-After, ambiguous failures, deadlines and the in-flight limit."""

from __future__ import annotations

import dataclasses
import email.utils
import io
import socket
import threading
import time
from collections.abc import Callable

import pytest
import requests

from metrika_offline.errors import (
    DeadlineReached,
    MetrikaAmbiguousError,
    MetrikaAuthError,
    MetrikaQuotaError,
    MetrikaRejectedError,
    MetrikaTransientError,
)
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.metrika.models import Uploading
from metrika_offline.metrika.retry import RetryPolicy
from metrika_offline.metrika.transport import Timeouts
from metrika_offline.types import ConversionType
from tests.fakes.metrika import FakeMetrika, Fault, Outcome
from tests.fakes.metrika.fixtures import ManualTime

BASIC = ConversionType.BASIC
CSV = b"ClientId,Target,DateTime\n111,lead,1700000000\n222,lead,1700000100\n333,sale,1700000200\n"
COUNTER = 51234567


def upload(
    client: MetrikaClient,
    data: bytes = CSV,
    *,
    part: int = 0,
    marker: bool = True,
    kind: ConversionType = BASIC,
    deadline: float | None = None,
) -> Uploading:
    tag = make_marker("bucket", "incoming/leads.csv", 1, part)
    return client.upload(
        COUNTER,
        kind,
        make_comment("October batch", tag),
        lambda: io.BytesIO(data),
        len(data),
        marker=tag if marker else None,
        deadline=deadline,
    )


# --- the happy path ---------------------------------------------------------------------------


def test_upload_arrives_whole_and_returns_metricas_uploading(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    uploading = upload(metrika_client)
    [entry] = fake_metrika.journal
    assert (entry.method, entry.endpoint, entry.status) == ("POST", "upload", 200)
    assert (entry.bytes, entry.rows, entry.type) == (len(CSV), 3, "BASIC")
    assert entry.comment == uploading.comment
    assert entry.comment is not None
    assert entry.comment.startswith("October batch mo")
    assert entry.filename == "conversions.csv"
    assert dataclasses.asdict(uploading) == fake_metrika.uploading_json(uploading.id)
    # A new upload is UPLOADED, as Metrica's OfflineConversionUploadTest expects.
    assert (uploading.source_quantity, uploading.status) == (3, "UPLOADED")


def test_a_seekable_stream_is_rewound_to_where_it_stood_for_every_attempt(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime
) -> None:
    stream = io.BytesIO(b"IGNORED PREFIX" + CSV)
    stream.seek(len(b"IGNORED PREFIX"))
    fake_metrika.script(Fault.http(503))
    tag = make_marker("b", "n", 1, 0)
    metrika_client.upload(COUNTER, BASIC, tag, stream, len(CSV), marker=tag)
    [accepted] = fake_metrika.uploads
    assert (accepted.bytes, accepted.rows) == (len(CSV), 3)
    assert len(manual_time.waits) == 1


def test_a_part_shorter_than_declared_is_refused_not_sent_truncated(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    with pytest.raises(ValueError, match="before its declared size"):
        metrika_client.upload(COUNTER, BASIC, "x", lambda: io.BytesIO(CSV), len(CSV) + 10)
    with pytest.raises(ValueError, match="more bytes than its declared size"):
        metrika_client.upload(COUNTER, BASIC, "x", lambda: io.BytesIO(CSV), len(CSV) - 10)
    assert fake_metrika.uploads == []


def test_a_marker_the_comment_does_not_carry_is_refused(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    with pytest.raises(ValueError, match="marker"):
        metrika_client.upload(COUNTER, BASIC, "no marker", io.BytesIO(CSV), len(CSV), marker="mo1")
    assert fake_metrika.journal == []


def test_statuses_move_on_with_the_fakes_clock_to_the_scripted_outcome(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.script_outcome(
        Outcome(final_status="LINKAGE_FAILURE", dropped_rows=1, user_not_found=2, linked=0)
    )
    first = upload(metrika_client)
    seen = [first.status]
    for _ in range(3):
        fake_metrika.advance(60)
        seen.append(metrika_client.get_uploading(COUNTER, first.id).status)
    assert seen == ["UPLOADED", "EXPORTED", "MATCHED", "LINKAGE_FAILURE"]
    final = metrika_client.get_uploading(COUNTER, first.id)
    assert final.is_final
    assert (final.source_quantity, final.line_quantity, final.dropped_quantity) == (3, 2, 1)
    assert (final.user_not_found_quantity, final.linked_quantity) == (2, 0)


def test_list_find_by_marker_and_visit_join_threshold(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    made = [upload(metrika_client, part=index) for index in range(3)]
    calls = upload(
        metrika_client, b"DateTime,Yclid\n1700000000,42\n", part=9, kind=ConversionType.CALLS
    )
    listed = metrika_client.list_uploadings(COUNTER, type=BASIC, limit=2, offset=1)
    assert [u.id for u in listed] == [made[1].id, made[2].id]  # the fake lists oldest first
    only_calls = metrika_client.list_uploadings(COUNTER, type=ConversionType.CALLS)
    assert [u.id for u in only_calls] == [calls.id]
    marker = make_marker("bucket", "incoming/leads.csv", 1, 1)
    found = metrika_client.find_by_marker(COUNTER, marker, type=BASIC)
    assert found is not None
    assert found.id == made[1].id
    assert metrika_client.find_by_marker(COUNTER, marker[:-1], type=BASIC) is None
    calls_marker = make_marker("bucket", "incoming/leads.csv", 1, 9)
    found_calls = metrika_client.find_by_marker(COUNTER, calls_marker, type=ConversionType.CALLS)
    assert found_calls is not None
    assert found_calls.id == calls.id
    assert metrika_client.find_by_marker(COUNTER + 1, marker, type=BASIC) is None
    # Every list call named its type, and asked for as many as Metrica lists at once.
    asked = fake_metrika.requests_to("uploadings")
    assert all(e.type is not None for e in asked)
    assert {e.limit for e in asked if ("limit", "2") not in e.query} == {10000}
    assert len(metrika_client.visit_join_threshold(COUNTER)) == len("2026-01-01")


def test_find_by_marker_searches_the_parts_own_types_list(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    # `uploadings` without `type` lists BASIC only: a CHATS upload is found in CHATS' list.
    chats = b"DateTime,ChatPlatform,ChatUserID\n1700000000,telegram,5\n"
    made = upload(metrika_client, chats, kind=ConversionType.CHATS)
    marker = make_marker("bucket", "incoming/leads.csv", 1, 0)
    found = metrika_client.find_by_marker(COUNTER, marker, type=ConversionType.CHATS)
    assert found is not None
    assert found.id == made.id
    assert metrika_client.find_by_marker(COUNTER, marker, type=BASIC) is None
    assert [e.type for e in fake_metrika.requests_to("uploadings")] == ["CHATS", "BASIC"]


# --- errors that stop ---------------------------------------------------------------------------


def test_a_wrong_token_is_an_auth_error_and_is_not_retried(
    fake_metrika: FakeMetrika, metrika_client_for: Callable[..., MetrikaClient]
) -> None:
    client = metrika_client_for(fake_metrika, token="not-the-right-token")
    with pytest.raises(MetrikaAuthError) as caught:
        upload(client)
    assert (caught.value.status, caught.value.error_type) == (403, "invalid_token")
    assert len(fake_metrika.journal) == 1


def test_a_counter_out_of_reach_is_an_auth_error(
    metrika_client_for: Callable[..., MetrikaClient],
) -> None:
    with FakeMetrika(counters={1}) as fake:
        with pytest.raises(MetrikaAuthError) as caught:
            metrika_client_for(fake).get_uploading(COUNTER, 1)
        assert caught.value.error_type == "access_denied"
        assert len(fake.journal) == 1


def test_a_bad_file_is_rejected_with_metricas_words_and_is_not_retried(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    with pytest.raises(MetrikaRejectedError) as caught:
        upload(metrika_client, b"ClientId,DateTime\n1,1700000000\n")
    error = caught.value
    assert (error.status, error.error_type) == (400, "invalid_uploading")
    assert error.metrika_message == "Отсутствует обязательная колонка Target"
    assert "Отсутствует обязательная колонка Target" in str(error)
    assert len(fake_metrika.journal) == 1
    assert fake_metrika.uploads == []


def test_an_unknown_uploading_is_rejected(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    with pytest.raises(MetrikaRejectedError) as caught:
        metrika_client.get_uploading(COUNTER, 99999)
    assert (caught.value.status, caught.value.error_type) == (404, "not_found")


# --- errors that wait and retry -----------------------------------------------------------------


def test_retry_after_is_honoured_exactly(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime
) -> None:
    fake_metrika.script(Fault.quota(retry_after=7), Fault.quota(retry_after=3, status=420))
    uploading = upload(metrika_client)
    assert manual_time.waits == [7.0, 3.0]
    assert [e.status for e in fake_metrika.journal] == [429, 420, 200]
    assert [u.id for u in fake_metrika.uploads] == [uploading.id]


def test_retry_after_as_an_http_date_is_honoured(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime
) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    fake_metrika.script(Fault.quota(retry_after=when))
    upload(metrika_client)
    [wait] = manual_time.waits
    assert 110 <= wait <= 120


def test_quota_answered_as_403_is_a_quota_error(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime
) -> None:
    fake_metrika.script(*[Fault.quota(retry_after=2, status=403)] * 4)
    with pytest.raises(MetrikaQuotaError) as caught:
        metrika_client.get_uploading(COUNTER, 1)
    assert caught.value.retry_after_s == 2.0
    assert manual_time.waits == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("status", [500, 503, 504])
def test_server_errors_are_retried_with_growing_jittered_waits(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime, status: int
) -> None:
    fake_metrika.script(*[Fault.http(status)] * 3)
    uploading = upload(metrika_client)
    # The upload's 5xx may stand for an upload: each retry looks the marker up first.
    journal = fake_metrika.journal
    assert [e.status for e in journal] == [status] * 3 + [200, 200]
    assert [e.endpoint for e in journal] == ["upload", *["uploadings"] * 3, "upload"]
    assert [u.id for u in fake_metrika.uploads] == [uploading.id]
    # base 1 s, doubling: each wait lies in [cap/2, cap] for caps 1, 2, 4
    for wait, cap in zip(manual_time.waits, (1.0, 2.0, 4.0), strict=True):
        assert cap / 2 <= wait <= cap


def test_attempts_are_bounded_and_the_last_error_is_raised(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime
) -> None:
    fake_metrika.script(*[Fault.http(503)] * 10)
    with pytest.raises(MetrikaTransientError) as caught:
        upload(metrika_client)
    assert caught.value.status == 503
    assert len(fake_metrika.journal) == 4  # RetryPolicy(max_attempts=4)
    assert len(manual_time.waits) == 3
    assert fake_metrika.uploads == []


def test_total_retry_time_is_bounded(
    fake_metrika: FakeMetrika,
    metrika_client_for: Callable[..., MetrikaClient],
    manual_time: ManualTime,
) -> None:
    client = metrika_client_for(
        fake_metrika, retry=RetryPolicy(max_attempts=20, base_delay_s=10, max_total_s=25)
    )
    fake_metrika.script(*[Fault.quota(retry_after=10)] * 20)
    with pytest.raises(MetrikaQuotaError):
        upload(client)
    assert manual_time.waits == [10.0, 10.0]
    assert len(fake_metrika.journal) == 3


def test_nothing_listening_is_transient_not_ambiguous(
    metrika_client_for: Callable[..., MetrikaClient], manual_time: ManualTime
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = metrika_client_for(f"http://127.0.0.1:{port}")
    with pytest.raises(MetrikaTransientError) as caught:
        upload(client)
    assert not isinstance(caught.value, MetrikaAmbiguousError)
    assert len(manual_time.waits) == 3


# --- ambiguous failures ---------------------------------------------------------------------------


def test_a_dropped_connection_after_the_body_leaves_exactly_one_upload(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.script(Fault.drop())
    uploading = upload(metrika_client)
    assert [u.id for u in fake_metrika.uploads] == [uploading.id]
    assert [(e.endpoint, e.status, e.fault) for e in fake_metrika.journal] == [
        ("upload", 0, "drop"),
        ("uploadings", 200, ""),
    ]


def test_a_timeout_after_the_body_is_resolved_by_the_marker(
    fake_metrika: FakeMetrika, metrika_client_for: Callable[..., MetrikaClient]
) -> None:
    client = metrika_client_for(fake_metrika, timeouts=Timeouts(connect_s=5.0, read_s=0.3))
    fake_metrika.script(Fault.slow(30, endpoint="upload"))
    uploading = upload(client)
    assert [u.id for u in fake_metrika.uploads] == [uploading.id]
    assert [(e.endpoint, e.fault) for e in fake_metrika.journal] == [
        ("upload", "slow"),
        ("uploadings", ""),
    ]


def test_without_a_marker_an_ambiguous_failure_is_raised_not_resent(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.script(Fault.drop())
    with pytest.raises(MetrikaAmbiguousError):
        upload(metrika_client, marker=False)
    assert len(fake_metrika.uploads) == 1
    assert [e.endpoint for e in fake_metrika.journal] == ["upload"]


def test_when_the_marker_is_not_found_the_part_is_sent_again(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    # The dropped attempt carried a file Metrica refuses, so nothing was recorded: the look-up
    # finds nothing and the part goes out again (and is refused again).
    fake_metrika.script(Fault.drop())
    with pytest.raises(MetrikaRejectedError):
        upload(metrika_client, b"ClientId,DateTime\n1,1700000000\n")
    assert [(e.endpoint, e.status) for e in fake_metrika.journal] == [
        ("upload", 0),
        ("uploadings", 200),
        ("upload", 400),
    ]


def test_a_failed_look_up_is_retried_before_anything_is_sent_again(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.script(Fault.drop(), Fault.http(503, endpoint="uploadings"))
    uploading = upload(metrika_client)
    assert [(e.endpoint, e.status) for e in fake_metrika.journal] == [
        ("upload", 0),
        ("uploadings", 503),
        ("uploadings", 200),
    ]
    assert [u.id for u in fake_metrika.uploads] == [uploading.id]


# --- deadlines -----------------------------------------------------------------------------------


def test_no_wait_that_would_pass_the_deadline(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime
) -> None:
    fake_metrika.script(Fault.quota(retry_after=30))
    with pytest.raises(DeadlineReached):
        upload(metrika_client, deadline=manual_time.now + 20)
    assert manual_time.waits == []
    assert len(fake_metrika.journal) == 1


def test_no_attempt_once_the_deadline_has_passed(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, manual_time: ManualTime
) -> None:
    with pytest.raises(DeadlineReached):
        upload(metrika_client, deadline=manual_time.now)
    assert fake_metrika.journal == []


# --- the in-flight limit -------------------------------------------------------------------


def test_at_most_three_requests_in_flight_per_token(
    metrika_client_for: Callable[..., MetrikaClient],
) -> None:
    # The fake would take ten at once here, so a fourth request would reach the gate.
    with FakeMetrika(parallel_limit=10) as fake:
        client = metrika_client_for(fake)
        gate = fake.hold(endpoint="upload")
        results: list[Uploading] = []
        errors: list[BaseException] = []

        def run(part: int) -> None:
            try:
                results.append(upload(client, part=part))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(part,)) for part in range(5)]
        for thread in threads:
            thread.start()
        assert gate.wait_for(3)
        # A client without the limit would park a fourth request within this window.
        assert not gate.wait_for(4, timeout=0.5)
        gate.release()
        for thread in threads:
            thread.join(timeout=10)
        assert errors == []
        assert len(results) == len(fake.uploads) == 5
        assert fake.max_in_flight == 3


def test_the_fake_refuses_a_fourth_parallel_request(fake_metrika: FakeMetrika) -> None:
    url = f"{fake_metrika.url}/management/v1/counter/{COUNTER}/offline_conversions/uploadings"
    headers = {"Authorization": "OAuth fake-metrika-token"}
    gate = fake_metrika.hold(endpoint="uploadings")
    statuses: list[int] = []

    def get() -> None:
        statuses.append(requests.get(url, headers=headers, timeout=10).status_code)

    threads = [threading.Thread(target=get) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert gate.wait_for(3)
    fourth = requests.get(url, headers=headers, timeout=10)
    assert fourth.status_code == 429
    assert fourth.json()["errors"][0]["error_type"] == "quota_parallel_requests"
    gate.release()
    for thread in threads:
        thread.join(timeout=10)
    assert statuses == [200, 200, 200]
