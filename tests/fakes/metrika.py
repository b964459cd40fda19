"""A fake Yandex Metrica offline conversions API: a real HTTP server, strict where Metrica is.

Built from docs/metrika-api.md (Yandex's reference pages and the public copy of Metrica's own
API tests, `OfflineConversionUploadTest` and its neighbours), independently of the package's
own checker, so that it catches the package's mistakes rather than sharing them. It implements

    POST {prefix}/upload?type=&comment=       multipart, one `file` part (streamed, never kept)
         &ignore_visit_join_threshold=1 (BASIC) / &ignore_calls_visit_join_threshold=1 (CALLS)
    GET  {prefix}/uploading/{id}
    GET  {prefix}/uploadings?limit=&offset=&type=     ONE type (BASIC when none is named),
                                                      oldest first, limit up to 10000
    GET  {prefix}/visit_join_threshold
    with {prefix} = /management/v1/counter/{counterId}/offline_conversions
    GET  /management/v1/counter/{counterId}               the counter, with `permission`
    GET  /management/v1/counters                          the counters the token reaches
    GET  /management/v1/counter/{counterId}/goals     the goals scripted for the counter

As Metrica's tests show it: a new upload answers `UPLOADED`; `uploadings` without `type` lists
BASIC uploads only (the documented default; the tests' BASIC list holds none of the counter's
CALLS uploads), in the order they were made (oldest first: the order is not documented, and
this reading breaks any code that assumes the newest come first); a counter set "not ready
until" a date refuses uploads with `400 Загрузить данные сейчас невозможно. Загрузка станет
доступна <date>` unless they carry the type's ignore parameter, which also turns the
counter's extended linking window on (`offline_options`); daily quotas per token and per
counter answer `429 quota_requests_by_uid` / `quota_requests_by_counter_id` with Metrica's
Russian words; refusals the tests spell out are spelled as they do.

and refuses, with Metrica's error body and codes: a missing OAuth header (401), an unknown token
(403 invalid_token), a counter the token may not see (403 access_denied: `counters` for every
token, `access` per token, as Metrica answers for another account's counter), a bad `type`, a
comment over 255 characters or with characters other than digits, Latin and Cyrillic letters
and spaces, no `file` part, a file over `max_file_bytes`, an empty file, bytes that are not
UTF-8, a header without the columns its type requires (400), and a fourth request in flight
for one token (429 quota_parallel_requests).

Row counts: `source_quantity` is the number of records after the header (line breaks inside
quoted fields do not end a record; a blank line counts as a record, as nothing documents that
Metrica skips them). A UTF-8 byte order mark is accepted and journaled (`bom`).

Accepted uploads move UPLOADED → EXPORTED → MATCHED → PROCESSED (or the scripted
LINKAGE_FAILURE) on a clock the test controls (`advance`). Faults are scripted per request, in
order: an HTTP error (500, 503, 504, 429/420 with Retry-After…), the same after the request was
handled (`made=True`: the upload exists, the client is told 5xx, as a 504 `timeout` can),
a slow answer, or a dropped connection after the whole body was received (the upload is
recorded, the client gets no answer). `hold()` parks requests mid-flight until the test
releases them. Everything that arrived is in `journal` (never the token: a short hash of it,
`token_sha`). The same controls are served over HTTP under `/_fake/`, for tests and demos that
run the fake in another process (`FakeMetrikaControl`).

Run alone: `python -m tests.fakes.metrika --port 8765 [--token T] [--step-seconds S]`.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import dataclasses
import datetime as dt
import email.message
import email.parser
import hashlib
import json
import re
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

FAKE_TOKEN = "fake-metrika-token"  # accepted by the fake only
METRIKA_MAX_FILE_BYTES = 1_000_000_000
PARALLEL_LIMIT = 3
COMMENT_MAX_CHARS = 255
TYPES = ("BASIC", "CALLS", "CHATS")
LIFECYCLE = ("UPLOADED", "EXPORTED", "MATCHED")
#: The largest and default `limit` of `uploadings` (the reference page).
LIST_LIMIT = 10000
#: The upload parameter that lets a file into a counter that is not ready, per type.
IGNORE_THRESHOLD = {
    "BASIC": "ignore_visit_join_threshold",
    "CALLS": "ignore_calls_visit_join_threshold",
}
#: Metrica's words, as its API tests match them (`ManagementError`).
NOT_READY_MESSAGE = "Загрузить данные сейчас невозможно. Загрузка станет доступна {date}"
UID_QUOTA_MESSAGE = "Превышена квота на количество запросов к API для пользователя"
COUNTER_QUOTA_MESSAGE = "Превышена квота на количество запросов к счётчику"
UNAUTHORIZED_MESSAGE = "Неавторизованный пользователь"
INVALID_TOKEN_MESSAGE = "Invalid oauth_token"
ACCESS_DENIED_MESSAGE = "Access is denied"
NOT_FOUND_MESSAGE = "Entity not found"
EMPTY_FILE_MESSAGE = "The file is empty"
BAD_DATA_MESSAGE = "Неверный формат данных, ошибка в строке номер {line}"
MISSING_COLUMN_MESSAGE = "Отсутствует обязательная колонка {column}"
MISSING_PART_MESSAGE = "Не найден параметр запроса. file"
BAD_MULTIPART_MESSAGE = "Некорректный формат multipart запроса."
WRONG_PARAMETER_MESSAGE = "Wrong parameter value"
FINAL_STATUSES = ("PROCESSED", "LINKAGE_FAILURE")
ENDPOINTS = (
    "upload",
    "uploading",
    "uploadings",
    "visit_join_threshold",
    "goals",
    "counter",
    "counters",
)

#: Columns each type needs in its header: every group must be present by at least one name.
#: Kept here on purpose rather than imported: the fake checks the package, not itself.
REQUIRED_COLUMNS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "BASIC": (("Target",), ("DateTime",), ("ClientId", "UserId", "Yclid", "PurchaseId")),
    "CALLS": (("DateTime",), ("UserId", "ClientId", "Yclid")),
    "CHATS": (("DateTime",), ("ChatPlatform",), ("ChatUsername", "ChatUserID", "PhoneNumber")),
}

_PATH = re.compile(
    r"^/management/v1/counter/(?P<counter>\d+)/offline_conversions/"
    r"(?P<endpoint>upload|uploadings|visit_join_threshold|uploading/(?P<id>\d+))/?$"
)
_GOALS_PATH = re.compile(r"^/management/v1/counter/(?P<counter>\d+)/(?P<endpoint>goals)/?$")
_COUNTER_PATH = re.compile(r"^/management/v1/(?P<endpoint>counter)/(?P<counter>\d+)/?$")
_COUNTERS_PATH = re.compile(r"^/management/v1/(?P<endpoint>counters)/?$")
_READ_CHUNK = 256 * 1024
_MAX_PART_HEADERS = 16 * 1024
_MAX_HEADER_LINE = 64 * 1024
_DEFAULT_ERROR_TYPES = {
    400: "invalid_parameter",
    401: "unauthorized",
    403: "access_denied",
    404: "not_found",
    409: "conflict",
    420: "quota_requests_by_ip",
    429: "quota_requests_by_ip",
    500: "backend_error",
    503: "backend_error",
    504: "timeout",
}


# --- scripted behaviour and records ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fault:
    """What to do to one request. `endpoint` None matches any of ENDPOINTS.

    kind "status": answer `status` with Metrica's error body (the body is read, nothing kept;
        with `made`, the request is handled first: an upload is made, then refused with it);
    kind "drop": handle the request, then close the connection without answering;
    kind "slow": handle the request, then wait `delay_s` (or until released) before answering.
    """

    kind: str
    status: int = 500
    error_type: str = ""
    message: str = ""
    retry_after: str | None = None
    delay_s: float = 0.0
    endpoint: str | None = None
    made: bool = False

    @classmethod
    def http(
        cls,
        status: int,
        error_type: str = "",
        *,
        message: str = "",
        retry_after: float | str | None = None,
        endpoint: str | None = None,
        made: bool = False,
    ) -> Fault:
        return cls(
            "status",
            status=status,
            error_type=error_type or _DEFAULT_ERROR_TYPES.get(status, "backend_error"),
            message=message or f"scripted {status}",
            retry_after=None if retry_after is None else str(retry_after),
            endpoint=endpoint,
            made=made,
        )

    @classmethod
    def quota(
        cls,
        retry_after: float | str | None = None,
        *,
        status: int = 429,
        error_type: str = "quota_requests_by_ip",
        endpoint: str | None = None,
    ) -> Fault:
        return cls.http(status, error_type, retry_after=retry_after, endpoint=endpoint)

    @classmethod
    def drop(cls, endpoint: str | None = "upload") -> Fault:
        return cls("drop", endpoint=endpoint)

    @classmethod
    def slow(cls, delay_s: float, endpoint: str | None = None) -> Fault:
        return cls("slow", delay_s=delay_s, endpoint=endpoint)

    def matches(self, endpoint: str) -> bool:
        return self.endpoint is None or self.endpoint == endpoint

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        fault = cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})
        if fault.kind not in ("status", "drop", "slow"):
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        return fault


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How an accepted upload ends. `comment_contains` None applies to the next upload."""

    final_status: str = "PROCESSED"
    dropped_rows: int = 0
    linked: int | None = None  # None: every row that passed validation links
    user_not_found: int = 0
    goal_not_found: int = 0
    client_id_type: str | None = "CLIENT_ID"
    comment_contains: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        outcome = cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})
        if outcome.final_status not in FINAL_STATUSES:
            raise ValueError(f"final_status must be one of {FINAL_STATUSES}")
        return outcome


