"""A local receiver for notifications: a real HTTP server that keeps every POST it gets.

It stands in for a Slack incoming webhook, a generic JSON webhook and the Telegram Bot API
(`/bot<token>/sendMessage`) at once: each request is kept with its path and JSON body, and
`fail_next(n)` (or `fail_always`) makes it answer 500 to the next requests, as a flaky
receiver would.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    status: int  # what the receiver answered


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.fail_always = False
        self._failures_left = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"unreadable": raw.decode(errors="replace")}
                status = receiver._answer()
                with receiver._lock:
                    receiver.received.append(Received(self.path, body, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"ok": false}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self) -> int:
        with self._lock:
            if self.fail_always:
                return 500
            if self._failures_left:
                self._failures_left -= 1
                return 500
            return 200

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures_left = count

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def to(self, path_start: str) -> list[Received]:
        """The requests whose path starts so, answered or not."""
        with self._lock:
            return [r for r in self.received if r.path.startswith(path_start)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhooks() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
