"""The tap: a thin HTTP proxy in front of fake-gcs-server for what the emulator does not do.
Generations, preconditions, listings and ranges are the emulator's own work; bodies stream
through in 1 MiB pieces. The tap adds:

- the trigger: an upload that finalizes an object (one request, or a resumable session's last
  chunk) goes to the EventSource in `watchers[bucket]` before the writer gets the answer;
- faults: `inject(Fault(...))` fails the next matching request before it reaches the
  emulator, or after the emulator acted (the answer replaced, or lost when `status=0`);
- the status query of a resumable session (an empty PUT with `Content-Range: bytes */*`),
  which the emulator would take for the last chunk: the tap answers it from the session's
  last answer, as Cloud Storage does.
"""

from __future__ import annotations

import dataclasses
import http.client
import http.server
import json
import re
import threading
import urllib.parse

from .gcs_events import EventSource

PIECE = 1024 * 1024
_SKIP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}
Answer = tuple[int, dict[str, str], bytes]


@dataclasses.dataclass(frozen=True)
class Fault:
    """Fail the next `times` requests of `method` whose target matches `path` (a regular
    expression). `when="before"`: answer `status` in the emulator's place; `"after"`: let
    the emulator act, then answer `status` instead (0: no answer at all)."""

    method: str
    path: str
    status: int = 503
    when: str = "before"
    times: int = 1

    def answer(self) -> Answer:
        return self.status, {}, b'{"error": {"code": %d}}' % self.status


class StorageTap(http.server.ThreadingHTTPServer):
    """Bound at construction (the emulator is told its address), serving after `start()`."""

    daemon_threads = True

    def __init__(self, *, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream = ("127.0.0.1", 0)
        self.watchers: dict[str, EventSource] = {}
        self.faults: list[Fault] = []  # one entry per failure still to come
        self.sessions: dict[str, Answer] = {}  # upload id: its last answer
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self, upstream_port: int) -> StorageTap:
        self.upstream = ("127.0.0.1", upstream_port)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.extend([fault] * fault.times)

    def take_fault(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if method == fault.method and re.search(fault.path, target):
                    self.faults.remove(fault)
                    return fault
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StorageTap

    def log_message(self, *_args: object) -> None:
        return

    def do_GET(self) -> None:
        tap, length = self.server, int(self.headers.get("Content-Length") or 0)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        upload_id = self.upload_id = query.get("upload_id", [""])[0]
        self.session_start = query.get("uploadType") == ["resumable"] and not upload_id
        fault = tap.take_fault(self.command, self.path)
        if fault is not None and fault.when == "before":
            self.rfile.read(length)
            return self._reply(fault.answer())
        if upload_id and self.headers.get("Content-Range") == "bytes */*" and not length:
            return self._reply(tap.sessions.get(upload_id, (308, {}, b"")))
        conn = http.client.HTTPConnection(*tap.upstream, timeout=600)
        try:
            answer = self._relay(conn, length, whole=fault is not None)
        finally:
            conn.close()
        if answer is not None and fault is None:
            self._reply(answer)
        elif answer is not None and fault is not None:
            self.close_connection = fault.status == 0
            if fault.status:
                self._reply(fault.answer())
        return None

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _relay(
        self, conn: http.client.HTTPConnection, length: int, *, whole: bool
    ) -> Answer | None:
        """Pass the request on; the answer to give, or None once it was streamed back."""
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in _SKIP:
                conn.putheader(name, value)
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        while length:
            piece = self.rfile.read(min(PIECE, length))
            if not piece:  # the writer died mid-body: the emulator gets a torn request
                self.close_connection = True
                return None
            conn.send(piece)
            length -= len(piece)
        response = conn.getresponse()
        headers = {k: v for k, v in response.getheaders() if k.lower() not in _SKIP}
        if self.path.startswith("/upload/") and response.status in (200, 201):
            answer = (response.status, headers, response.read())
            if not self.session_start:
                resource = json.loads(answer[2])
                events = self.server.watchers.get(resource["bucket"])
                if events is not None:
                    events.finalized(resource)
                if self.upload_id:
                    self.server.sessions[self.upload_id] = answer
            return answer
        if self.upload_id and response.status == 308:
            self.server.sessions[self.upload_id] = (308, headers, b"")
        if whole or response.status == 308 or not response.getheader("Content-Length"):
            return response.status, headers, response.read()
        headers["Content-Length"] = str(response.getheader("Content-Length"))
        self._reply((response.status, headers, b""))
        while piece := response.read(PIECE):
            self.wfile.write(piece)
        return None

    def _reply(self, answer: Answer) -> None:
        """Send an answer; the body follows later when `headers` give its Content-Length."""
        status, headers, body = answer
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
