"""A reverse proxy that makes `gcp-storage-emulator` keep Cloud Storage's promises.

The real `google-cloud-storage` client talks to this proxy (`STORAGE_EMULATOR_HOST` or
`client_options={"api_endpoint": url}`), the proxy talks to the emulator. What the emulator
gets wrong, measured against the client, and what the proxy does about it:

- Generation preconditions are ignored (`ifGenerationMatch`, `ifGenerationNotMatch`,
  `ifMetagenerationMatch`, `ifMetagenerationNotMatch`). The proxy checks them against the
  live object on uploads (media, multipart, and resumable: at the initiating POST and again
  when the last chunk commits), downloads, metadata GET, PATCH/PUT, DELETE, and on the
  destination of copy/rewrite/compose. A failed match answers 412 with a Cloud Storage
  error body (304 for a failed not-match on a read, as Cloud Storage does). Check and commit
  run under one lock per object name, so two racing create-only writes cannot both win.
- Downloads carry no `x-goog-generation` / `x-goog-metageneration`: the proxy adds them. The
  object lock is held until the emulator has answered the headers (it reads the whole object
  before it answers), so the header names the generation whose bytes follow.
- `generation=` on reads and deletes is ignored (and the emulator keeps no old versions):
  the proxy answers 404 unless it names the live generation.
- A byte range starting past the end gets a 206 with nothing in it: the proxy answers 416,
  which is what the client's streamed reader expects at the end of an object.
- An object created with custom metadata starts at metageneration 2: the proxy reports
  metagenerations counted from 1 for the generations it created.
- `mediaLink` and `selfLink` are built from unescaped names (a space or `#` breaks them): the
  proxy rewrites them escaped, pointing at itself.
- Listing ignores `maxResults`, `pageToken`, `startOffset` and `endOffset`: the proxy pages
  (names and prefixes merged in name order, like Cloud Storage) and filters.
- A one-request upload whose writer dies mid-body is committed truncated (the emulator
  takes a short read as the whole body): the proxy spools such bodies and forwards them
  only once complete.
- Resumable uploads append each chunk by copying everything received so far (quadratic in
  the object's size) and take the generation at the initiating POST (so a slow session
  could finish with a generation older than the live one). The proxy runs resumable
  sessions itself, spooling chunks to a temporary file, and commits each finished upload
  under the object lock in one request.
- A ranged download reads the whole object (from disk, in disk mode) to send a slice of
  it, so reading a big object in 8 MiB ranges is quadratic. The proxy keeps one file per
  generation of every object of `cache_min_bytes` or more (the spool of a resumable upload
  it committed, or one full download) and serves ranges from it; a new generation, a delete
  or a copy onto the name drops it. Open readers keep their file (POSIX unlink semantics).
- The emulator serves one request at a time with a listen backlog of 5: the proxy sends it
  at most `max_upstream` requests at once rather than have connections refused.

Bodies are streamed through in 1 MiB pieces; only small JSON bodies are read whole. The
emulator itself still holds each object in memory while it handles it.

Every finalize (an upload, copy, rewrite or compose that created a generation) is handed to
`EventSource.finalized`, which runs the test observers and queues the CloudEvent.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import http.server
import io
import json
import re
import shutil
import socket
import tempfile
import threading
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final

from .gcs_events import EventSource

PIECE: Final = 1024 * 1024
_JSON_LIMIT: Final = 16 * 1024 * 1024
_MULTIPART_PEEK_LIMIT: Final = 4 * 1024 * 1024
_DEFAULT_PAGE: Final = 1000
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
        "server",
        "date",
    }
)
_PRECONDITION_MESSAGE: Final = "At least one of the pre-conditions you specified did not hold."

_UPLOAD = re.compile(r"^/upload/storage/v1/b/(?P<bucket>[^/]+)/o$")
_DOWNLOAD = re.compile(r"^/download/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<object>.+)$")
_LIST = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)/o$")
_COPY = re.compile(
    r"^/storage/v1/b/(?P<sbucket>[^/]+)/o/(?P<sobject>.+)/(?:copyTo|rewriteTo)"
    r"/b/(?P<bucket>[^/]+)/o/(?P<object>.+)$"
)
_COMPOSE = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<object>.+)/compose$")
_OBJECT = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<object>.+)$")
_OBJECT_SUBRESOURCE = re.compile(r"/(?:acl|restore)$")
_CONTENT_RANGE = re.compile(r"^bytes (?:(?P<start>\d+)-(?P<end>\d+)|\*)/(?P<total>\d+|\*)$")
_RANGE = re.compile(r"^\s*bytes=(?P<start>\d+)-(?P<end>\d*)\s*$")


def quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def error_body(code: int, reason: str, message: str) -> bytes:
    """An error the way Cloud Storage's JSON API words it."""
    detail: dict[str, str] = {"domain": "global", "reason": reason, "message": message}
    if reason == "conditionNotMet":
        detail.update(locationType="header", location="If-Match")
    return json.dumps({"error": {"code": code, "message": message, "errors": [detail]}}).encode()


