"""The fake Metrica is strict where docs/metrika-api.md says Metrica is, answers with Metrica's
error body, and can be driven over HTTP and run as its own process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_toolbelt.multipart.encoder import MultipartEncoder

from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika, Fault

COUNTER = 42
BASIC_CSV = b"ClientId,Target,DateTime\n1,lead,1700000000\n"
CHATS_SEED = (
    b"ClientID,DateTime,ChatPlatform,ChatUsername,ChatUserID,PhoneNumber,ChatAnswered,Tag,Price,"
    b"Currency,URL,MessengerTrackerURL\n"
    b'133591247640966458,1687005600,whatsapp,,,"+71234567890",1,"WhatsApp Lead",1500.00,RUB,'
    b"https://example.com/product/123,\n"
    b'133591247640966458,1687092000,telegram,"john_doe",123456789,,0,"TG Chat",,,,\n'
)
ROOT = Path(__file__).resolve().parents[3]


def api(fake: FakeMetrika, endpoint: str, counter: int = COUNTER) -> str:
    return f"{fake.url}/management/v1/counter/{counter}/offline_conversions/{endpoint}"


def post_file(
    fake: FakeMetrika,
    data: bytes,
    *,
    params: Mapping[str, str] | None = None,
    field: str = "file",
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    encoder = MultipartEncoder(fields={field: ("leads.csv", data, "text/csv")})
    sent = {"Authorization": f"OAuth {FAKE_TOKEN}", "Content-Type": encoder.content_type}
    sent.update(headers or {})
    return requests.post(
        api(fake, "upload"),
        params={"type": "BASIC", **(params or {})},
        data=encoder,
        headers=sent,
        timeout=10,
    )


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body: dict[str, Any] = response.json()
    assert body["code"] == response.status_code
    [error] = body["errors"]
    assert body["message"] == error["message"]
    return response.status_code, error["error_type"], error["message"]


def test_accepts_the_seeds_chats_sample(fake_metrika: FakeMetrika) -> None:
    response = post_file(fake_metrika, CHATS_SEED, params={"type": "CHATS", "comment": "Чаты 1"})
    assert response.status_code == 200
    uploading = response.json()["uploading"]
    assert (uploading["source_quantity"], uploading["type"]) == (2, "CHATS")
    assert (uploading["status"], uploading["comment"]) == ("UPLOADED", "Чаты 1")


def test_no_oauth_header_is_401(fake_metrika: FakeMetrika) -> None:
    response = requests.get(api(fake_metrika, "uploadings"), timeout=10)
    assert error_of(response)[:2] == (401, "unauthorized")


@pytest.mark.parametrize("auth", ["OAuth wrong", f"Bearer {FAKE_TOKEN}", "OAuth"])
def test_a_bad_token_is_403_invalid_token(fake_metrika: FakeMetrika, auth: str) -> None:
    response = requests.get(
        api(fake_metrika, "uploadings"), headers={"Authorization": auth}, timeout=10
    )
    assert error_of(response)[:2] == (403, "invalid_token")


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"type": "basic"}, "Wrong parameter value"),
        ({"type": "LEADS"}, "Wrong parameter value"),
        ({"comment": "x" * 256}, "longer than 255"),
        ({"comment": "batch #3"}, "comment contains invalid characters"),
        ({"comment": "batch_3"}, "comment contains invalid characters"),
    ],
)
def test_query_parameters_are_checked(
    fake_metrika: FakeMetrika, params: dict[str, str], complaint: str
) -> None:
    status, error_type, message = error_of(post_file(fake_metrika, BASIC_CSV, params=params))
    assert (status, error_type) == (400, "invalid_parameter")
    assert complaint in message
    assert fake_metrika.uploads == []


def test_comment_of_255_allowed_characters_is_accepted(fake_metrika: FakeMetrika) -> None:
    comment = ("Октябрь 2026 batch " * 20)[:255]
    assert post_file(fake_metrika, BASIC_CSV, params={"comment": comment}).status_code == 200


@pytest.mark.parametrize(
    ("data", "kind", "error_type", "complaint"),
    [
        (b"", "BASIC", "invalid_uploading", "The file is empty"),
        (b"ClientId,Target,DateTime\n", "BASIC", "invalid_uploading", "The file is empty"),
        (b"ClientId,DateTime\n1,1700000000\n", "BASIC", "invalid_uploading", "Target"),
        (b"Target,DateTime\nlead,1700000000\n", "BASIC", "invalid_uploading", "one of ClientId"),
        (
            b"ClientId;Target;DateTime\n1;a;1\n",
            "BASIC",
            "invalid_uploading",
            "Отсутствует обязательная колонка",
        ),
        (b"PhoneNumber,DateTime\n+70123456789,1700000000\n", "CALLS", "invalid_uploading", "one"),
        (b"ClientID,DateTime,ChatUserID\n1,1,2\n", "CHATS", "invalid_uploading", "ChatPlatform"),
        (
            b"ClientId,Target,DateTime\n1,\xd0\xbb\xd0,1700000000\n",
            "BASIC",
            "invalid_uploading",
            "ошибка в строке номер 2: not UTF-8",
        ),
    ],
)
def test_files_are_checked(
    fake_metrika: FakeMetrika, data: bytes, kind: str, error_type: str, complaint: str
) -> None:
    response = post_file(fake_metrika, data, params={"type": kind})
    status, got_type, message = error_of(response)
    assert (status, got_type) == (400, error_type)
    assert complaint in message
    assert fake_metrika.uploads == []


def test_the_file_part_must_be_there(fake_metrika: FakeMetrika) -> None:
    response = post_file(fake_metrika, BASIC_CSV, field="data")
    assert error_of(response)[:2] == (400, "missing_parameter")


def test_a_body_that_is_not_multipart_is_refused(fake_metrika: FakeMetrika) -> None:
    response = requests.post(
        api(fake_metrika, "upload"),
        data=BASIC_CSV,
        headers={"Authorization": f"OAuth {FAKE_TOKEN}", "Content-Type": "text/csv"},
        timeout=10,
    )
    assert error_of(response)[:2] == (400, "invalid_parameter")


def test_the_size_limit_is_enforced() -> None:
    with FakeMetrika(max_file_bytes=len(BASIC_CSV)) as fake:
        assert post_file(fake, BASIC_CSV).status_code == 200
        response = post_file(fake, BASIC_CSV + b"2,lead,1700000000\n")
        assert error_of(response)[:2] == (400, "limit_exceeded")
        assert len(fake.uploads) == 1


def test_the_journal_keeps_what_arrived_and_never_the_token(fake_metrika: FakeMetrika) -> None:
    post_file(fake_metrika, b"\xef\xbb\xbf" + BASIC_CSV, params={"comment": "hello"})
    [entry] = fake_metrika.journal
    assert (entry.bytes, entry.rows, entry.bom, entry.comment) == (
        len(BASIC_CSV) + 3,
        1,
        True,
        "hello",
    )
    assert entry.columns == ("ClientId", "Target", "DateTime")
    assert FAKE_TOKEN not in repr(fake_metrika.journal)


def test_scripted_faults_apply_in_order_to_the_requests_they_match(
    fake_metrika: FakeMetrika,
) -> None:
    fake_metrika.script(Fault.http(503, endpoint="upload"), Fault.quota(retry_after=9))
    headers = {"Authorization": f"OAuth {FAKE_TOKEN}"}
    listed = requests.get(api(fake_metrika, "uploadings"), headers=headers, timeout=10)
    assert listed.status_code == 429  # the 503 waits for an upload
    assert listed.headers["Retry-After"] == "9"
    assert error_of(post_file(fake_metrika, BASIC_CSV))[:2] == (503, "backend_error")
    assert post_file(fake_metrika, BASIC_CSV).status_code == 200
    assert fake_metrika.pending_faults == []


@pytest.fixture
def fake_process() -> Iterator[str]:
    """The fake started the way `make fake-metrika` starts it, on a free port."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.metrika", "--port", "0", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert "listening on http://" in line, line
            yield line.rsplit(" ", 1)[-1].strip()
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_runs_alone_as_make_fake_metrika_starts_it(fake_process: str) -> None:
    headers = {"Authorization": f"OAuth {FAKE_TOKEN}"}
    url = f"{fake_process}/management/v1/counter/{COUNTER}/offline_conversions"
    encoder = MultipartEncoder(fields={"file": ("a.csv", BASIC_CSV, "text/csv")})
    made = requests.post(
        f"{url}/upload",
        data=encoder,
        headers={**headers, "Content-Type": encoder.content_type},
        timeout=10,
    )
    assert made.status_code == 200
    uploading = made.json()["uploading"]
    assert uploading["status"] == "UPLOADED"
    listed = requests.get(f"{url}/uploadings", headers=headers, timeout=10).json()
    assert [u["id"] for u in listed["uploadings"]] == [uploading["id"]]
    refused = requests.get(f"{url}/uploadings", headers={"Authorization": "OAuth x"}, timeout=10)
    assert refused.status_code == 403


