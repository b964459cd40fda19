"""Fixtures for the integration tests: a subscriber that records what the trigger posts."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest


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
