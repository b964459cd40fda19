"""The offline conversions calls of the Metrica Management API, for one token.

The pieces, one job each: `transport` (one request: token, timeouts, in-flight limit),
`answers` (answers mapped onto the exception tree), `retry` (back-off and deadlines),
`body` (the streamed multipart body), `upload` (one part's send / look up / adopt steps),
`lookups` (reading uploads back), `marker` (the comment and its marker), `models` (values).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import requests

from metrika_offline.config import DEFAULT_API_URL, METRIKA_TOKEN, Settings
from metrika_offline.errors import MetrikaTransientError
from metrika_offline.logs import get_logger
from metrika_offline.metrika import paths
from metrika_offline.metrika.body import part_opener
from metrika_offline.metrika.goals import parse_goals
from metrika_offline.metrika.lookups import LIST_LIMIT, find_by_marker_once, list_once
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.metrika.models import (
    FINAL_STATUSES,
    CounterInfo,
    Uploading,
    parse_counter,
    parse_uploading,
)
from metrika_offline.metrika.retry import Retrier, RetryPolicy
from metrika_offline.metrika.transport import Timeouts, Transport
from metrika_offline.metrika.upload import PartUpload, UploadRequest
from metrika_offline.types import ConversionType, Goal

# The names that lived here before the split stay importable from here.
__all__ = [
    "DEFAULT_API_URL",
    "FINAL_STATUSES",
    "MetrikaClient",
    "RetryPolicy",
    "Timeouts",
    "Uploading",
    "make_comment",
    "make_marker",
]

_log = get_logger("metrika")
_DEFAULT_TIMEOUTS = Timeouts()
_DEFAULT_RETRY = RetryPolicy()


class MetrikaClient:
    """Metrica's offline conversions calls with one OAuth token.

    Build one per process and token, and share it between threads.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeouts: Timeouts = _DEFAULT_TIMEOUTS,
        retry: RetryPolicy = _DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        token_name: str = METRIKA_TOKEN,
    ) -> None:
        self._transport = Transport(
            token, base_url=base_url, timeouts=timeouts, session=session, token_name=token_name
        )
        self._retrier = Retrier(retry, sleep=sleep, clock=clock, rng=rng)

    @classmethod
    def from_settings(cls, settings: Settings) -> MetrikaClient:
        """The client for `METRIKA_TOKEN` and `METRIKA_API_URL`."""
        return cls(settings.metrika_token, base_url=settings.metrika_api_url)

    def __repr__(self) -> str:
        return f"MetrikaClient(base_url={self._transport.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session if this client made it."""
        self._transport.close()

    def __enter__(self) -> MetrikaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        since: float | None = None,
        ignore_visit_join_threshold: bool = False,
    ) -> Uploading:
        """Upload one part (`size` bytes) and return Metrica's `uploading` for it.

        `part` is a factory that opens a fresh stream for each attempt, or a seekable stream
        that is rewound to where it stood for each attempt. `comment` is sent as given (build
        it with `make_comment`). With `marker`, a failure after the body went out is followed
        by a look-up of the marker before anything is sent again, and a found upload is
        adopted; without one, such a failure is raised (MetrikaAmbiguousError) rather than
        risk a duplicate. `since` (Unix seconds, no later than the part's first attempt) lets
        that look-up stop early when the list's order proves it may. With
        `ignore_visit_join_threshold` a counter that is not ready yet takes the part now.
        A counter not ready (MetrikaNotReady) or a daily quota (MetrikaDailyQuota) is raised
        at once, not retried. `deadline` is a value of the client's clock: no attempt starts and
        no wait is begun that would end after it (DeadlineReached instead).
        ValueError if the stream does not hold exactly `size` bytes, or if the comment does not
        carry the marker.
        """
        request = UploadRequest(
            counter_id=int(counter_id),
            type=ConversionType(type),
            comment=comment,
            size=size,
            marker=marker,
            filename=filename,
            since=since,
            ignore_visit_join_threshold=ignore_visit_join_threshold,
        )
        steps = PartUpload(self._transport, request, part_opener(part))
        uploading = self._retrier.run(
            "upload", steps.attempt, deadline=deadline, retry_ambiguous=steps.may_retry_ambiguous
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
        self,
        counter_id: int,
        marker: str,
        *,
        type: ConversionType,
        since: float | None = None,
        deadline: float | None = None,
    ) -> Uploading | None:
        """The upload of `type` whose comment carries `marker`, or None.

        Reads `uploadings` of that type (the list holds one type) to its end, unless the
        order seen proves nothing newer can follow `since` (Unix seconds, no later than the
        part's first attempt). A search that cannot finish raises; it never answers None.
        """
        kind = ConversionType(type)
        return self._retrier.run(
            "find_by_marker",
            lambda: find_by_marker_once(self._transport, counter_id, marker, kind, since=since),
            deadline=deadline,
        )

    def get_uploading(self, counter_id: int, uploading_id: int) -> Uploading:
        """One upload's status and counters."""
        path = paths.offline_conversions(counter_id, f"uploading/{int(uploading_id)}")

        def attempt() -> Uploading:
            answer = self._transport.call("GET", path)
            return parse_uploading(answer.get("uploading"), ambiguous=False)

        return self._retrier.run("get_uploading", attempt, deadline=None)

    def list_uploadings(
        self,
        counter_id: int,
        *,
        type: ConversionType,
        limit: int = LIST_LIMIT,
        offset: int = 0,
    ) -> list[Uploading]:
        """One page of the counter's uploads of one type."""
        return self._retrier.run(
            "list_uploadings",
            lambda: list_once(self._transport, counter_id, limit=limit, offset=offset, type=type),
            deadline=None,
        )

    def visit_join_threshold(self, counter_id: int) -> str:
        """The earliest date conversions can still be linked to visits, as Metrica gives it."""
        path = paths.offline_conversions(counter_id, "visit_join_threshold")

        def attempt() -> str:
            answer = self._transport.call("GET", path)
            value: Any = answer.get("date", answer.get("visit_join_threshold"))
            if isinstance(value, Mapping):
                value = value.get("date")
            if value is None:
                raise MetrikaTransientError("Metrica's visit_join_threshold answer has no date")
            return str(value)

        return self._retrier.run("visit_join_threshold", attempt, deadline=None)

    def goals(self, counter_id: int, *, max_attempts: int | None = None) -> tuple[Goal, ...]:
        """The counter's goals (JavaScript-event goals carry their identifiers).

        `max_attempts` caps the retries: a check that can go on without the goals need not
        wait minutes for them.
        """
        path = paths.goals(counter_id)
        return self._retrier.run(
            "goals",
            lambda: parse_goals(self._transport.call("GET", path)),
            deadline=None,
            max_attempts=max_attempts,
        )

    def counter(self, counter_id: int) -> CounterInfo:
        """The counter: its name, site, owner and this token's permission on it."""
        path = paths.counter(counter_id)
        return self._retrier.run(
            "counter",
            lambda: parse_counter(self._transport.call("GET", path).get("counter")),
            deadline=None,
        )

    def counters(self) -> tuple[CounterInfo, ...]:
        """The counters this token's account reaches (the first page)."""

        def attempt() -> tuple[CounterInfo, ...]:
            items = self._transport.call("GET", paths.counters(), params={"per_page": "1000"})
            found = items.get("counters")
            if not isinstance(found, list):
                raise MetrikaTransientError("Metrica's counters answer has no list")
            return tuple(parse_counter(item) for item in found)

        return self._retrier.run("counters", attempt, deadline=None)