# --- as Metrica's own API tests show it (docs/metrika-api.md) ---------------------------------


def get_list(fake: FakeMetrika, **params: str) -> requests.Response:
    return requests.get(
        api(fake, "uploadings"),
        params=params,
        headers={"Authorization": f"OAuth {FAKE_TOKEN}"},
        timeout=10,
    )


CALLS_CSV = b"DateTime,ClientId\n1700000000,1\n"


def test_uploadings_lists_one_type_basic_by_default_oldest_first(fake_metrika: FakeMetrika) -> None:
    first = post_file(fake_metrika, BASIC_CSV).json()["uploading"]
    calls = post_file(fake_metrika, CALLS_CSV, params={"type": "CALLS"}).json()["uploading"]
    second = post_file(fake_metrika, BASIC_CSV).json()["uploading"]
    assert first["status"] == "UPLOADED"  # OfflineConversionUploadTest: a new upload
    untyped = [u["id"] for u in get_list(fake_metrika).json()["uploadings"]]
    assert untyped == [first["id"], second["id"]]  # BASIC only, in the order they were made
    typed = [u["id"] for u in get_list(fake_metrika, type="CALLS").json()["uploadings"]]
    assert typed == [calls["id"]]
    assert get_list(fake_metrika, limit="10000").status_code == 200
    refused = get_list(fake_metrika, limit="10001")
    assert error_of(refused) == (400, "invalid_parameter", "Wrong parameter value")


