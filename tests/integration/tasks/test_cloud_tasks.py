"""The Cloud Tasks REST call as Cloud Tasks answers it: the request's shape (the task's name
from the marker, the JSON body base64-encoded, the OIDC token of the invoker, the schedule
time in RFC 3339), 409 ALREADY_EXISTS taken as queued, 429 and 5xx as "try again later", any
other refusal as a configuration error. A local server stands for the API."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from metrika_offline.errors import ConfigError, RetryLater
from metrika_offline.flow.queue import PartTask
from metrika_offline.tasks.cloud_tasks import CloudTasksQueue, QueueUnavailable, queue_id

QUEUE = "projects/p/locations/europe-west1/queues/metrika-offline-upload-{account}"
URL = "https://europe-west1-p.cloudfunctions.net/metrika-offline-upload-part"
TASK = PartTask("in-bucket", "incoming/1/a.csv", 1765000000000000, 2)


class FakeTasksApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[int] = []
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeTasksApi

    def log_message(self, *_args: object) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append((self.path, body))
        status = self.server.answers.pop(0) if self.server.answers else 200
        data = json.dumps(body["task"] if status == 200 else {"error": {"code": status}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api() -> Iterator[FakeTasksApi]:
    server = FakeTasksApi()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def queue_at(api: FakeTasksApi) -> CloudTasksQueue:
    return CloudTasksQueue(
        queue=QUEUE, url=URL, invoker="tasks@p.iam.gserviceaccount.com",
        session=requests.Session(), api_url=api.url,
    )  # fmt: skip


def test_a_task_is_named_from_the_marker_signed_for_the_uploader_and_scheduled(
    api: FakeTasksApi,
) -> None:
    assert queue_at(api).enqueue("Client_A", TASK, "mo0123456789ab-w2", not_before=1765000000.5)
    ((path, body),) = api.seen
    parent = "projects/p/locations/europe-west1/queues/metrika-offline-upload-client-a"
    assert path == f"/v2/{parent}/tasks"
    task = body["task"]
    assert task["name"] == f"{parent}/tasks/mo0123456789ab-w2"
    assert task["scheduleTime"] == "2025-12-06T05:46:40.500000Z"
    request = task["httpRequest"]
    assert (request["url"], request["httpMethod"]) == (URL, "POST")
    assert PartTask.from_json(base64.b64decode(request["body"])) == TASK
    assert request["oidcToken"] == {
        "serviceAccountEmail": "tasks@p.iam.gserviceaccount.com",
        "audience": URL,
    }


def test_already_exists_is_queued_and_a_busy_api_is_tried_again_later(api: FakeTasksApi) -> None:
    queue = queue_at(api)
    api.answers = [409, 429, 503, 403]
    assert queue.enqueue("default", TASK, "mo0123456789ab") is False
    for _ in range(2):
        with pytest.raises(QueueUnavailable) as raised:
            queue.enqueue("default", TASK, "mo0123456789ab")
        assert isinstance(raised.value, RetryLater)
    with pytest.raises(ConfigError):
        queue.enqueue("default", TASK, "mo0123456789ab")


def test_queue_ids_are_the_ones_terraform_makes() -> None:
    # infra/tasks.tf: "default", and each metrika_accounts name ([a-z][a-z0-9_]*) with "_" as "-"
    assert [queue_id(a) for a in ("default", "agency_a", "client2")] == [
        "default", "agency-a", "client2",
    ]  # fmt: skip