@dataclasses.dataclass(frozen=True)
class Fault:
    """A failure to inject into the next `times` requests whose method and path match.

    `when="before"`: answer `status` without touching the emulator (the request is lost).
    `when="after"`: handle the request (commits included), then answer `status` instead of
    the real answer; `status=0` drops the connection without an answer (the answer is lost).
    `path` is a regular expression searched in the path and query string.
    """

    method: str
    path: str
    status: int = 503
    when: str = "before"
    times: int = 1

    def matches(self, method: str, target: str) -> bool:
        return method == self.method and re.search(self.path, target) is not None


class _Discard(io.RawIOBase):
    """Where the real answer goes when a fault replaces it."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


class UpstreamError(Exception):
    """The emulator answered something the proxy cannot work with."""


@dataclasses.dataclass(frozen=True)
class Preconditions:
    """The generation conditions of one request (query parameters, any case)."""

    if_generation_match: int | None = None
    if_generation_not_match: int | None = None
    if_metageneration_match: int | None = None
    if_metageneration_not_match: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], prefix: str = "if") -> Preconditions:
        lowered = {k.lower(): v for k, v in query.items()}

        def number(key: str) -> int | None:
            raw = lowered.get(f"{prefix}{key}".lower())
            return int(raw) if raw not in (None, "") else None

        return cls(
            if_generation_match=number("GenerationMatch"),
            if_generation_not_match=number("GenerationNotMatch"),
            if_metageneration_match=number("MetagenerationMatch"),
            if_metageneration_not_match=number("MetagenerationNotMatch"),
        )

    def failure(self, generation: int, metageneration: int | None) -> str | None:
        """Which condition fails ("match" or "not-match") for this state; None if all hold.

        An absent object has generation 0 and no metageneration.
        """
        if self.if_generation_match is not None and generation != self.if_generation_match:
            return "match"
        if self.if_metageneration_match is not None and (
            metageneration is None or metageneration != self.if_metageneration_match
        ):
            return "match"
        if self.if_generation_not_match is not None and generation == self.if_generation_not_match:
            return "not-match"
        if (
            self.if_metageneration_not_match is not None
            and metageneration == self.if_metageneration_not_match
        ):
            return "not-match"
        return None


class _Body:
    """The request body of one client request, read at most once, as a stream."""

    def __init__(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        self._rfile = handler.rfile
        self._chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
        self.length: int | None = (
            None if self._chunked else int(handler.headers.get("Content-Length") or 0)
        )
        self._used = False

    def pieces(self) -> Iterator[bytes]:
        if self._used:
            return
        self._used = True
        if self._chunked:
            yield from self._dechunk()
            return
        left = self.length or 0
        while left:
            piece = self._rfile.read(min(left, PIECE))
            if not piece:
                raise ConnectionError("the client closed the connection mid-body")
            left -= len(piece)
            yield piece

    def _dechunk(self) -> Iterator[bytes]:
        while True:
            size = int(self._rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            left = size
            while left:
                piece = self._rfile.read(min(left, PIECE))
                if not piece:
                    raise ConnectionError("the client closed the connection mid-body")
                left -= len(piece)
                yield piece
            self._rfile.readline()

    def read_all(self, limit: int = _JSON_LIMIT) -> bytes:
        data = bytearray()
        for piece in self.pieces():
            data += piece
            if len(data) > limit:
                raise UpstreamError("request body too large to inspect")
        return bytes(data)

    def drain(self) -> None:
        for _ in self.pieces():
            pass


@dataclasses.dataclass
class _Session:
    """A resumable upload the proxy runs itself (see the module docstring)."""

    id: str
    bucket: str
    name: str
    metadata_body: bytes
    upload_content_type: str
    preconditions: Preconditions
    spool: Path
    received: int = 0
    final: tuple[int, bytes] | None = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


@dataclasses.dataclass(frozen=True)
class _Cached:
    """A local copy of one generation of one object, never written again once made."""

    generation: str
    path: Path


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    proxy: PreconditionProxy

    def __init__(self, address: tuple[str, int], proxy: PreconditionProxy) -> None:
        self.proxy = proxy
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 600
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and the
    # peer's delayed ACK add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def _handle(self) -> None:
        self.server.proxy.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, *_args: Any) -> None:
        return


class _Request:
    """What the proxy needs to know about one client request."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.method = handler.command
        parsed = urllib.parse.urlsplit(handler.path)
        self.path = parsed.path
        self.raw_query = parsed.query
        self.query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        self.headers = handler.headers
        self.body = _Body(handler)
        self.host = handler.headers.get("Host") or "{}:{}".format(*handler.server.server_address)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    @property
    def target(self) -> str:
        return self.path + (f"?{self.raw_query}" if self.raw_query else "")

    def forward_headers(self) -> dict[str, str]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = self.host
        return headers


