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

from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika, FakeMetrikaControl, Fault, Outcome

COUNTER = 42
BASIC_CSV = b"ClientId,Target,DateTime\n1,lead,1700000000\n"
CHATS_SEED = (
    b"ClientID,DateTime,ChatPlatform,ChatUsername,ChatUserID,PhoneNumber,ChatAnswered,Tag,Price,"
    b"Currency,URL,MessengerTrackerURL\n"
    b'133591247640966458,1687005600,whatsapp,,,"+71234567890",1,"WhatsApp Lead",1500.00,RUB,'
    b"https://example.com/product/123,\n"
    b'133591247640966458,1687092000,telegram,"john_doe",123456789,,0,"TG Chat",,,,\n'
)
ROOT = Path(__file__).resolve().parents[2]


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


def test_runs_alone_and_is_driven_over_http(fake_process: str) -> None:
    control = FakeMetrikaControl(fake_process)
    assert control.healthy()
    control.script(Fault.drop(), Fault.http(500))
    control.script_outcome(Outcome(final_status="LINKAGE_FAILURE"))
    headers = {"Authorization": f"OAuth {FAKE_TOKEN}"}
    url = f"{fake_process}/management/v1/counter/{COUNTER}/offline_conversions"
    encoder = MultipartEncoder(fields={"file": ("a.csv", BASIC_CSV, "text/csv")})
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{url}/upload",
            data=encoder,
            headers={**headers, "Content-Type": encoder.content_type},
            timeout=10,
        )
    assert requests.get(f"{url}/uploadings", headers=headers, timeout=10).status_code == 500
    [upload] = control.uploads()
    assert upload["status"] == "UPLOADED"
    control.advance(10_000)
    assert control.uploads()[0]["status"] == "LINKAGE_FAILURE"
    journal = control.journal()
    assert [(e.endpoint, e.status, e.fault) for e in journal] == [
        ("upload", 0, "drop"),
        ("uploadings", 500, "status"),
    ]
    control.reset()
    assert control.journal() == []
    assert control.uploads() == []
