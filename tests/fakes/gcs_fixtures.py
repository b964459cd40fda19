"""pytest fixtures for the local Cloud Storage stack (tests/fakes/gcs.py).

- `gcs_emulator` (session): one emulator process per xdist worker.
- `gcs_stack` (function): a fresh bucket, a proxy with its own event source in front of the
  emulator, a real `storage.Client` on the proxy, a `GcsStore` on the bucket.
- `event_sink` (function): an HTTP server that records the events posted to it and answers
  with scripted statuses; subscribe it with `gcs_stack.events.add_subscriber(sink.url)`.

Faults: `gcs_stack.proxy.inject(Fault("PUT", r"upload_id=", status=503))` fails the next
matching request before it reaches the emulator (`when="after"`: after it took effect, with
`status=0` dropping the answer); `proxy.pending_faults()` says whether it happened.

Nothing sets `STORAGE_EMULATOR_HOST` for the session: the client gets the proxy's URL as its
API endpoint, and `GcsStack.env()` gives the variables a child process needs.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from metrika_offline.store.gcs import GcsStore
from tests.fakes.gcs import EmulatorProcess, EventSource, PreconditionProxy, RetryPolicy

PROJECT = "metrika-offline-test"
#: Small and quick, for tests: a failed delivery is retried 4 times within half a second.
TEST_RETRY = RetryPolicy(max_attempts=5, initial_s=0.02, max_delay_s=0.2)


def make_client(endpoint: str) -> storage.Client:
    """A real client talking to `endpoint` (the proxy, or the bare emulator)."""
    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def unique_bucket(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


@dataclasses.dataclass(frozen=True)
class GcsStack:
    """One test's view of the local Cloud Storage."""

    emulator: EmulatorProcess
    proxy: PreconditionProxy
    bucket: str
    client: storage.Client
    store: GcsStore

    @property
    def url(self) -> str:
        """The proxy: what `STORAGE_EMULATOR_HOST` must be for the precondition-keeping store."""
        return self.proxy.url

    @property
    def events(self) -> EventSource:
        """The local trigger: subscribers, observers, deliveries, pause/resume, redelivery."""
        return self.proxy.events

    def env(self) -> dict[str, str]:
        """Environment for a child process (the function under functions-framework)."""
        return {"STORAGE_EMULATOR_HOST": self.url}

    def raw_client(self) -> storage.Client:
        """A client on the bare emulator, bypassing the proxy (to show what it would allow)."""
        return make_client(self.emulator.url)

    def store_for(self, bucket: str) -> GcsStore:
        return GcsStore(self.client, bucket)


@dataclasses.dataclass(frozen=True)
class ReceivedEvent:
    """One POST the sink received."""

    headers: Mapping[str, str]  # lower-case names
    body: bytes
    status: int  # what the sink answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class EventSink:
    """A subscriber that records every POST; `answers` are popped in order (then 204).

    With `barrier` set, each POST waits there first: a test can prove that several
    deliveries were in flight at the same time.
    """

    def __init__(self) -> None:
        self.received: list[ReceivedEvent] = []
        self.answers: list[int] = []
        self.barrier: threading.Barrier | None = None
        self._cond = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if sink.barrier is not None:
                    sink.barrier.wait(timeout=10)
                with sink._cond:
                    status = sink.answers.pop(0) if sink.answers else 204
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    sink.received.append(ReceivedEvent(headers, body, status))
                    sink._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedEvent]:
        """Wait until at least `count` POSTs arrived; all received so far."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def event_sink() -> Iterator[EventSink]:
    sink = EventSink()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[EmulatorProcess]:
    """The storage emulator, in memory, once per test process."""
    with EmulatorProcess() as emulator:
        yield emulator


@pytest.fixture
def gcs_stack(gcs_emulator: EmulatorProcess) -> Iterator[GcsStack]:
    """A fresh bucket behind a fresh proxy; its events go to no one until a test subscribes."""
    bucket = unique_bucket()
    gcs_emulator.create_bucket(bucket)
    events = EventSource(retry=TEST_RETRY, timeout_s=120.0)
    proxy = PreconditionProxy(gcs_emulator.url, events=events).start()
    client = make_client(proxy.url)
    try:
        yield GcsStack(
            emulator=gcs_emulator,
            proxy=proxy,
            bucket=bucket,
            client=client,
            store=GcsStore(client, bucket),
        )
    finally:
        proxy.stop()
        client.close()
        gcs_emulator.delete_bucket(bucket)
