"""The HTTP side: a threaded server, a bounded request body, and answers in Metrica's shape."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import socket
import sys
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.metrika.journal import Journal, JournalEntry
from tests.fakes.metrika.state import State

_READ_CHUNK = 256 * 1024


@dataclasses.dataclass
class Answer:
    """A status and a JSON body; a refusal also says its error type and message."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    error_type: str = ""
    message: str = ""


def ok(body: Mapping[str, Any]) -> Answer:
    return Answer(200, body)


def refusal(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> Answer:
    """Metrica's error body."""
    body = {
        "errors": [{"error_type": error_type, "message": message}],
        "code": status,
        "message": message,
    }
    return Answer(status, body, dict(headers or {}), error_type, message)


#: Answered to a request whose connection is to be dropped without a byte of answer.
DROPPED = Answer(0, {})


class ClientGone(Exception):
    """The client closed the connection before its body was complete."""


class Body:
    """The request body as a bounded stream."""

    def __init__(self, rfile: io.BufferedIOBase, length: int) -> None:
        self._rfile = rfile
        self.left = length

    def chunks(self) -> Iterator[bytes]:
        while self.left > 0:
            try:
                chunk = self._rfile.read(min(_READ_CHUNK, self.left))
            except (OSError, TimeoutError):
                chunk = b""
            if not chunk:
                raise ClientGone
            self.left -= len(chunk)
            yield chunk

    def drain(self) -> None:
        for _ in self.chunks():
            pass


@dataclasses.dataclass
class Incoming:
    """A request as it arrived, and its journal entry as it is handled."""

    entry: JournalEntry
    query: Mapping[str, str]
    headers: Message
    body: Body
    journal: Journal
    journaled: bool = False

    @property
    def token(self) -> str:
        return self.headers.get("Authorization", "").partition(" ")[2].strip()

    def record(self, answer: Answer, message: str = "") -> None:
        """Journal the request with its answer, once."""
        status, error_type = answer.status, answer.error_type
        message = message or answer.message
        self.entry = dataclasses.replace(
            self.entry, status=status, error_type=error_type, message=message
        )
        self.journal.record(self.entry)
        self.journaled = True


#: What answers a request: the API (`api.answer`).
Respond = Callable[[State, Incoming], Answer]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: State, respond: Respond) -> None:
        self.state = state
        self.respond = respond
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (or was killed, as crash tests do) is not the fake's fault.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and the
    # peer's delayed ACK hold every keep-alive answer back.
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection ends after this
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.state.verbose:
            sys.stderr.write(f"fake-metrika: {format % args}\n")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length = 0
        entry = JournalEntry(method=method, path=url.path)
        incoming = Incoming(entry, query, self.headers, Body(self.rfile, length), state.journal)
        try:
            reply = self.server.respond(state, incoming)
        except ClientGone:
            incoming.entry = dataclasses.replace(incoming.entry, fault="client_closed")
            incoming.record(DROPPED, "the client closed before its body was complete")
            self.close_connection = True
            return
        # Journaled before a byte of answer goes back, so that a client that got its answer
        # always finds its request in the journal.
        if not incoming.journaled:
            incoming.record(reply)
        self._send(reply)

    def _send(self, reply: Answer) -> None:
        if reply.status == 0:  # a dropped connection: close without a byte of answer
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up waiting (a slow answer): nothing to tell it
            self.close_connection = True