def test_a_made_fault_makes_the_upload_then_answers_5xx(fake_metrika: FakeMetrika) -> None:
    fake_metrika.script(Fault.http(504, "timeout", endpoint="upload", made=True))
    response = post_file(fake_metrika, BASIC_CSV)
    assert error_of(response)[:2] == (504, "timeout")
    [made] = fake_metrika.uploads
    [entry] = fake_metrika.journal
    assert (entry.status, entry.uploading_id) == (504, made.id)


def test_a_counter_not_ready_refuses_until_its_date_unless_told_to_ignore_it(
    fake_metrika: FakeMetrika,
) -> None:
    fake_metrika.set_not_ready(COUNTER, fake_metrika.wall() + 86_400)
    for kind, data in (("BASIC", BASIC_CSV), ("CALLS", CALLS_CSV)):
        refused = post_file(fake_metrika, data, params={"type": kind})
        status, _, message = error_of(refused)
        assert status == 400
        assert message.startswith("Загрузить данные сейчас невозможно. Загрузка станет доступна ")
    assert fake_metrika.offline_options(COUNTER) == {
        "offline_conversion_extended_threshold": 0,
        "offline_calls_extended_threshold": 0,
    }
    basic = post_file(fake_metrika, BASIC_CSV, params={"ignore_visit_join_threshold": "1"})
    calls = post_file(
        fake_metrika, CALLS_CSV, params={"type": "CALLS", "ignore_calls_visit_join_threshold": "1"}
    )
    assert (basic.status_code, calls.status_code) == (200, 200)
    # OfflineConversionThresholdEnableTest.checkAfterUpload: the extended window is now on.
    assert fake_metrika.offline_options(COUNTER) == {
        "offline_conversion_extended_threshold": 1,
        "offline_calls_extended_threshold": 1,
    }
    fake_metrika.advance(86_400)
    assert post_file(fake_metrika, BASIC_CSV).status_code == 200


def test_daily_quotas_per_token_and_per_counter(fake_metrika: FakeMetrika) -> None:
    with FakeMetrika(daily_requests_per_token=2) as fake:
        assert [post_file(fake, BASIC_CSV).status_code for _ in range(2)] == [200, 200]
        assert error_of(post_file(fake, BASIC_CSV)) == (
            429,
            "quota_requests_by_uid",
            "Превышена квота на количество запросов к API для пользователя",
        )
        fake.advance(86_400)  # the next day
        assert post_file(fake, BASIC_CSV).status_code == 200
    with FakeMetrika(daily_requests_per_counter=1) as fake:
        assert post_file(fake, BASIC_CSV).status_code == 200
        status, error_type, message = error_of(post_file(fake, BASIC_CSV))
        assert (status, error_type) == (429, "quota_requests_by_counter_id")
        assert message.startswith("Превышена квота на количество запросов к счётчику")


def test_refusals_are_in_metricas_words(fake_metrika: FakeMetrika) -> None:
    no_token = requests.get(api(fake_metrika, "uploadings"), timeout=10)
    assert error_of(no_token) == (401, "unauthorized", "Неавторизованный пользователь")
    bad = requests.get(
        api(fake_metrika, "uploadings"), headers={"Authorization": "OAuth nope"}, timeout=10
    )
    assert error_of(bad) == (403, "invalid_token", "Invalid oauth_token")
    missing = post_file(fake_metrika, b"ClientId,DateTime\n1,1700000000\n")
    assert error_of(missing)[2] == "Отсутствует обязательная колонка Target"
    assert error_of(post_file(fake_metrika, b""))[2] == "The file is empty"