@dataclasses.dataclass(frozen=True)
class JournalEntry:
    """One request that reached the fake (never its token)."""

    seq: int
    method: str
    path: str
    endpoint: str
    counter_id: int | None
    type: str | None
    comment: str | None
    filename: str | None
    bytes: int
    rows: int
    columns: tuple[str, ...]
    bom: bool
    status: int  # the HTTP status answered; 0 when no answer was sent
    error_type: str
    message: str
    uploading_id: int | None
    fault: str  # "", "status", "drop", "slow", or "client_closed" when the body never finished
    in_flight: int  # requests of this token in flight when this one arrived, itself included
    at: float  # the fake clock
    token_sha: str = ""  # the first 12 hex digits of the token's SHA-256 ("" without a token)
    query: tuple[tuple[str, str], ...] = ()  # the query parameters, as sent
    limit: int | None = None  # `uploadings`: the page size asked for

    @property
    def recorded(self) -> bool:
        """An upload Metrica kept (answered or not): it has an uploading id."""
        return self.endpoint == "upload" and self.uploading_id is not None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalEntry:
        values = dict(data)
        values["columns"] = tuple(values.get("columns", ()))
        values["query"] = tuple(tuple(pair) for pair in values.get("query", ()))
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class FakeUpload:
    """An accepted upload: what arrived, and how it is scripted to end."""

    id: int
    counter_id: int
    type: str
    comment: str
    filename: str
    bytes: int
    rows: int
    columns: tuple[str, ...]
    created_at: float  # the fake clock
    create_time: str
    outcome: Outcome


# --- the body: multipart, streamed --------------------------------------------------------------


class MultipartError(ValueError):
    """The body is not the multipart/form-data it claims to be."""


class PartSink:
    """What the multipart parser feeds. Subclasses keep what they need, never the bytes."""

    def begin(self, headers: Mapping[str, str]) -> None: ...

    def data(self, chunk: bytes) -> None: ...

    def end(self) -> None: ...


