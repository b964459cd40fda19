"""The Yandex Metrica offline conversions API: one client, typed answers, careful retries.

How each failure is handled (the exception tree is drawn in `errors.py`):

    answer                                   raises                  the client
    401, 403 invalid_token / access_denied   MetrikaAuthError        stops
    400, 404, 409, other 4xx, 3xx            MetrikaRejectedError    stops; Metrica's words verbatim
    429, 420, 403 quota_*                    MetrikaQuotaError       waits Retry-After (or backs
                                                                     off), then tries again
    5xx, 408, timeouts, connection errors    MetrikaTransientError   backs off, tries again
    no answer after the body went out        MetrikaAmbiguousError   looks the part's marker up in
                                                                     `uploadings`; adopts what it
                                                                     finds, else sends again

Back-off is exponential with jitter, bounded by a number of attempts and a total time; the
sleep and the clock are injected so tests never wait. Upload bodies are streamed (multipart
built on the fly from a stream of known size), never held in memory, and built afresh for
every attempt. At most `METRIKA_PARALLEL_REQUESTS` requests per token are in flight from one
process, whatever the number of threads or clients.

The OAuth token travels only in the `Authorization` header. It is registered with the log
redactor, and no message built here contains it: network failures are described by their
kind, never by the text of the underlying exception (which can embed the request).
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import hashlib
import random
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, Final, TypeVar

import requests
from requests.adapters import HTTPAdapter
from requests_toolbelt.multipart.encoder import MultipartEncoder

from metrika_offline import __version__
from metrika_offline.config import DEFAULT_API_URL, METRIKA_TOKEN, Secret, Settings
from metrika_offline.errors import (
    ConfigError,
    DeadlineReached,
    MetrikaAmbiguousError,
    MetrikaAuthError,
    MetrikaError,
    MetrikaQuotaError,
    MetrikaRejectedError,
    MetrikaRetryableError,
    MetrikaTransientError,
)
from metrika_offline.logs import get_logger, register_secret
from metrika_offline.types import METRIKA_PARALLEL_REQUESTS, ConversionType

__all__ = [
    "COMMENT_MAX_CHARS",
    "DEFAULT_API_URL",
    "FINAL_STATUSES",
    "STATUSES",
    "MetrikaClient",
    "RetryPolicy",
    "Timeouts",
    "Uploading",
    "make_comment",
    "make_marker",
]

#: Statuses after which an upload never changes again.
FINAL_STATUSES: Final = frozenset({"PROCESSED", "LINKAGE_FAILURE"})
#: Every status Metrica documents, in lifecycle order.
STATUSES: Final = ("PREPARED", "UPLOADED", "EXPORTED", "MATCHED", "PROCESSED", "LINKAGE_FAILURE")
#: Metrica's limit on the `comment` query parameter.
COMMENT_MAX_CHARS: Final = 255

_MARKER_PREFIX = "mo"
_MARKER_DIGITS = 12  # 36**12 ≈ 4.7e18: collisions between parts are not a practical concern
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_ASCII_ALLOWED = frozenset(string.digits + string.ascii_letters + " ")
_API_PATH = "/management/v1/counter/{counter_id}/offline_conversions"
_LOOKUP_PAGE_SIZE = 100
_LOOKUP_MAX_PAGES = 50  # 5000 uploads back: far more than can arrive between two attempts
_SEND_BLOCK_BYTES = 256 * 1024  # fewer, larger socket writes for gigabyte bodies
_USER_AGENT = f"metrika-offline/{__version__}"

_log = get_logger("metrika")
_T = TypeVar("_T")


# --- values ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Uploading:
    """Metrica's `uploading` object: one upload of one file, and what became of it."""

    id: int
    create_time: str
    source_quantity: int
    line_quantity: int
    comment: str
    type: str
    client_id_type: str | None
    status: str
    goal_not_found_quantity: int
    user_not_found_quantity: int
    linked_quantity: int

    @property
    def is_final(self) -> bool:
        """True once the status can no longer change (PROCESSED or LINKAGE_FAILURE)."""
        return self.status in FINAL_STATUSES

    @property
    def dropped_quantity(self) -> int:
        """Rows Metrica refused during its own validation (`source` minus `line` quantity)."""
        return max(0, self.source_quantity - self.line_quantity)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Uploading:
        """Parse Metrica's JSON; missing counters read as 0. ValueError if it is not one."""
        try:
            client_id_type = data.get("client_id_type")
            return cls(
                id=_as_int(data["id"]),
                create_time=str(data.get("create_time") or ""),
                source_quantity=_as_int(data.get("source_quantity", 0)),
                line_quantity=_as_int(data.get("line_quantity", 0)),
                comment=str(data.get("comment") or ""),
                type=str(data.get("type") or ""),
                client_id_type=None if client_id_type is None else str(client_id_type),
                status=str(data.get("status") or ""),
                goal_not_found_quantity=_as_int(data.get("goal_not_found_quantity", 0)),
                user_not_found_quantity=_as_int(data.get("user_not_found_quantity", 0)),
                linked_quantity=_as_int(data.get("linked_quantity", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a Metrica uploading object ({type(exc).__name__})") from None

    def to_json(self) -> dict[str, Any]:
        """The same shape Metrica uses."""
        return dataclasses.asdict(self)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise TypeError("expected an integer")
    return int(value)


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and between two bytes of an answer."""

    connect_s: float = 10.0
    read_s: float = 300.0


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Every request (a lookup too) counts as an attempt."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_total_s: float = 300.0


# --- comment and marker -----------------------------------------------------------------------


def make_marker(bucket: str, name: str, generation: int, part: int) -> str:
    """A short tag that identifies one part of one generation of one object.

    Only digits and lower-case Latin letters, so it survives Metrica's comment rules; derived
    from the inputs alone, so a retry in another process finds the same marker.
    """
    key = "\x1f".join((bucket, name, str(generation), str(part))).encode()
    number = int.from_bytes(hashlib.sha256(key).digest()[:10], "big") % (36**_MARKER_DIGITS)
    digits = []
    for _ in range(_MARKER_DIGITS):
        number, rest = divmod(number, 36)
        digits.append(_BASE36[rest])
    return _MARKER_PREFIX + "".join(reversed(digits))


def _comment_char_allowed(char: str) -> bool:
    # Metrica accepts digits, Latin and Cyrillic letters and spaces; str.isdigit/isalpha
    # alone would let through other scripts' digits and letters.
    return char in _ASCII_ALLOWED or ("\u0400" <= char <= "\u04ff" and char.isalpha())


def clean_comment(text: str) -> str:
    """`text` with every character Metrica refuses turned into a space, spaces collapsed."""
    kept = "".join(char if _comment_char_allowed(char) else " " for char in text)
    return " ".join(kept.split())


def make_comment(user_comment: str, marker: str) -> str:
    """The user's comment, cleaned and cut, then a space and the marker: at most 255 chars."""
    if not marker or not all(char in _BASE36 for char in marker):
        raise ValueError("a marker is digits and lower-case Latin letters only")
    room = COMMENT_MAX_CHARS - len(marker) - 1
    if room < 0:
        raise ValueError(f"a marker is at most {COMMENT_MAX_CHARS - 1} characters")
    text = clean_comment(user_comment)[:room].rstrip()
    return f"{text} {marker}" if text else marker


def comment_has_marker(comment: str, marker: str) -> bool:
    """True when `marker` is one of the comment's words (not merely a substring of one)."""
    return marker in comment.split()


# --- streaming body ---------------------------------------------------------------------------


class _SizedReader:
    """Exactly `size` bytes of a stream, with the `len` the multipart encoder sizes parts by.

    The encoder loops while `len` is positive, so a stream that ends early must raise here
    rather than return nothing; one that holds more than declared must not be cut silently.
    """

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._left = size

    @property
    def len(self) -> int:
        return self._left

    def read(self, amount: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if amount is None or amount < 0 else min(amount, self._left)
        data = self._stream.read(want)
        if not data:
            raise ValueError(f"the part ended {self._left} bytes before its declared size")
        self._left -= len(data)
        if self._left == 0 and self._stream.read(1):
            raise ValueError("the part holds more bytes than its declared size")
        return data


class _CountingBody:
    """The request body; remembers whether any of it was handed to the socket."""

    def __init__(self, encoder: MultipartEncoder) -> None:
        self._encoder = encoder
        self.len: int = encoder.len
        self.sent = 0

    def read(self, amount: int = -1) -> bytes:
        data: bytes = self._encoder.read(amount)
        self.sent += len(data)
        return data


class _Adapter(HTTPAdapter):
    """No hidden retries (this module owns them) and large send blocks."""

    def __init__(self) -> None:
        super().__init__(pool_maxsize=2 * METRIKA_PARALLEL_REQUESTS, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", _SEND_BLOCK_BYTES)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def _new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no .netrc or proxy variables deciding where the token goes
    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- the in-flight limit ----------------------------------------------------------------------

_slots_lock = threading.Lock()
_slots_by_token: dict[str, threading.BoundedSemaphore] = {}


def _slots_for(token: str) -> threading.BoundedSemaphore:
    """One semaphore per token per process: Metrica's parallel quota is per user."""
    key = hashlib.sha256(token.encode()).hexdigest()
    with _slots_lock:
        slots = _slots_by_token.get(key)
        if slots is None:
            slots = _slots_by_token[key] = threading.BoundedSemaphore(METRIKA_PARALLEL_REQUESTS)
        return slots


# --- errors -----------------------------------------------------------------------------------


def _retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_body(response: requests.Response) -> tuple[str, str]:
    """(error_type, message) from Metrica's error JSON, or ("", start of the raw text)."""
    try:
        data = response.json()
    except ValueError:
        return "", response.text[:300].strip()
    if not isinstance(data, dict):
        return "", ""
    error_type, message = "", str(data.get("message") or "")
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        error_type = str(errors[0].get("error_type") or "")
        message = str(errors[0].get("message") or message)
    return error_type, message


def _error_class(status: int, error_type: str) -> type[MetrikaError]:
    if status in (420, 429) or (status == 403 and error_type.startswith("quota")):
        return MetrikaQuotaError
    if status in (401, 403):
        return MetrikaAuthError
    if status >= 500 or status == 408:
        return MetrikaTransientError
    return MetrikaRejectedError


# --- the client -------------------------------------------------------------------------------


class MetrikaClient:
    """The offline conversions calls of the Metrica Management API.

    Build one per process and share it between threads.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
    ) -> None:
        token = str(token).strip()
        if not token:
            raise ConfigError(f"{METRIKA_TOKEN} is not set")
        if not token.isprintable() or not token.isascii():
            raise ConfigError(f"{METRIKA_TOKEN} holds characters an HTTP header cannot carry")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError("the Metrica API URL must start with http:// or https://")
        if retry.max_attempts < 1:
            raise ConfigError("RetryPolicy.max_attempts must be at least 1")
        register_secret(token)
        self._token = Secret(token)
        self._base_url = base_url.rstrip("/")
        self._timeouts = timeouts
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        # Jitter only spreads retries out; it guards nothing.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._slots = _slots_for(token)

    @classmethod
    def from_settings(cls, settings: Settings) -> MetrikaClient:
        """The client for `METRIKA_TOKEN` and `METRIKA_API_URL`."""
        return cls(settings.metrika_token, base_url=settings.metrika_api_url)

    def __repr__(self) -> str:
        return f"MetrikaClient(base_url={self._base_url!r})"

    def close(self) -> None:
        """Close the HTTP session if this client made it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> MetrikaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the calls ---

    def upload(
        self,
        counter_id: int,
        type: ConversionType,
        comment: str,
        part: Callable[[], BinaryIO] | BinaryIO,
        size: int,
        *,
        marker: str | None = None,
        filename: str = "conversions.csv",
        deadline: float | None = None,
    ) -> Uploading:
        """Upload one part (`size` bytes) and return Metrica's `uploading` for it.

        `part` is a factory that opens a fresh stream for each attempt, or a seekable stream
        that is rewound to where it stood for each attempt. `comment` is sent as given (build
        it with `make_comment`). With `marker`, a failure after the body went out is followed
        by a look-up of the marker before anything is sent again, and a found upload is
        adopted; without one, such a failure is raised (MetrikaAmbiguousError) rather than
        risk a duplicate. `deadline` is a value of the client's clock: no attempt starts and
        no wait is begun that would end after it (DeadlineReached instead).
        ValueError if the stream does not hold exactly `size` bytes, or if the comment does not
        carry the marker.
        """
        kind = ConversionType(type)
        if size < 0:
            raise ValueError("size must not be negative")
        if marker is not None and not comment_has_marker(comment, marker):
            # A marker the comment does not carry could never be found: a retry would duplicate.
            raise ValueError("the comment must carry the marker (build it with make_comment)")
        opener = _part_opener(part)
        params = {"type": kind.value, "comment": comment}
        path = _API_PATH.format(counter_id=int(counter_id)) + "/upload"
        look_up_first = False

        def attempt() -> Uploading:
            nonlocal look_up_first
            if look_up_first and marker is not None:
                found = self._find_by_marker_once(counter_id, marker, kind)
                look_up_first = False
                if found is not None:
                    _log.info(
                        "adopted the upload an unanswered attempt had made",
                        extra={"counter_id": counter_id, "uploading_id": found.id},
                    )
                    return found
            try:
                return self._upload_once(path, params, opener, size, filename)
            except MetrikaAmbiguousError:
                look_up_first = True
                raise

        uploading = self._retrying(
            "upload", attempt, deadline=deadline, retry_ambiguous=marker is not None
        )
        _log.info(
            "uploaded a part",
            extra={
                "counter_id": counter_id,
                "uploading_id": uploading.id,
                "status": uploading.status,
                "source_quantity": uploading.source_quantity,
                "line_quantity": uploading.line_quantity,
            },
        )
        return uploading

    def find_by_marker(
        self, counter_id: int, marker: str, *, type: ConversionType | None = None
    ) -> Uploading | None:
        """The upload whose comment carries `marker`, or None. Pages through `uploadings`.

        Pass the part's `type` when it is known. Without it the unfiltered list is searched,
        then each type's: the documentation does not say whether the unfiltered list holds
        every type, and a miss here means a duplicate upload.
        """
        kinds: tuple[ConversionType | None, ...] = (type,) if type else (None, *ConversionType)

        def attempt() -> Uploading | None:
            for kind in kinds:
                found = self._find_by_marker_once(counter_id, marker, kind)
                if found is not None:
                    return found
            return None

        return self._retrying("find_by_marker", attempt, deadline=None)

    def get_uploading(self, counter_id: int, uploading_id: int) -> Uploading:
        """One upload's status and counters."""
        path = _API_PATH.format(counter_id=int(counter_id)) + f"/uploading/{int(uploading_id)}"

        def attempt() -> Uploading:
            return _parse_uploading(self._call("GET", path)["uploading"], ambiguous=False)

        return self._retrying("get_uploading", attempt, deadline=None)

    def list_uploadings(
        self,
        counter_id: int,
        *,
        limit: int = 100,
        offset: int = 0,
        type: ConversionType | None = None,
    ) -> list[Uploading]:
        """One page of the counter's uploads."""
        return self._retrying(
            "list_uploadings",
            lambda: self._list_once(counter_id, limit=limit, offset=offset, type=type),
            deadline=None,
        )

    def visit_join_threshold(self, counter_id: int) -> str:
        """The earliest date conversions can still be linked to visits, as Metrica gives it."""
        path = _API_PATH.format(counter_id=int(counter_id)) + "/visit_join_threshold"

        def attempt() -> str:
            data = self._call("GET", path)
            value: Any = data.get("date", data.get("visit_join_threshold"))
            if isinstance(value, Mapping):
                value = value.get("date")
            if value is None:
                raise MetrikaTransientError("Metrica's visit_join_threshold answer has no date")
            return str(value)

        return self._retrying("visit_join_threshold", attempt, deadline=None)

    # --- one attempt each ---

    def _upload_once(
        self,
        path: str,
        params: Mapping[str, str],
        opener: Callable[[], contextlib.AbstractContextManager[BinaryIO]],
        size: int,
        filename: str,
    ) -> Uploading:
        with opener() as stream:
            encoder = MultipartEncoder(
                fields={"file": (filename, _SizedReader(stream, size), "text/csv")}
            )
            body = _CountingBody(encoder)
            data = self._call(
                "POST", path, params=params, body=body, content_type=encoder.content_type
            )
        # A 200 we cannot read may still stand for an upload that exists.
        return _parse_uploading(data.get("uploading"), ambiguous=True)

    def _list_once(
        self, counter_id: int, *, limit: int, offset: int, type: ConversionType | None
    ) -> list[Uploading]:
        path = _API_PATH.format(counter_id=int(counter_id)) + "/uploadings"
        params = {"limit": str(limit), "offset": str(offset)}
        if type is not None:
            params["type"] = ConversionType(type).value
        items = self._call("GET", path, params=params).get("uploadings")
        if not isinstance(items, list):
            raise MetrikaTransientError("Metrica's uploadings answer has no list")
        return [_parse_uploading(item, ambiguous=False) for item in items]

    def _find_by_marker_once(
        self, counter_id: int, marker: str, type: ConversionType | None
    ) -> Uploading | None:
        for page in range(_LOOKUP_MAX_PAGES):
            items = self._list_once(
                counter_id, limit=_LOOKUP_PAGE_SIZE, offset=page * _LOOKUP_PAGE_SIZE, type=type
            )
            for item in items:
                if comment_has_marker(item.comment, marker):
                    return item
            if len(items) < _LOOKUP_PAGE_SIZE:
                return None
        return None

    # --- HTTP ---

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: _CountingBody | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """One request under the in-flight limit; the JSON answer, or the right MetrikaError."""
        headers = {
            "Authorization": f"OAuth {self._token}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if content_type:
            headers["Content-Type"] = content_type
        endpoint = path.rsplit("/offline_conversions/", 1)[-1].split("/", 1)[0]
        response: requests.Response | None = None
        failure: MetrikaError | ConfigError | None = None
        with self._slots:
            try:
                response = self._session.request(
                    method,
                    self._base_url + path,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=(self._timeouts.connect_s, self._timeouts.read_s),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                failure = self._network_error(exc, endpoint, body)
        # Raised outside the `except` block so that the requests exception, which holds the
        # request and its headers, is not chained to ours.
        if failure is not None:
            raise failure
        assert response is not None
        _log.debug(
            "Metrica answered",
            extra={"endpoint": endpoint, "method": method, "http_status": response.status_code},
        )
        if 200 <= response.status_code < 300:
            try:
                data = response.json()
            except ValueError:
                data = None
            if not isinstance(data, dict):
                error = MetrikaAmbiguousError if body is not None else MetrikaTransientError
                raise error(
                    f"Metrica answered {endpoint} with {response.status_code} but no JSON object",
                    status=response.status_code,
                )
            return data
        raise self._http_error(response, endpoint)

    def _http_error(self, response: requests.Response, endpoint: str) -> MetrikaError:
        status = response.status_code
        error_type, message = _error_body(response)
        error_type, message = self._scrub(error_type), self._scrub(message)
        cls = _error_class(status, error_type)
        described = " ".join(part for part in (str(status), error_type) if part)
        text = f"Metrica refused {endpoint}: {described}" + (f": {message}" if message else "")
        if 300 <= status < 400:
            text = f"Metrica answered {endpoint} with a redirect ({status}): check the API URL"
        if issubclass(cls, MetrikaRetryableError):
            return cls(
                text,
                status=status,
                error_type=error_type,
                metrika_message=message,
                retry_after_s=_retry_after_s(response.headers.get("Retry-After")),
            )
        return cls(text, status=status, error_type=error_type, metrika_message=message)

    def _network_error(
        self, exc: requests.RequestException, endpoint: str, body: _CountingBody | None
    ) -> MetrikaError | ConfigError:
        what = type(exc).__name__
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
            return ConfigError(f"the Metrica API URL is not usable ({what})")
        if isinstance(exc, requests.ConnectTimeout) or body is None or body.sent == 0:
            return MetrikaTransientError(f"no answer from Metrica to {endpoint} ({what})")
        return MetrikaAmbiguousError(
            f"no answer from Metrica after the {endpoint} body was sent ({what}): "
            "it may have been accepted"
        )

    def _scrub(self, text: str) -> str:
        # Metrica has no reason to echo the token, but a proxy's error page might.
        return text.replace(self._token, "***") if self._token in text else text

    # --- retries ---

    def _retrying(
        self,
        what: str,
        attempt: Callable[[], _T],
        *,
        deadline: float | None,
        retry_ambiguous: bool = True,
    ) -> _T:
        started = self._clock()
        for number in range(1, self._retry.max_attempts + 1):
            if deadline is not None and self._clock() >= deadline:
                raise DeadlineReached(f"{what}: the deadline came before attempt {number}")
            try:
                return attempt()
            except MetrikaAmbiguousError as exc:
                if not retry_ambiguous:
                    raise
                error: MetrikaRetryableError = exc
            except MetrikaRetryableError as exc:
                error = exc
            if number == self._retry.max_attempts:
                break
            delay = self._delay(number, error)
            now = self._clock()
            if now - started + delay > self._retry.max_total_s:
                break
            if deadline is not None and now + delay >= deadline:
                raise DeadlineReached(
                    f"{what}: waiting {delay:.1f}s to retry would pass the deadline ({error})"
                )
            _log.warning(
                "Metrica call failed; retrying",
                extra={
                    "call": what,
                    "attempt": number,
                    "delay_s": round(delay, 3),
                    "http_status": error.status,
                    "error_type": error.error_type,
                    "error": str(error),
                },
            )
            self._sleep(delay)
        _log.error(
            "Metrica call failed; giving up",
            extra={"call": what, "attempts": number, "error": str(error)},
        )
        raise error

    def _delay(self, attempt: int, error: MetrikaRetryableError) -> float:
        """Retry-After when Metrica gave one, else exponential back-off with equal jitter."""
        if error.retry_after_s is not None:
            return error.retry_after_s
        policy = self._retry
        cap = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
        return cap / 2 + self._rng.uniform(0, cap / 2)


def _parse_uploading(data: Any, *, ambiguous: bool) -> Uploading:
    try:
        if not isinstance(data, Mapping):
            raise ValueError("no uploading object")
        return Uploading.from_json(data)
    except ValueError:
        error = MetrikaAmbiguousError if ambiguous else MetrikaTransientError
        raise error("Metrica's answer holds no readable uploading object") from None


def _part_opener(
    part: Callable[[], BinaryIO] | BinaryIO,
) -> Callable[[], contextlib.AbstractContextManager[BinaryIO]]:
    """A fresh stream per attempt: from the factory, or the stream rewound to its start."""
    if callable(part):
        factory = part

        @contextlib.contextmanager
        def fresh() -> Iterator[BinaryIO]:
            # Only `read` and `close` are asked of the stream (an object store reader need not
            # be a context manager).
            stream = factory()
            try:
                yield stream
            finally:
                stream.close()

        return fresh
    stream = part
    if not stream.seekable():
        raise TypeError("pass a factory or a seekable stream: every attempt reads the part anew")
    start = stream.tell()

    @contextlib.contextmanager
    def rewound() -> Iterator[BinaryIO]:
        stream.seek(start)
        yield stream

    return rewound
