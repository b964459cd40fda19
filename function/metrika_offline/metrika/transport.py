"""One HTTP request to Metrica: the token header, timeouts, the in-flight limit, no redirects.

At most `METRIKA_PARALLEL_REQUESTS` requests per token are in flight from one process,
whatever the number of threads or clients: Metrica's parallel quota is per user.

The OAuth token travels only in the `Authorization` header. It is registered with the log
redactor and scrubbed from whatever Metrica (or a proxy's error page) echoes back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from metrika_offline import __version__
from metrika_offline.config import METRIKA_TOKEN, Secret
from metrika_offline.errors import ConfigError, MetrikaError
from metrika_offline.logs import get_logger, register_secret
from metrika_offline.metrika.answers import http_error, network_error, unreadable_answer
from metrika_offline.metrika.body import CountingBody
from metrika_offline.types import METRIKA_PARALLEL_REQUESTS

__all__ = ["Timeouts", "Transport", "new_session"]

_SEND_BLOCK_BYTES = 256 * 1024  # fewer, larger socket writes for gigabyte bodies
_USER_AGENT = f"metrika-offline/{__version__}"

_log = get_logger("metrika")


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and between two bytes of an answer."""

    connect_s: float = 10.0
    read_s: float = 300.0


class _Adapter(HTTPAdapter):
    """No hidden retries (the caller owns them) and large send blocks."""

    def __init__(self) -> None:
        super().__init__(pool_maxsize=2 * METRIKA_PARALLEL_REQUESTS, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", _SEND_BLOCK_BYTES)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def new_session() -> requests.Session:
    """A session that ignores .netrc and proxy variables and never retries by itself."""
    session = requests.Session()
    session.trust_env = False  # no .netrc or proxy variables deciding where the token goes
    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_slots_lock = threading.Lock()
_slots_by_token: dict[str, threading.BoundedSemaphore] = {}


def _slots_for(token: str) -> threading.BoundedSemaphore:
    """One semaphore per token per process, keyed by the token's hash."""
    key = hashlib.sha256(token.encode()).hexdigest()
    with _slots_lock:
        slots = _slots_by_token.get(key)
        if slots is None:
            slots = _slots_by_token[key] = threading.BoundedSemaphore(METRIKA_PARALLEL_REQUESTS)
        return slots


def _checked_token(token: str, name: str) -> str:
    token = str(token).strip()
    if not token:
        raise ConfigError(f"{name} is not set")
    if not token.isprintable() or not token.isascii():
        raise ConfigError(f"{name} holds characters an HTTP header cannot carry")
    return token


class Transport:
    """Sends one request with one token and returns Metrica's JSON object or raises."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        timeouts: Timeouts,
        session: requests.Session | None = None,
        token_name: str = METRIKA_TOKEN,
    ) -> None:
        token = _checked_token(token, token_name)
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError("the Metrica API URL must start with http:// or https://")
        register_secret(token)
        self._token = Secret(token)
        self.base_url = base_url.rstrip("/")
        self._timeouts = timeouts
        self._owns_session = session is None
        self._session = session if session is not None else new_session()
        self._slots = _slots_for(token)

    def close(self) -> None:
        """Close the HTTP session if this transport made it."""
        if self._owns_session:
            self._session.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: CountingBody | None = None,
    ) -> dict[str, Any]:
        """One request under the in-flight limit; the JSON answer, or the right MetrikaError."""
        headers = {
            "Authorization": f"OAuth {self._token}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if body is not None:
            headers["Content-Type"] = body.content_type
        endpoint = _endpoint(path)
        response: requests.Response | None = None
        failure: MetrikaError | ConfigError | None = None
        with self._slots:
            try:
                response = self._session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=(self._timeouts.connect_s, self._timeouts.read_s),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                sent = None if body is None else body.sent
                failure = network_error(exc, endpoint, body_sent=sent)
        # Raised outside the `except` block so that the requests exception, which holds the
        # request and its headers, is not chained to ours.
        if failure is not None:
            raise failure
        assert response is not None
        _log.debug(
            "Metrica answered",
            extra={"endpoint": endpoint, "method": method, "http_status": response.status_code},
        )
        if not 200 <= response.status_code < 300:
            raise http_error(response, endpoint, self._scrub, sent_body=body is not None)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise unreadable_answer(endpoint, response.status_code, sent_body=body is not None)
        return data

    def _scrub(self, text: str) -> str:
        # Metrica has no reason to echo the token, but a proxy's error page might.
        return text.replace(self._token, "***") if self._token in text else text


def _endpoint(path: str) -> str:
    """The short name of a call for messages: `upload`, `uploadings`, `goals`…"""
    tail = path.rsplit("/offline_conversions/", 1)
    if len(tail) == 2:
        return tail[1].split("/", 1)[0]
    return path.rstrip("/").rsplit("/", 1)[-1]