class MultipartStream:
    """A push parser for multipart/form-data: memory bounded whatever the parts' sizes."""

    def __init__(self, boundary: bytes, sink: PartSink) -> None:
        if not boundary or len(boundary) > 200:
            raise MultipartError("bad multipart boundary")
        self._delimiter = b"--" + boundary
        self._part_end = b"\r\n" + self._delimiter
        self._sink = sink
        self._buffer = bytearray()
        self._state = "preamble"

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, chunk: bytes) -> None:
        if self._state == "done":
            return  # the epilogue is ignored
        self._buffer += chunk
        while self._step():
            pass

    def close(self) -> None:
        if self._state != "done":
            raise MultipartError("the body ended before the closing boundary")

    def _step(self) -> bool:
        """Advance by one state; False when more bytes are needed."""
        step: Callable[[bytearray], bool] = getattr(self, f"_step_{self._state}")
        return step(self._buffer)

    def _step_preamble(self, buffer: bytearray) -> bool:
        found = buffer.find(self._delimiter)
        if found < 0:
            del buffer[: max(0, len(buffer) - len(self._delimiter))]
            return False
        del buffer[: found + len(self._delimiter)]
        self._state = "after_delimiter"
        return True

    def _step_after_delimiter(self, buffer: bytearray) -> bool:
        if len(buffer) < 2:
            return False
        if buffer[:2] == b"--":
            self._state = "done"
            buffer.clear()
            return False
        if buffer[:2] != b"\r\n":
            raise MultipartError("a boundary line does not end with CRLF")
        del buffer[:2]
        self._state = "headers"
        return True

    def _step_headers(self, buffer: bytearray) -> bool:
        found = buffer.find(b"\r\n\r\n")
        if found < 0:
            if len(buffer) > _MAX_PART_HEADERS:
                raise MultipartError("part headers too long")
            return False
        text = bytes(buffer[:found]).decode("utf-8", "replace")
        del buffer[: found + 4]
        message = email.parser.HeaderParser().parsestr(text + "\r\n\r\n")
        self._sink.begin({key.lower(): value for key, value in message.items()})
        self._state = "data"
        return True

    def _step_data(self, buffer: bytearray) -> bool:
        # Everything up to CRLF + delimiter belongs to the part; keep a tail that could be
        # the start of a delimiter split across two chunks.
        found = buffer.find(self._part_end)
        if found >= 0:
            if found:
                self._sink.data(bytes(buffer[:found]))
            del buffer[: found + len(self._part_end)]
            self._sink.end()
            self._state = "after_delimiter"
            return True
        keep = len(self._part_end) - 1
        if len(buffer) > keep:
            self._sink.data(bytes(buffer[:-keep]))
            del buffer[:-keep]
        return False

    def _step_done(self, buffer: bytearray) -> bool:
        buffer.clear()
        return False


def content_disposition(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(name, filename) of a form-data part."""
    value = headers.get("content-disposition", "")
    message = email.message.Message()
    message["content-disposition"] = value
    name = message.get_param("name", header="content-disposition")
    filename = message.get_filename()
    return (str(name) if isinstance(name, str) else None), filename


class CsvInspector:
    """Counts bytes and records, checks UTF-8 and reads the header; keeps no rows."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.newlines = 0  # line breaks outside quotes, the header's included
        self.utf8_error_line: int | None = None
        self.header_line: bytes | None = None
        self._header = bytearray()
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._in_quotes = False
        self._last_byte = b""

    @property
    def too_large(self) -> bool:
        return self.bytes > self.max_bytes

    def feed(self, data: bytes) -> None:
        self.bytes += len(data)
        if self.too_large or not data:
            return
        self._last_byte = data[-1:]
        if self.utf8_error_line is None:
            try:
                self._decoder.decode(data)
            except UnicodeDecodeError as exc:
                self.utf8_error_line = self.newlines + data.count(b"\n", 0, exc.start) + 1
        if self.header_line is None:
            end = data.find(b"\n")
            self._header += data if end < 0 else data[: end + 1]
            if end >= 0 or len(self._header) > _MAX_HEADER_LINE:
                self.header_line = bytes(self._header[:_MAX_HEADER_LINE])
        self._count(data)

    def finish(self) -> None:
        if self.header_line is None:
            self.header_line = bytes(self._header)
        if self.utf8_error_line is None and not self.too_large:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8_error_line = self.newlines + 1

    @property
    def rows(self) -> int:
        """Records after the header; a last record without a line break counts too."""
        records = self.newlines + (1 if self.bytes and self._last_byte != b"\n" else 0)
        return max(0, records - 1)

    def _count(self, data: bytes) -> None:
        # '"' and '\n' are single bytes in UTF-8 and never occur inside a multi-byte sequence,
        # so counting on bytes is exact. A doubled quote toggles twice: no special case needed.
        if not self._in_quotes and b'"' not in data:
            self.newlines += data.count(b"\n")
            return
        segments = data.split(b'"')
        for index, segment in enumerate(segments):
            if not self._in_quotes:
                self.newlines += segment.count(b"\n")
            if index < len(segments) - 1:
                self._in_quotes = not self._in_quotes


class _UploadSink(PartSink):
    """Feeds the `file` part to a CsvInspector and notes what else arrived."""

    def __init__(self, max_bytes: int) -> None:
        self.inspector: CsvInspector | None = None
        self.filename: str | None = None
        self._max_bytes = max_bytes
        self._current: CsvInspector | None = None

    def begin(self, headers: Mapping[str, str]) -> None:
        name, filename = content_disposition(headers)
        if name == "file" and self.inspector is None:
            self.inspector = self._current = CsvInspector(self._max_bytes)
            self.filename = filename
        else:
            self._current = None

    def data(self, chunk: bytes) -> None:
        if self._current is not None:
            self._current.feed(chunk)

    def end(self) -> None:
        if self._current is not None:
            self._current.finish()
        self._current = None


def header_columns(header_line: bytes) -> tuple[list[str], bool]:
    """The header's column names and whether it started with a UTF-8 byte order mark."""
    bom = header_line.startswith(codecs.BOM_UTF8)
    text = header_line[len(codecs.BOM_UTF8) if bom else 0 :].decode("utf-8", "replace")
    text = text.rstrip("\r\n")
    row = next(csv.reader([text]), [])
    return [name.strip() for name in row], bom


def check_columns(kind: str, columns: Sequence[str]) -> str | None:
    """Metrica's complaint about a header, or None. Names match in any case."""
    lowered = [name.lower() for name in columns]
    if any(not name for name in lowered):
        return BAD_DATA_MESSAGE.format(line=1) + ": a column has no name"
    duplicates = sorted({name for name in lowered if lowered.count(name) > 1})
    if duplicates:
        return BAD_DATA_MESSAGE.format(line=1) + f": duplicate column {duplicates[0]}"
    for group in REQUIRED_COLUMNS[kind]:
        if not any(name.lower() in lowered for name in group):
            wanted = group[0] if len(group) == 1 else "one of " + ", ".join(group)
            return MISSING_COLUMN_MESSAGE.format(column=wanted)
    return None


_COMMENT_CHARS = re.compile(r"[0-9A-Za-z \u0400-\u04ff]*")


def comment_problem(comment: str) -> str | None:
    if len(comment) > COMMENT_MAX_CHARS:
        return f"comment is longer than {COMMENT_MAX_CHARS} characters"
    if not _COMMENT_CHARS.fullmatch(comment) or not all(
        char.isalpha() for char in comment if char >= "\u0400"
    ):
        return "comment contains invalid characters"
    return None


# --- holding requests mid-flight ----------------------------------------------------------------


class Gate:
    """Parks matching requests (after their body was handled, before the answer) until
    `release()`. `wait_for(n)` returns once n requests are parked: no sleeping in tests."""

    def __init__(self, endpoint: str | None, stopping: threading.Event) -> None:
        self.endpoint = endpoint
        self._released = threading.Event()
        self._stopping = stopping
        self._arrived = 0
        self._condition = threading.Condition()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    @property
    def arrived(self) -> int:
        with self._condition:
            return self._arrived

    def matches(self, endpoint: str) -> bool:
        return not self.released and (self.endpoint is None or self.endpoint == endpoint)

    def park(self) -> None:
        with self._condition:
            self._arrived += 1
            self._condition.notify_all()
        while not self._released.wait(0.05):
            if self._stopping.is_set():
                return

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self._arrived >= count, timeout)

    def release(self) -> None:
        self._released.set()