class PreconditionProxy:
    """The proxy server. `url` is what `STORAGE_EMULATOR_HOST` should be set to.

    `events` receives every finalized object; the proxy closes it on `stop()`.
    """

    def __init__(
        self,
        emulator_url: str,
        *,
        events: EventSource | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        spool_dir: Path | None = None,
        upstream_timeout_s: float = 300.0,
        max_upstream: int = 4,
        cache_min_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        emulator = urllib.parse.urlsplit(emulator_url)
        self._emulator_host = emulator.hostname or "127.0.0.1"
        self._emulator_port = emulator.port or 80
        self._upstream_timeout_s = upstream_timeout_s
        self._slots = threading.BoundedSemaphore(max_upstream)
        self.events = events if events is not None else EventSource()
        self._own_spool = spool_dir is None
        self._spool_dir = (
            Path(tempfile.mkdtemp(prefix="gcs-proxy-")) if spool_dir is None else spool_dir
        )
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._metageneration_base: dict[tuple[str, str, str], int] = {}
        self._cache_min_bytes = cache_min_bytes
        self._cache: dict[tuple[str, str], _Cached] = {}  # changed under the object's lock
        self._faults: list[list[Any]] = []  # [fault, times left]
        self._faults_lock = threading.Lock()
        self._server = _Server((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="gcs-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> PreconditionProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.events.close()
        self._server.shutdown()
        self._server.server_close()
        with self._server.connections_lock:
            open_connections = list(self._server.connections)
        for conn in open_connections:  # idle keep-alive connections would live on otherwise
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
        for cached in list(self._cache.values()):
            cached.path.unlink(missing_ok=True)
        if self._own_spool:
            shutil.rmtree(self._spool_dir, ignore_errors=True)

    def __enter__(self) -> PreconditionProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- plumbing --------------------------------------------------------------------------

    def _object_lock(self, bucket: str, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((bucket, name), threading.Lock())

    def _cache_put(self, bucket: str, name: str, generation: str, path: Path) -> None:
        """Under the object's lock: `path` now holds `generation` of the object."""
        old = self._cache.get((bucket, name))
        self._cache[(bucket, name)] = _Cached(generation, path)
        if old is not None and old.path != path:
            old.path.unlink(missing_ok=True)

    def _cache_drop(self, bucket: str, name: str) -> None:
        """Under the object's lock: the cached generation (if any) is no longer live."""
        old = self._cache.pop((bucket, name), None)
        if old is not None:
            old.path.unlink(missing_ok=True)

    def _cached_copy(self, bucket: str, name: str, live: Mapping[str, Any]) -> _Cached:
        """Under the object's lock: the local copy of the live generation, made if need be."""
        generation = str(live["generation"])
        cached = self._cache.get((bucket, name))
        if cached is not None and cached.generation == generation:
            return cached
        path = self._spool_dir / f"{uuid.uuid4().hex}.object"
        target = f"/download/storage/v1/b/{quote(bucket)}/o/{quote(name)}?alt=media"
        with self._upstream("GET", target, {}) as resp, path.open("wb") as copy:
            if resp.status != 200:
                raise UpstreamError(f"download answered {resp.status}")
            while piece := resp.read(PIECE):
                copy.write(piece)
        if path.stat().st_size != int(live.get("size") or 0):
            path.unlink(missing_ok=True)
            raise UpstreamError("the emulator sent a different size than it reported")
        self._cache_put(bucket, name, generation, path)
        return self._cache[(bucket, name)]

    @contextlib.contextmanager
    def _upstream(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: Iterable[bytes] | None = None,
        length: int | None = None,
    ) -> Iterator[http.client.HTTPResponse]:
        """One request to the emulator; the response is open inside the block."""
        with self._slots:
            conn = http.client.HTTPConnection(
                self._emulator_host, self._emulator_port, timeout=self._upstream_timeout_s
            )
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                sent = {k.lower() for k in headers}
                for key, value in headers.items():
                    conn.putheader(key, value)
                if "host" not in sent:
                    conn.putheader("Host", f"{self._emulator_host}:{self._emulator_port}")
                conn.putheader("Content-Length", str(length or 0))
                conn.putheader("Connection", "close")
                conn.endheaders()
                for piece in body or ():
                    conn.send(piece)
                yield conn.getresponse()
            finally:
                conn.close()

    def _call(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        pieces = [body] if body else None
        with self._upstream(method, target, headers or {}, pieces, len(body or b"")) as resp:
            return resp.status, resp.headers, resp.read()

    def _live(self, bucket: str, name: str) -> dict[str, Any] | None:
        """The emulator's resource for the live generation, or None."""
        status, _, body = self._call("GET", f"/storage/v1/b/{quote(bucket)}/o/{quote(name)}")
        if status == 404:
            return None
        if status != 200:
            raise UpstreamError(f"object lookup answered {status}: {body[:200]!r}")
        resource: dict[str, Any] = json.loads(body)
        return resource

    def _metageneration(self, resource: Mapping[str, Any]) -> int:
        raw = int(resource.get("metageneration") or 1)
        key = (str(resource["bucket"]), str(resource["name"]), str(resource["generation"]))
        base = self._metageneration_base.get(key)
        return raw if base is None else raw - base + 1

    def _created(self, resource: Mapping[str, Any]) -> None:
        key = (str(resource["bucket"]), str(resource["name"]), str(resource["generation"]))
        self._metageneration_base[key] = int(resource.get("metageneration") or 1)

    def _present(self, resource: Mapping[str, Any], base_url: str) -> dict[str, Any]:
        """The resource as Cloud Storage would show it (see the module docstring)."""
        shown = dict(resource)
        bucket, name = quote(str(resource["bucket"])), quote(str(resource["name"]))
        generation = str(resource["generation"])
        shown["metageneration"] = str(self._metageneration(resource))
        shown["selfLink"] = f"{base_url}/storage/v1/b/{bucket}/o/{name}"
        shown["mediaLink"] = (
            f"{base_url}/download/storage/v1/b/{bucket}/o/{name}?generation={generation}&alt=media"
        )
        for field in ("size", "generation"):
            if field in shown and shown[field] is not None:
                shown[field] = str(shown[field])
        return shown

    def _finalized(self, resource: Mapping[str, Any]) -> None:
        self.events.finalized(self._present(resource, self.url))

    @staticmethod
    def _send(
        handler: _Handler, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body and handler.command != "HEAD":
            handler.wfile.write(body)

    def _send_json(self, handler: _Handler, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self._send(handler, status, body, {"Content-Type": "application/json; charset=UTF-8"})

    def _send_error(self, req: _Request, status: int, reason: str, message: str) -> None:
        req.body.drain()
        body = error_body(status, reason, message)
        self._send(req.handler, status, body, {"Content-Type": "application/json; charset=UTF-8"})

    def _precondition_failed(self, req: _Request) -> None:
        self._send_error(req, 412, "conditionNotMet", _PRECONDITION_MESSAGE)

    def _not_found(self, req: _Request, bucket: str, name: str) -> None:
        self._send_error(req, 404, "notFound", f"No such object: {bucket}/{name}")

    def _relay(
        self,
        handler: _Handler,
        resp: http.client.HTTPResponse,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """Stream the emulator's answer back to the client."""
        handler.send_response(resp.status)
        for key, value in resp.headers.items():
            if key.lower() not in _HOP_BY_HOP:
                handler.send_header(key, value)
        for key, value in (extra or {}).items():
            handler.send_header(key, value)
        length = resp.headers.get("Content-Length")
        if length is None:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("Content-Length", length)
        handler.end_headers()
        if handler.command == "HEAD":
            return
        while piece := resp.read(PIECE):
            handler.wfile.write(piece)

    # --- dispatch --------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Fail matching requests (see `Fault`); faults are used in the order injected."""
        with self._faults_lock:
            self._faults.append([fault, fault.times])

    def pending_faults(self) -> int:
        """How many injected failures have not happened yet."""
        with self._faults_lock:
            return sum(left for _, left in self._faults)

    def _take_fault(self, req: _Request) -> Fault | None:
        with self._faults_lock:
            for entry in self._faults:
                fault, left = entry
                if left > 0 and fault.matches(req.method, req.target):
                    entry[1] = left - 1
                    return fault  # type: ignore[no-any-return]
        return None

    def handle(self, handler: _Handler) -> None:
        req = _Request(handler)
        fault = self._take_fault(req)
        if fault is not None and fault.when == "before":
            req.body.drain()
            self._send(handler, fault.status, error_body(fault.status, "backendError", "fault"))
            return
        real_wfile = handler.wfile
        if fault is not None:
            handler.wfile = _Discard()  # type: ignore[assignment]
        try:
            self._serve(req)
        finally:
            handler.wfile = real_wfile
        if fault is None:
            return
        if fault.status == 0:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(handler, fault.status, error_body(fault.status, "backendError", "fault"))

    def _serve(self, req: _Request) -> None:
        handler = req.handler
        try:
            self._route(req)
        except (UpstreamError, OSError, ValueError, KeyError) as exc:
            # The emulator failed or the request made no sense: say so and hang up (the body
            # may be half read). If the client is the one that went away, nobody listens.
            handler.close_connection = True
            with contextlib.suppress(OSError):
                self._send(handler, 502, error_body(502, "backendError", str(exc)))
            return
        try:
            req.body.drain()
        except OSError:
            handler.close_connection = True

    def _route(self, req: _Request) -> None:
        path = req.path
        if match := _UPLOAD.fullmatch(path):
            handled = self._route_upload(req, urllib.parse.unquote(match["bucket"]))
        elif match := _DOWNLOAD.fullmatch(path):
            handled = req.method in ("GET", "HEAD")
            if handled:
                self._download(req, *self._names(match))
        elif match := _LIST.fullmatch(path):
            handled = req.method == "GET"
            if handled:
                self._list(req, urllib.parse.unquote(match["bucket"]))
        elif match := _COPY.fullmatch(path) or _COMPOSE.fullmatch(path):
            handled = req.method == "POST"
            if handled:
                source = self._source(match) if "sbucket" in match.groupdict() else None
                self._copy(req, *self._names(match), source=source)
        elif (match := _OBJECT.fullmatch(path)) and not _OBJECT_SUBRESOURCE.search(path):
            handled = self._route_object(req, *self._names(match))
        else:
            handled = False
        if not handled:
            self._passthrough(req)

    def _route_upload(self, req: _Request, bucket: str) -> bool:
        if "upload_id" in req.query:
            if req.method in ("PUT", "POST"):
                self._resumable_chunk(req)
                return True
            if req.method == "DELETE":
                self._resumable_cancel(req)
                return True
            return False
        if req.method != "POST":
            return False
        kind = req.query.get("uploadType", "")
        if kind == "media":
            self._upload_simple(req, bucket, req.query.get("name", ""))
        elif kind == "multipart":
            self._upload_multipart(req, bucket)
        elif kind == "resumable":
            self._resumable_start(req, bucket)
        else:
            return False
        return True

    def _route_object(self, req: _Request, bucket: str, name: str) -> bool:
        if req.method == "GET" and req.query.get("alt") == "media":
            self._download(req, bucket, name)
        elif req.method == "GET":
            self._metadata(req, bucket, name)
        elif req.method in ("PATCH", "PUT"):
            self._update(req, bucket, name)
        elif req.method == "DELETE":
            self._delete(req, bucket, name)
        else:
            return False
        return True

    @staticmethod
    def _names(match: re.Match[str]) -> tuple[str, str]:
        return urllib.parse.unquote(match["bucket"]), urllib.parse.unquote(match["object"])

    @staticmethod
    def _source(match: re.Match[str]) -> tuple[str, str]:
        return urllib.parse.unquote(match["sbucket"]), urllib.parse.unquote(match["sobject"])

    def _passthrough(self, req: _Request) -> None:
        body, length = self._sized_body(req)
        with self._upstream(req.method, req.target, req.forward_headers(), body, length) as resp:
            self._relay(req.handler, resp)

    def _sized_body(self, req: _Request) -> tuple[Iterable[bytes], int]:
        """The body with its length; a chunked body is spooled first to learn it."""
        if req.body.length is not None:
            return req.body.pieces(), req.body.length
        spool = tempfile.TemporaryFile(dir=self._spool_dir)  # noqa: SIM115 (closed by the reader)
        for piece in req.body.pieces():
            spool.write(piece)
        length = spool.tell()
        spool.seek(0)
        return _file_pieces(spool, close=True), length

    # --- writes ----------------------------------------------------------------------------

    def _upload_simple(
        self,
        req: _Request,
        bucket: str,
        name: str,
        head: bytes = b"",
    ) -> None:
        """A one-request upload (media or multipart): check, forward, commit, announce.

        The body is spooled whole before the emulator sees any of it: the emulator would
        commit whatever part of a body it got from a writer that died mid-request, where
        Cloud Storage commits nothing.
        """
        if not name:
            return self._send_error(req, 400, "required", "Required parameter: name")
        pre = Preconditions.from_query(req.query)
        with tempfile.TemporaryFile(dir=self._spool_dir) as spool:
            spool.write(head)
            for piece in req.body.pieces():
                spool.write(piece)
            length = spool.tell()
            spool.seek(0)
            with self._object_lock(bucket, name):
                if self._write_blocked(pre, self._live(bucket, name)):
                    return self._precondition_failed(req)
                headers = req.forward_headers()
                body = _file_pieces(spool)
                with self._upstream("POST", req.target, headers, body, length) as resp:
                    status, answer = resp.status, resp.read()
                resource = self._committed(status, answer)
                if resource is not None:
                    self._cache_drop(bucket, name)
        self._answer_commit(req, status, answer, resource)
        return None

    def _write_blocked(self, pre: Preconditions, live: Mapping[str, Any] | None) -> bool:
        if live is None:
            return pre.failure(0, None) is not None
        return pre.failure(int(live["generation"]), self._metageneration(live)) is not None

    def _committed(self, status: int, answer: bytes, key: str = "") -> dict[str, Any] | None:
        if status != 200:
            return None
        document: dict[str, Any] = json.loads(answer)
        resource: dict[str, Any] = document[key] if key else document
        self._created(resource)
        return resource

    def _answer_commit(
        self,
        req: _Request,
        status: int,
        answer: bytes,
        resource: Mapping[str, Any] | None,
        key: str = "",
    ) -> None:
        if resource is None:
            ctype = "application/json; charset=UTF-8"
            return self._send(req.handler, status, answer, {"Content-Type": ctype})
        self._finalized(resource)
        shown = self._present(resource, req.base_url)
        if key:
            document = json.loads(answer)
            document[key] = shown
            return self._send_json(req.handler, status, document)
        return self._send_json(req.handler, status, shown)

    def _upload_multipart(self, req: _Request, bucket: str) -> None:
        """The object's name is in the JSON part at the head of the body: peek at it."""
        boundary = _boundary(req.headers.get("Content-Type", ""))
        head = bytearray()
        pieces = req.body.pieces()
        metadata: dict[str, Any] | None = None
        for piece in pieces:
            head += piece
            metadata = _multipart_metadata(bytes(head), boundary)
            if metadata is not None or len(head) > _MULTIPART_PEEK_LIMIT:
                break
        if metadata is None:
            return self._send_error(req, 400, "invalid", "Cannot read the multipart metadata")
        name = req.query.get("name") or str(metadata.get("name", ""))
        length = None if req.body.length is None else req.body.length - len(head)
        req.body = _Remainder(pieces, length)
        return self._upload_simple(req, bucket, name, head=bytes(head))

    def _resumable_start(self, req: _Request, bucket: str) -> None:
        metadata_body = req.body.read_all()
        metadata: dict[str, Any] = json.loads(metadata_body) if metadata_body.strip() else {}
        name = req.query.get("name") or str(metadata.get("name", ""))
        if not name:
            return self._send_error(req, 400, "required", "Required parameter: name")
        pre = Preconditions.from_query(req.query)
        if self._write_blocked(pre, self._live(bucket, name)):
            return self._precondition_failed(req)
        session = _Session(
            id=uuid.uuid4().hex,
            bucket=bucket,
            name=name,
            metadata_body=metadata_body,
            upload_content_type=req.headers.get("X-Upload-Content-Type", ""),
            preconditions=pre,
            spool=self._spool_dir / f"{uuid.uuid4().hex}.upload",
        )
        session.spool.touch()
        self._sessions[session.id] = session
        location = (
            f"{req.base_url}/upload/storage/v1/b/{quote(bucket)}/o"
            f"?uploadType=resumable&upload_id={session.id}"
        )
        self._send(req.handler, 200, b"", {"Location": location})
        return None

    def _resumable_cancel(self, req: _Request) -> None:
        session = self._sessions.pop(req.query["upload_id"], None)
        if session is None:
            return self._send_error(req, 404, "notFound", "No such upload session")
        with session.lock:
            session.spool.unlink(missing_ok=True)
        # Cloud Storage answers a cancelled session with 499.
        self._send(req.handler, 499)
        return None

    def _resumable_chunk(self, req: _Request) -> None:
        session = self._sessions.get(req.query["upload_id"])
        if session is None:
            return self._send_error(req, 404, "notFound", "No such upload session")
        with session.lock:
            if session.final is not None:
                req.body.drain()
                status, answer = session.final
                return self._send(req.handler, status, answer, {"Content-Type": "application/json"})
            total = self._append(req, session)
            if total is not None and session.received > total:
                return self._send_error(req, 400, "invalid", "More bytes than the total")
            if total is None or session.received < total:
                headers = {}
                if session.received:
                    headers["Range"] = f"bytes=0-{session.received - 1}"
                return self._send(req.handler, 308, b"", headers)
            # The session stays known: a client whose answer got lost asks it for the result.
            status, answer, resource = self._commit_session(session)
            if resource is not None:
                self._finalized(resource)
                answer = json.dumps(self._present(resource, req.base_url)).encode()
            session.final = (status, answer)
        return self._send(req.handler, status, answer, {"Content-Type": "application/json"})

    @staticmethod
    def _append(req: _Request, session: _Session) -> int | None:
        """Add this request's bytes to the spool; the total if the client said it."""
        content_range = req.headers.get("Content-Range", "").strip()
        if not content_range:  # the whole object in one request
            start, total = session.received, None
        else:
            match = _CONTENT_RANGE.fullmatch(content_range)
            if match is None:
                raise ValueError(f"bad Content-Range: {content_range!r}")
            start = int(match["start"]) if match["start"] is not None else session.received
            total = int(match["total"]) if match["total"] != "*" else None
        if start > session.received:
            req.body.drain()  # a gap: the 308's Range tells the client where to resume
            return total
        skip = session.received - start
        with session.spool.open("ab") as spool:
            for piece in req.body.pieces():
                if skip >= len(piece):
                    skip -= len(piece)
                    continue
                spool.write(piece[skip:])
                session.received += len(piece) - skip
                skip = 0
        if not content_range:
            return session.received
        return total

    def _commit_session(self, session: _Session) -> tuple[int, bytes, dict[str, Any] | None]:
        """Under the object lock: re-check, then hand the whole object to the emulator.

        A big enough spool becomes the object's local copy for reads; any other is removed.
        """
        with self._object_lock(session.bucket, session.name):
            try:
                status, answer, resource = self._commit_spool(session)
            except BaseException:
                session.spool.unlink(missing_ok=True)
                raise
            if resource is not None and session.received >= self._cache_min_bytes:
                generation = str(resource["generation"])
                self._cache_put(session.bucket, session.name, generation, session.spool)
            else:
                session.spool.unlink(missing_ok=True)
                if resource is not None:
                    self._cache_drop(session.bucket, session.name)
            return status, answer, resource

    def _commit_spool(self, session: _Session) -> tuple[int, bytes, dict[str, Any] | None]:
        if self._write_blocked(session.preconditions, self._live(session.bucket, session.name)):
            return 412, error_body(412, "conditionNotMet", _PRECONDITION_MESSAGE), None
        bucket_q, name_q = quote(session.bucket), quote(session.name)
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        if session.upload_content_type:
            headers["X-Upload-Content-Type"] = session.upload_content_type
        status, answer_headers, answer = self._call(
            "POST",
            f"/upload/storage/v1/b/{bucket_q}/o?uploadType=resumable&name={name_q}",
            headers,
            session.metadata_body or b"{}",
        )
        if status != 200:
            return status, answer, None
        location = urllib.parse.urlsplit(answer_headers.get("Location", ""))
        upload_id = dict(urllib.parse.parse_qsl(location.query))["upload_id"]
        size = session.received
        content_range = f"bytes 0-{size - 1}/{size}" if size else "bytes */0"
        target = (
            f"/upload/storage/v1/b/{bucket_q}/o?uploadType=resumable&upload_id={quote(upload_id)}"
        )
        with (
            session.spool.open("rb") as spool,
            self._upstream(
                "PUT", target, {"Content-Range": content_range}, _file_pieces(spool), size
            ) as resp,
        ):
            status, answer = resp.status, resp.read()
        return status, answer, self._committed(status, answer)

    def _copy(
        self, req: _Request, bucket: str, name: str, *, source: tuple[str, str] | None
    ) -> None:
        """copyTo, rewriteTo, compose: preconditions apply to the destination."""
        pre = Preconditions.from_query(req.query)
        source_pre = Preconditions.from_query(req.query, prefix="ifSource")
        payload = req.body.read_all()
        with self._object_lock(bucket, name):
            if source is not None and source_pre != Preconditions():
                source_live = self._live(*source)
                if source_live is None:
                    return self._not_found(req, *source)
                if self._write_blocked(source_pre, source_live):
                    return self._precondition_failed(req)
            if self._write_blocked(pre, self._live(bucket, name)):
                return self._precondition_failed(req)
            status, _, answer = self._call("POST", req.target, req.forward_headers(), payload)
            key = "resource" if "/rewriteTo/" in req.path else ""
            resource = self._committed(status, answer, key)
            if resource is not None:
                self._cache_drop(bucket, name)
        return self._answer_commit(req, status, answer, resource, key)

    def _update(self, req: _Request, bucket: str, name: str) -> None:
        pre = Preconditions.from_query(req.query)
        payload = req.body.read_all()
        with self._object_lock(bucket, name):
            live = self._live(bucket, name)
            if live is None:
                return self._not_found(req, bucket, name)
            if self._write_blocked(pre, live):
                return self._precondition_failed(req)
            status, _, answer = self._call(req.method, req.target, req.forward_headers(), payload)
        if status != 200:
            return self._send(req.handler, status, answer, {"Content-Type": "application/json"})
        return self._send_json(req.handler, 200, self._present(json.loads(answer), req.base_url))

    def _delete(self, req: _Request, bucket: str, name: str) -> None:
        pre = Preconditions.from_query(req.query)
        with self._object_lock(bucket, name):
            live = self._live(bucket, name)
            wanted = req.query.get("generation")
            if live is None or (wanted and wanted != str(live["generation"])):
                return self._not_found(req, bucket, name)
            if self._write_blocked(pre, live):
                return self._precondition_failed(req)
            status, _, answer = self._call(
                "DELETE", f"/storage/v1/b/{quote(bucket)}/o/{quote(name)}"
            )
            self._cache_drop(bucket, name)
        return self._send(req.handler, status, answer)

    # --- reads -----------------------------------------------------------------------------

    def _read_refusal(
        self, req: _Request, live: Mapping[str, Any] | None, bucket: str, name: str
    ) -> bool:
        """Answer 404/412/304 when a read must not go ahead; True when it answered."""
        wanted = req.query.get("generation")
        if live is None or (wanted and wanted != str(live["generation"])):
            self._not_found(req, bucket, name)
            return True
        pre = Preconditions.from_query(req.query)
        failure = pre.failure(int(live["generation"]), self._metageneration(live))
        if failure == "match":
            self._precondition_failed(req)
            return True
        if failure == "not-match":
            self._send(req.handler, 304)
            return True
        return False

    def _metadata(self, req: _Request, bucket: str, name: str) -> None:
        live = self._live(bucket, name)
        if self._read_refusal(req, live, bucket, name):
            return
        assert live is not None
        self._send_json(req.handler, 200, self._present(live, req.base_url))

    def _download(self, req: _Request, bucket: str, name: str) -> None:
        """Media download with the generation headers; big objects from their local copy."""
        lock = self._object_lock(bucket, name)
        lock.acquire()
        locked = True
        try:
            live = self._live(bucket, name)
            if self._read_refusal(req, live, bucket, name):
                return
            assert live is not None
            size = int(live.get("size") or 0)
            extra = {
                "X-Goog-Generation": str(live["generation"]),
                "X-Goog-Metageneration": str(self._metageneration(live)),
                "X-Goog-Stored-Content-Length": str(size),
                "X-Goog-Storage-Class": str(live.get("storageClass") or "STANDARD"),
            }
            range_header = req.headers.get("Range")
            wanted = _RANGE.fullmatch(range_header) if range_header else None
            if wanted is not None and int(wanted["start"]) >= size:
                message = "The requested range cannot be satisfied."
                self._send_error(req, 416, "requestedRangeNotSatisfiable", message)
                return
            if size >= self._cache_min_bytes:
                with self._cached_copy(bucket, name, live).path.open("rb") as copy:
                    # The open file keeps this generation's bytes whatever happens next.
                    lock.release()
                    locked = False
                    self._send_copy(req, copy, live, size, wanted=wanted, extra=extra)
                return
            headers = {"Host": req.host}
            if range_header:
                headers["Range"] = range_header
            target = f"/download/storage/v1/b/{quote(bucket)}/o/{quote(name)}?alt=media"
            with self._upstream("GET", target, headers) as resp:
                # The emulator read the whole object before it sent these headers, so the
                # bytes that follow are this generation's: writers may go on meanwhile.
                lock.release()
                locked = False
                self._relay(req.handler, resp, extra)
        finally:
            if locked:
                lock.release()

    def _send_copy(
        self,
        req: _Request,
        copy: BinaryIO,
        live: Mapping[str, Any],
        size: int,
        *,
        wanted: re.Match[str] | None,
        extra: Mapping[str, str],
    ) -> None:
        """Send all of the local copy, or the asked-for range of it."""
        handler = req.handler
        start, end = 0, size - 1
        if wanted is not None:
            start = int(wanted["start"])
            end = min(size - 1, int(wanted["end"])) if wanted["end"] else size - 1
        handler.send_response(206 if wanted is not None else 200)
        handler.send_header(
            "Content-Type", str(live.get("contentType") or "application/octet-stream")
        )
        handler.send_header("Content-Length", str(end - start + 1))
        handler.send_header("Accept-Ranges", "bytes")
        if wanted is not None:
            handler.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            handler.send_header(
                "X-Goog-Hash", f"crc32c={live.get('crc32c')},md5={live.get('md5Hash')}"
            )
        for key, value in (live.get("metadata") or {}).items():
            handler.send_header(f"x-goog-meta-{key}", str(value))
        for key, value in extra.items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command == "HEAD":
            return
        copy.seek(start)
        left = end - start + 1
        while left > 0 and (piece := copy.read(min(left, PIECE))):
            handler.wfile.write(piece)
            left -= len(piece)

    def _list(self, req: _Request, bucket: str) -> None:
        query = req.query
        forwarded = {k: query[k] for k in ("prefix", "delimiter", "matchGlob") if k in query}
        target = f"/storage/v1/b/{quote(bucket)}/o"
        if forwarded:
            target += "?" + urllib.parse.urlencode(forwarded)
        status, _, answer = self._call("GET", target)
        if status != 200:
            return self._send(req.handler, status, answer, {"Content-Type": "application/json"})
        listing = json.loads(answer)
        entries: list[tuple[str, dict[str, Any] | None]] = [
            (str(item["name"]), item) for item in listing.get("items") or []
        ]
        entries += [(str(prefix), None) for prefix in listing.get("prefixes") or []]
        entries.sort(key=lambda entry: entry[0])
        start, end = query.get("startOffset"), query.get("endOffset")
        after = _decode_token(query.get("pageToken", ""))
        entries = [
            (name, item)
            for name, item in entries
            if (not start or name >= start)
            and (not end or name < end)
            and (after is None or name > after)
        ]
        page_size = int(query.get("maxResults") or _DEFAULT_PAGE)
        page, rest = entries[:page_size], entries[page_size:]
        document: dict[str, Any] = {"kind": "storage#objects"}
        items = [self._present(item, req.base_url) for _, item in page if item is not None]
        prefixes = [name for name, item in page if item is None]
        if items:
            document["items"] = items
        if prefixes:
            document["prefixes"] = prefixes
        if rest:
            document["nextPageToken"] = _encode_token(page[-1][0])
        return self._send_json(req.handler, 200, document)


class _Remainder(_Body):
    """The rest of a body whose head was already read."""

    def __init__(self, pieces: Iterator[bytes], length: int | None) -> None:
        self._rest = pieces
        self.length = length
        self._used = False
        self._chunked = False

    def pieces(self) -> Iterator[bytes]:
        if self._used:
            return
        self._used = True
        yield from self._rest


def _file_pieces(stream: BinaryIO, *, close: bool = False) -> Iterator[bytes]:
    try:
        while piece := stream.read(PIECE):
            yield piece
    finally:
        if close:
            stream.close()


def _boundary(content_type: str) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise ValueError(f"no multipart boundary in {content_type!r}")
    return match.group(1).encode()


def _multipart_metadata(head: bytes, boundary: bytes) -> dict[str, Any] | None:
    """The JSON of the first part, once the head of the body holds all of it."""
    marker = b"--" + boundary
    first = head.find(marker)
    if first < 0:
        return None
    headers_end = head.find(b"\r\n\r\n", first)
    if headers_end < 0:
        return None
    part_end = head.find(b"\r\n" + marker, headers_end)
    if part_end < 0:
        return None
    document: dict[str, Any] = json.loads(head[headers_end + 4 : part_end])
    return document


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str) -> str | None:
    return base64.urlsafe_b64decode(token.encode()).decode() if token else None