# --- the server ----------------------------------------------------------------------------------


class _Answer:
    """What the handler sends back: a status and a JSON body."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        error_type: str = "",
        message: str = "",
    ) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.error_type = error_type
        self.message = message


def error_answer(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> _Answer:
    body = {
        "errors": [{"error_type": error_type, "message": message}],
        "code": status,
        "message": message,
    }
    return _Answer(status, body, headers, error_type=error_type, message=message)


@dataclasses.dataclass
class _Request:
    """What one request turned into, filled in as it is handled; becomes a JournalEntry."""

    method: str
    path: str
    endpoint: str = "unknown"
    counter_id: int | None = None
    type: str | None = None
    comment: str | None = None
    filename: str | None = None
    bytes: int = 0
    rows: int = 0
    columns: tuple[str, ...] = ()
    bom: bool = False
    uploading_id: int | None = None
    fault: str = ""
    in_flight: int = 0
    at: float = 0.0
    token_sha: str = ""
    query: tuple[tuple[str, str], ...] = ()
    limit: int | None = None
    journaled: bool = False


class FakeMetrika:
    """The fake server. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        tokens: Collection[str] = (FAKE_TOKEN,),
        *,
        max_file_bytes: int = METRIKA_MAX_FILE_BYTES,
        clock: Callable[[], float] | None = None,
        step_s: float | Sequence[float] = 60.0,
        counters: Collection[int] | None = None,
        access: Mapping[str, Collection[int]] | None = None,
        parallel_limit: int = PARALLEL_LIMIT,
        visit_join_days: int = 21,
        untyped_list_types: Collection[str] = ("BASIC",),
        newest_first: bool = False,
        daily_requests_per_token: int | None = None,
        daily_requests_per_counter: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self._tokens = frozenset(tokens)
        self.max_file_bytes = max_file_bytes
        self._base_clock = clock or (lambda: 0.0)
        steps = (step_s,) * len(LIFECYCLE) if isinstance(step_s, int | float) else tuple(step_s)
        if len(steps) != len(LIFECYCLE):
            raise ValueError(f"step_s: one duration or {len(LIFECYCLE)}")
        self._steps = steps
        self._counters = None if counters is None else frozenset(counters)
        # Per token: the counters its account reaches (a token not named reaches `counters`).
        self._access = {token: frozenset(c) for token, c in (access or {}).items()}
        self._goals: dict[int, list[dict[str, Any]]] = {}
        self._parallel_limit = parallel_limit
        self._visit_join_days = visit_join_days
        # Which types `uploadings` without `type` lists: BASIC, the documented default.
        self._untyped_list_types = frozenset(untyped_list_types)
        self._newest_first = newest_first  # the order our code once assumed, for contrast
        self._daily_per_token = daily_requests_per_token
        self._daily_per_counter = daily_requests_per_counter
        # Counter -> (Unix seconds until which it refuses BASIC and CALLS uploads without the
        # ignore parameter, the date's format), and the types whose extended window is on.
        self._not_ready: dict[int, tuple[float, str]] = {}
        self._extended: dict[int, set[str]] = {}
        self._counter_info: dict[int, dict[str, Any]] = {}
        self._host, self._port = host, port
        self.verbose = verbose
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._offset = 0.0
        self._journal: list[JournalEntry] = []
        self._uploads: dict[int, FakeUpload] = {}
        self._faults: list[Fault] = []
        self._outcomes: list[Outcome] = []
        self._gates: list[Gate] = []
        self._in_flight: dict[str, int] = {}
        self._max_in_flight = 0
        self._next_id = 1001
        self._seq = 0
        self._requests_by_day: dict[tuple[str, int], int] = {}

    # --- lifecycle ---

    def start(self, port: int | None = None) -> FakeMetrika:
        """Listen on `port` (default: the constructor's, 0 = a free one) and serve."""
        server = _Server((self._host, self._port if port is None else port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeMetrika:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # --- controls ---

    def now(self) -> float:
        return self._base_clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on: uploads progress through their statuses."""
        with self._lock:
            self._offset += seconds

    def script(self, *faults: Fault) -> None:
        """Queue faults; each is used by the next request it matches."""
        with self._lock:
            self._faults.extend(faults)

    def set_goals(self, counter_id: int, goals: Sequence[Mapping[str, Any]]) -> None:
        """What `GET /counter/{counter_id}/goals` lists: goal objects as Metrica spells them,
        e.g. {"id": 1, "name": "Заявка", "type": "action", "conditions": [{"type": "exact",
        "url": "lead_form"}]}. A counter without scripted goals has none."""
        with self._lock:
            self._goals[int(counter_id)] = [dict(goal) for goal in goals]

    def wall(self) -> float:
        """The fake's Unix time: the real one moved on by `advance`."""
        return time.time() + self._offset

    def set_not_ready(
        self, counter_id: int, until: float, *, date_format: str = "%d.%m.%Y"
    ) -> None:
        """Refuse the counter's BASIC and CALLS uploads until `until` (Unix seconds), as
        Metrica refuses a counter too new, naming the date in `date_format` (Moscow time)."""
        with self._lock:
            self._not_ready[int(counter_id)] = (until, date_format)

    def offline_options(self, counter_id: int) -> dict[str, int]:
        """The counter's extended linking window per type, as `GET counter/{id}` shows it in
        `offline_options` (an upload with the ignore parameter turns it on)."""
        with self._lock:
            on = set(self._extended.get(int(counter_id), set()))
        return {
            "offline_conversion_extended_threshold": int("BASIC" in on),
            "offline_calls_extended_threshold": int("CALLS" in on),
        }

    def seed(
        self,
        counter_id: int,
        count: int,
        *,
        type: str = "BASIC",
        comment: str = "earlier upload",
        age_s: float = 7 * 86400.0,
    ) -> None:
        """Make `count` uploads as if they had arrived `age_s` seconds ago (final already),
        without a request each: a counter with a long history."""
        with self._lock:
            start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._offset - age_s)
            for index in range(count):  # a second apart, the last `age_s` ago
                created = start - dt.timedelta(seconds=count - index)
                stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
                self._uploads[self._next_id] = FakeUpload(
                    id=self._next_id,
                    counter_id=int(counter_id),
                    type=type,
                    comment=comment,
                    filename="old.csv",
                    bytes=100,
                    rows=1,
                    columns=(),
                    created_at=self.now() - age_s,
                    create_time=stamp,
                    outcome=Outcome(),
                )
                self._next_id += 1

    def set_counter(self, counter_id: int, **fields: Any) -> None:
        """What `GET counter/{id}` answers for the counter, over the defaults (`permission`
        "own", `owner_login` "metrika-owner")."""
        with self._lock:
            self._counter_info[int(counter_id)] = dict(fields)

    def script_outcome(self, *outcomes: Outcome) -> None:
        """Queue outcomes; each is used by the next accepted upload it matches."""
        for outcome in outcomes:
            if outcome.final_status not in FINAL_STATUSES:
                raise ValueError(f"final_status must be one of {FINAL_STATUSES}")
        with self._lock:
            self._outcomes.extend(outcomes)

    def hold(self, endpoint: str | None = None) -> Gate:
        """Park matching requests mid-flight until the returned gate is released."""
        gate = Gate(endpoint, self._stopping)
        with self._lock:
            self._gates.append(gate)
        return gate

    def reset(self) -> None:
        """Forget everything that happened and everything scripted."""
        with self._lock:
            for gate in self._gates:
                gate.release()
            self._reset_state()

    @property
    def journal(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._journal)

    @property
    def uploads(self) -> list[FakeUpload]:
        with self._lock:
            return list(self._uploads.values())

    @property
    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    @property
    def max_in_flight(self) -> int:
        """The most requests one token ever had in flight at once."""
        with self._lock:
            return self._max_in_flight

    def requests_to(self, endpoint: str) -> list[JournalEntry]:
        return [entry for entry in self.journal if entry.endpoint == endpoint]

    def uploading_json(self, uploading_id: int) -> dict[str, Any]:
        """Metrica's `uploading` object for an accepted upload, as of the fake clock now."""
        with self._lock:
            upload = self._uploads[uploading_id]
            return self._uploading_json(upload, self.now())

    # --- internals used by the handler ---

    def _uploading_json(self, upload: FakeUpload, now: float) -> dict[str, Any]:
        elapsed = now - upload.created_at
        status = upload.outcome.final_status
        for name, duration in zip(LIFECYCLE, self._steps, strict=True):
            if elapsed < duration:
                status = name
                break
            elapsed -= duration
        outcome = upload.outcome
        lines = max(0, upload.rows - outcome.dropped_rows)
        final = status in FINAL_STATUSES
        linked = lines if outcome.linked is None else outcome.linked
        if outcome.final_status == "LINKAGE_FAILURE" and outcome.linked is None:
            linked = 0
        return {
            "id": upload.id,
            "create_time": upload.create_time,
            "source_quantity": upload.rows,
            "line_quantity": lines,
            "comment": upload.comment,
            "type": upload.type,
            "client_id_type": outcome.client_id_type,
            "status": status,
            "goal_not_found_quantity": outcome.goal_not_found if final else 0,
            "user_not_found_quantity": outcome.user_not_found if final else 0,
            "linked_quantity": linked if final else 0,
        }

    def _arrive(self, token: str) -> tuple[int, float]:
        with self._lock:
            count = self._in_flight.get(token, 0) + 1
            self._in_flight[token] = count
            self._max_in_flight = max(self._max_in_flight, count)
            return count, self.now()

    def _leave(self, token: str) -> None:
        with self._lock:
            self._in_flight[token] = max(0, self._in_flight.get(token, 0) - 1)

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(endpoint):
                    return self._faults.pop(index)
        return None

    def _gate_for(self, endpoint: str) -> Gate | None:
        with self._lock:
            for gate in self._gates:
                if gate.matches(endpoint):
                    return gate
        return None

    def _accept(self, request: _Request, inspector: CsvInspector) -> FakeUpload:
        with self._lock:
            outcome = Outcome()
            for index, candidate in enumerate(self._outcomes):
                wanted = candidate.comment_contains
                if wanted is None or wanted in (request.comment or ""):
                    outcome = self._outcomes.pop(index)
                    break
            created = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._offset)
            upload = FakeUpload(
                id=self._next_id,
                counter_id=request.counter_id or 0,
                type=request.type or "BASIC",
                comment=request.comment or "",
                filename=request.filename or "",
                bytes=inspector.bytes,
                rows=inspector.rows,
                columns=request.columns,
                created_at=self.now(),
                create_time=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                outcome=outcome,
            )
            self._next_id += 1
            self._uploads[upload.id] = upload
            return upload

    def _record(self, request: _Request, status: int, error_type: str, message: str) -> None:
        with self._lock:
            self._seq += 1
            self._journal.append(
                JournalEntry(
                    seq=self._seq,
                    method=request.method,
                    path=request.path,
                    endpoint=request.endpoint,
                    counter_id=request.counter_id,
                    type=request.type,
                    comment=request.comment,
                    filename=request.filename,
                    bytes=request.bytes,
                    rows=request.rows,
                    columns=request.columns,
                    bom=request.bom,
                    status=status,
                    error_type=error_type,
                    message=message,
                    uploading_id=request.uploading_id,
                    fault=request.fault,
                    in_flight=request.in_flight,
                    at=request.at,
                    token_sha=request.token_sha,
                    query=request.query,
                    limit=request.limit,
                )
            )

    def _list(self, counter_id: int, kind: str | None) -> list[dict[str, Any]]:
        with self._lock:
            now = self.now()
            order = -1 if self._newest_first else 1
            return [
                self._uploading_json(upload, now)
                for upload in sorted(self._uploads.values(), key=lambda u: order * u.id)
                if upload.counter_id == counter_id
                and (
                    upload.type == kind
                    or (kind is None and upload.type in self._untyped_list_types)
                )
            ]

    def _not_ready_message(self, counter_id: int, kind: str, ignored: bool) -> str | None:
        """Metrica's refusal of an upload to a counter that is not ready yet, or None."""
        with self._lock:
            held = self._not_ready.get(counter_id)
            if held is None or kind not in IGNORE_THRESHOLD:
                return None
            until, date_format = held
            if ignored:
                self._extended.setdefault(counter_id, set()).add(kind)
                return None
            if time.time() + self._offset >= until:
                return None
        moscow = dt.timezone(dt.timedelta(hours=3))
        date = dt.datetime.fromtimestamp(until, moscow).strftime(date_format)
        return NOT_READY_MESSAGE.format(date=date)

    def _over_daily_quota(self, token: str, counter_id: int | None) -> tuple[str, str] | None:
        """(error_type, message) once a daily quota is spent; else counts this request."""
        with self._lock:
            day = int((time.time() + self._offset) // 86400)
            keys = [(f"token:{token}", self._daily_per_token)]
            if counter_id is not None:
                keys.append((f"counter:{counter_id}", self._daily_per_counter))
            for key, limit in keys:
                if limit is not None and self._requests_by_day.get((key, day), 0) >= limit:
                    if key.startswith("token:"):
                        return "quota_requests_by_uid", UID_QUOTA_MESSAGE
                    return "quota_requests_by_counter_id", COUNTER_QUOTA_MESSAGE
            for key, _ in keys:
                self._requests_by_day[(key, day)] = self._requests_by_day.get((key, day), 0) + 1
        return None

    def _counter_json(self, counter_id: int) -> dict[str, Any]:
        with self._lock:
            extra = dict(self._counter_info.get(counter_id, {}))
        info: dict[str, Any] = {
            "id": counter_id,
            "name": f"Counter {counter_id}",
            "site": "example.ru",
            "owner_login": "metrika-owner",
            "permission": "own",
            "offline_options": self.offline_options(counter_id),
        }
        info.update(extra)
        return info

    def _get(self, counter_id: int, uploading_id: int) -> dict[str, Any] | None:
        with self._lock:
            upload = self._uploads.get(uploading_id)
            if upload is None or upload.counter_id != counter_id:
                return None
            return self._uploading_json(upload, self.now())

    def _threshold(self, counter_id: int) -> str:
        """The earliest date conversions link from; for a counter not ready yet, the time
        uploads open (our reading: nothing documents what Metrica answers then)."""
        with self._lock:
            held = self._not_ready.get(counter_id)
        now = time.time() + self._offset
        if held is not None and held[0] > now:
            return dt.datetime.fromtimestamp(held[0], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        today = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._offset)
        return (today - dt.timedelta(days=self._visit_join_days)).strftime("%Y-%m-%d")

    def _token_ok(self, token: str) -> bool:
        return token in self._tokens

    def _counter_ok(self, token: str, counter_id: int) -> bool:
        if token in self._access:
            return counter_id in self._access[token]
        return self._counters is None or counter_id in self._counters

    def _reachable(self, token: str) -> set[int]:
        """The counters a token's account reaches, as far as the fake knows them."""
        if token in self._access:
            return set(self._access[token])
        with self._lock:
            known = {u.counter_id for u in self._uploads.values()} | set(self._goals)
            known |= set(self._counter_info) | set(self._not_ready)
        return set(self._counters) if self._counters is not None else known

    def _goals_of(self, counter_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(goal) for goal in self._goals.get(counter_id, [])]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeMetrika

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (or was killed, as crash tests do) is not the fake's fault.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _ClientGone(Exception):
    """The client closed the connection before its body was complete."""


class _Body:
    """The request body as a bounded stream."""

    def __init__(self, rfile: Any, length: int) -> None:
        self._rfile = rfile
        self.left = length

    def chunks(self) -> Iterator[bytes]:
        while self.left > 0:
            try:
                chunk = self._rfile.read(min(_READ_CHUNK, self.left))
            except (OSError, TimeoutError):
                chunk = b""
            if not chunk:
                raise _ClientGone
            self.left -= len(chunk)
            yield chunk

    def drain(self) -> None:
        for _ in self.chunks():
            pass

    def read_all(self, limit: int = 1_000_000) -> bytes:
        if self.left > limit:
            raise ValueError("control body too large")
        return b"".join(self.chunks())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeMetrika/1.0"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and the
    # peer's delayed ACK add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection ends after this
    server: _Server
    error_content_type = "application/json"
    error_message_format = (
        '{"errors": [{"error_type": "invalid_parameter", "message": "%(message)s"}], '
        '"code": %(code)d, "message": "%(message)s"}'
    )

    def setup(self) -> None:
        super().setup()
        # Small answers go out at once rather than waiting on the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            sys.stderr.write(f"fake-metrika: {format % args}\n")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- dispatch ---

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        body = _Body(self.rfile, max(0, length))
        request = _Request(method=method, path=url.path)
        try:
            if url.path.startswith("/_fake/"):
                self._send(self._control(method, url.path, body))
                return
            answer = self._api(fake, request, query, body, length)
        except _ClientGone:
            request.fault = "client_closed"
            fake._record(request, 0, "", "the client closed before its body was complete")
            self.close_connection = True
            return
        # Journaled (and counted out of flight) before a byte of answer goes back, so that a
        # client that got its answer always finds its request in the journal.
        if not request.journaled:
            self._journal(request, answer)
        self._finish(answer)

    def _journal(self, request: _Request, answer: _Answer | None) -> None:
        request.journaled = True
        if answer is None:
            self.server.fake._record(
                request, 0, "", "connection dropped after the body was received"
            )
        else:
            self.server.fake._record(request, answer.status, answer.error_type, answer.message)

    def _api(
        self,
        fake: FakeMetrika,
        request: _Request,
        query: Mapping[str, str],
        body: _Body,
        length: int,
    ) -> _Answer | None:
        match = (
            _PATH.match(request.path)
            or _GOALS_PATH.match(request.path)
            or _COUNTER_PATH.match(request.path)
            or _COUNTERS_PATH.match(request.path)
        )
        if match is None:
            body.drain()
            return self._refuse(404, "not_found", NOT_FOUND_MESSAGE)
        request.endpoint = match["endpoint"].split("/", 1)[0]
        groups = match.groupdict()
        request.counter_id = int(groups["counter"]) if groups.get("counter") else None
        request.query = tuple(sorted(query.items()))
        if request.endpoint == "upload":
            request.type = query.get("type", "BASIC")
            request.comment = query.get("comment")
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if not auth:
            body.drain()
            return self._refuse(401, "unauthorized", UNAUTHORIZED_MESSAGE)
        if scheme.lower() != "oauth" or not fake._token_ok(token):
            body.drain()
            return self._refuse(403, "invalid_token", INVALID_TOKEN_MESSAGE)
        request.token_sha = hashlib.sha256(token.encode()).hexdigest()[:12]
        count, request.at = fake._arrive(token)
        request.in_flight = count
        try:
            return self._within_quota(
                fake=fake,
                request=request,
                query=query,
                body=body,
                length=length,
                count=count,
                match=match,
                token=token,
            )
        finally:
            fake._leave(token)

    def _within_quota(
        self,
        *,
        fake: FakeMetrika,
        request: _Request,
        query: Mapping[str, str],
        body: _Body,
        length: int,
        count: int,
        match: re.Match[str],
        token: str,
    ) -> _Answer | None:
        if count > fake._parallel_limit:
            body.drain()
            return self._refuse(429, "quota_parallel_requests", "too many parallel requests")
        spent = fake._over_daily_quota(token, request.counter_id)
        if spent is not None:
            body.drain()
            return self._refuse(429, *spent)
        if request.counter_id is not None and not fake._counter_ok(token, request.counter_id):
            body.drain()
            return self._refuse(403, "access_denied", ACCESS_DENIED_MESSAGE)
        fault = fake._take_fault(request.endpoint)
        if fault is not None:
            request.fault = fault.kind
        if fault is not None and fault.kind == "status" and not fault.made:
            body.drain()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return self._refuse(fault.status, fault.error_type, fault.message, headers)
        answer = self._endpoint(
            fake=fake, request=request, query=query, body=body, length=length, match=match,
            token=token,
        )  # fmt: skip
        if fault is not None and fault.kind == "status":  # made: handled, then refused
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return self._refuse(fault.status, fault.error_type, fault.message, headers)
        if fault is not None and fault.kind == "drop":
            self._journal(request, None)
            return None
        # A held or slow request is journaled as soon as it was handled: a test sees what
        # arrived while the answer is still on its way.
        self._journal(request, answer)
        gate = fake._gate_for(request.endpoint)
        if gate is not None:
            gate.park()
        if fault is not None and fault.kind == "slow":
            fake._stopping.wait(fault.delay_s)
        return answer

    def _endpoint(
        self,
        *,
        fake: FakeMetrika,
        request: _Request,
        query: Mapping[str, str],
        body: _Body,
        length: int,
        match: re.Match[str],
        token: str,
    ) -> _Answer:
        endpoint = request.endpoint
        expected = "POST" if endpoint == "upload" else "GET"
        if request.method != expected:
            body.drain()
            return self._refuse(405, "invalid_parameter", "method not allowed")
        counter_id = request.counter_id or 0
        if endpoint == "upload":
            return self._upload(fake, request, body, length)
        body.drain()
        if endpoint == "goals":
            return self._ok({"goals": fake._goals_of(counter_id)})
        if endpoint == "counter":
            return self._ok({"counter": fake._counter_json(counter_id)})
        if endpoint == "counters":
            reach = sorted(fake._reachable(token))
            counters = [fake._counter_json(c) for c in reach]
            return self._ok({"rows": len(counters), "counters": counters})
        if endpoint == "uploading":
            found = fake._get(counter_id, int(match["id"]))
            if found is None:
                return self._refuse(404, "not_found", NOT_FOUND_MESSAGE)
            request.uploading_id = found["id"]
            return self._ok({"uploading": found})
        if endpoint == "uploadings":
            return self._uploadings(fake, request, query)
        return self._ok({"date": fake._threshold(counter_id)})

    def _uploadings(
        self, fake: FakeMetrika, request: _Request, query: Mapping[str, str]
    ) -> _Answer:
        kind = query.get("type") or None
        if kind is not None and kind not in TYPES:
            return self._refuse(400, "invalid_parameter", WRONG_PARAMETER_MESSAGE)
        try:
            limit = int(query.get("limit") or LIST_LIMIT)
            offset = int(query.get("offset") or 0)
        except ValueError:
            return self._refuse(400, "invalid_parameter", WRONG_PARAMETER_MESSAGE)
        if not 1 <= limit <= LIST_LIMIT or offset < 0:
            return self._refuse(400, "invalid_parameter", WRONG_PARAMETER_MESSAGE)
        request.type, request.limit = kind, limit
        items = fake._list(request.counter_id or 0, kind)[offset : offset + limit]
        return self._ok({"uploadings": items})

    def _upload(
        self,
        fake: FakeMetrika,
        request: _Request,
        body: _Body,
        length: int,
    ) -> _Answer:
        if length < 0 or "Content-Length" not in self.headers:
            self.close_connection = True
            return self._refuse(411, "invalid_parameter", "Content-Length is required")
        sink = _UploadSink(fake.max_file_bytes)
        content_type = self.headers.get("Content-Type", "")
        boundary = _boundary(content_type)
        parser = None if boundary is None else MultipartStream(boundary, sink)
        broken = parser is None
        for chunk in body.chunks():
            if not broken and parser is not None:
                try:
                    parser.feed(chunk)
                except MultipartError:
                    broken = True
        if parser is not None and not broken:
            try:
                parser.close()
            except MultipartError:
                broken = True
        inspector = sink.inspector
        if inspector is not None:
            request.filename = sink.filename
            request.bytes, request.rows = inspector.bytes, inspector.rows
            columns, request.bom = header_columns(inspector.header_line or b"")
            request.columns = tuple(columns)
        problem = self._upload_problem(request, broken, inspector)
        if problem is not None:
            return self._refuse(400, *problem)
        assert inspector is not None
        kind = request.type or "BASIC"
        ignored = dict(request.query).get(IGNORE_THRESHOLD.get(kind, ""), "") == "1"
        not_ready = fake._not_ready_message(request.counter_id or 0, kind, ignored)
        if not_ready is not None:
            return self._refuse(400, "invalid_parameter", not_ready)
        upload = fake._accept(request, inspector)
        request.uploading_id = upload.id
        return self._ok({"uploading": fake.uploading_json(upload.id)})

    @staticmethod
    def _upload_problem(
        request: _Request, broken: bool, inspector: CsvInspector | None
    ) -> tuple[str, str] | None:
        """(error_type, message) for the first thing Metrica would refuse, or None."""
        if request.type not in TYPES:
            return "invalid_parameter", WRONG_PARAMETER_MESSAGE
        if request.comment is not None:
            problem = comment_problem(request.comment)
            if problem:
                return "invalid_parameter", problem
        if broken:
            return "invalid_parameter", BAD_MULTIPART_MESSAGE
        if inspector is None:
            return "missing_parameter", MISSING_PART_MESSAGE
        if inspector.too_large:
            return "limit_exceeded", "the file is larger than the limit"
        if inspector.bytes == 0 or inspector.rows == 0:
            return "invalid_uploading", EMPTY_FILE_MESSAGE
        if inspector.utf8_error_line is not None:
            line = inspector.utf8_error_line
            return "invalid_uploading", BAD_DATA_MESSAGE.format(line=line) + ": not UTF-8"
        problem = check_columns(request.type or "BASIC", request.columns)
        if problem:
            return "invalid_uploading", problem
        return None

    # --- answers ---

    @staticmethod
    def _ok(body: Mapping[str, Any]) -> _Answer:
        return _Answer(200, body)

    @staticmethod
    def _refuse(
        status: int,
        error_type: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> _Answer:
        return error_answer(status, error_type, message, headers)

    def _finish(self, answer: _Answer | None) -> None:
        if answer is None:  # a dropped connection: close without a byte of answer
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(answer)

    def _send(self, answer: _Answer) -> None:
        payload = json.dumps(answer.body if answer.body is not None else {}).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up waiting (a slow answer): nothing to tell it
            self.close_connection = True

    # --- the control API ---

    def _control(self, method: str, path: str, body: _Body) -> _Answer:
        fake = self.server.fake
        try:
            data = json.loads(body.read_all() or b"{}")
        except ValueError:
            return error_answer(400, "invalid_parameter", "the control body is not JSON")
        route = (method, path.rstrip("/"))
        try:
            if route == ("GET", "/_fake/health"):
                return _Answer(200, {"ok": True})
            if route == ("GET", "/_fake/journal"):
                return _Answer(200, {"journal": [e.to_json() for e in fake.journal]})
            if route == ("GET", "/_fake/uploads"):
                uploads = [fake.uploading_json(u.id) for u in fake.uploads]
                return _Answer(200, {"uploads": uploads})
            if route == ("POST", "/_fake/faults"):
                fake.script(*(Fault.from_json(item) for item in data.get("faults", [])))
                return _Answer(200, {"pending": len(fake.pending_faults)})
            if route == ("POST", "/_fake/outcomes"):
                outcomes = [Outcome.from_json(item) for item in data.get("outcomes", [])]
                fake.script_outcome(*outcomes)
                return _Answer(200, {"ok": True})
            if route == ("POST", "/_fake/goals"):
                fake.set_goals(int(data["counter_id"]), list(data.get("goals", [])))
                return _Answer(200, {"ok": True})
            if route == ("POST", "/_fake/advance"):
                fake.advance(float(data.get("seconds", 0)))
                return _Answer(200, {"now": fake.now()})
            if route == ("POST", "/_fake/reset"):
                fake.reset()
                return _Answer(200, {"ok": True})
        except (TypeError, ValueError) as exc:
            return error_answer(400, "invalid_parameter", str(exc))
        return error_answer(404, "not_found", f"no control {method} {path}")


def _boundary(content_type: str) -> bytes | None:
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    return boundary.encode("latin-1") if isinstance(boundary, str) and boundary else None


# --- driving a fake in another process ------------------------------------------------------------


class FakeMetrikaControl:
    """The `/_fake/` control API of a fake running elsewhere (another process, the demo)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout_s

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = requests.request(
            method, f"{self.url}/_fake/{path}", json=body, timeout=self._timeout
        )
        response.raise_for_status()
        return response.json()

    def healthy(self) -> bool:
        try:
            return bool(self._call("GET", "health").get("ok"))
        except requests.RequestException:
            return False

    def journal(self) -> list[JournalEntry]:
        return [JournalEntry.from_json(item) for item in self._call("GET", "journal")["journal"]]

    def uploads(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "uploads")["uploads"])

    def script(self, *faults: Fault) -> None:
        self._call("POST", "faults", {"faults": [fault.to_json() for fault in faults]})

    def script_outcome(self, *outcomes: Outcome) -> None:
        self._call("POST", "outcomes", {"outcomes": [o.to_json() for o in outcomes]})

    def advance(self, seconds: float) -> None:
        self._call("POST", "advance", {"seconds": seconds})

    def reset(self) -> None:
        self._call("POST", "reset", {})


# --- running alone ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.metrika", description="A fake Yandex Metrica API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--token", action="append", help=f"an accepted token (repeatable; default {FAKE_TOKEN})"
    )
    parser.add_argument("--max-file-bytes", type=int, default=METRIKA_MAX_FILE_BYTES)
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=5.0,
        help="real seconds each status lasts before the next (default 5)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    fake = FakeMetrika(
        tokens=args.token or (FAKE_TOKEN,),
        max_file_bytes=args.max_file_bytes,
        clock=time.monotonic,
        step_s=args.step_seconds,
        host=args.host,
        port=args.port,
        verbose=not args.quiet,
    )
    fake.start()
    # The first line says where it listens: scripts (and tests) read the port from it.
    print(f"fake Metrica listening on {fake.url}", flush=True)
    tokens = args.token or [FAKE_TOKEN]
    print(
        f"it accepts the token {', '.join(tokens)}; in another terminal:\n"
        f"  export METRIKA_TOKEN={tokens[0]} METRIKA_API_URL={fake.url}",
        flush=True,
    )
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
