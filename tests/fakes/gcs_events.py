"""The local trigger: Cloud Storage "object finalized" CloudEvents, delivered like Eventarc.

`finalized_event(resource)` builds the event for an object resource; `CloudEvent.binary()` and
`.structured()` give the two HTTP shapes Eventarc and functions-framework speak. `EventSource`
delivers events to subscriber URLs on a pool of threads, several in flight at once, retrying
non-2xx answers and connection errors with capped exponential backoff (RETRY_POLICY_RETRY),
optionally delivering every event several times concurrently (at-least-once duplicates).
Retries and duplicates of one event keep its `ce-id`, as the platform does.
"""

from __future__ import annotations

import dataclasses
import datetime
import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import requests

FINALIZED_TYPE = "google.cloud.storage.object.v1.finalized"
SPEC_VERSION = "1.0"
_STRING_FIELDS = ("size", "generation", "metageneration")
#: Fields of the object resource that Eventarc does not put in the event payload.
_NOT_IN_EVENTS = ("acl",)

log = logging.getLogger(__name__)

Mode = Literal["binary", "structured"]
Observer = Callable[[Mapping[str, Any]], None]


def rfc3339(moment: datetime.datetime | None = None) -> str:
    """UTC with microseconds and a `Z`, as Cloud Storage writes times."""
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_payload(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The object resource as the event carries it: numbers as strings, no ACLs."""
    data = {k: v for k, v in resource.items() if k not in _NOT_IN_EVENTS and v is not None}
    for field in _STRING_FIELDS:
        if field in data:
            data[field] = str(data[field])
    return data


@dataclasses.dataclass(frozen=True)
class CloudEvent:
    """One CloudEvent (spec 1.0) with a JSON payload."""

    id: str
    source: str
    type: str
    subject: str
    time: str
    data: Mapping[str, Any]
    specversion: str = SPEC_VERSION
    datacontenttype: str = "application/json"

    @property
    def bucket(self) -> str:
        return str(self.data.get("bucket", ""))

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def generation(self) -> str:
        return str(self.data.get("generation", ""))

    def binary(self) -> tuple[dict[str, str], bytes]:
        """Headers and body in binary mode: attributes as `ce-*` headers, data as the body."""
        headers = {
            "ce-specversion": self.specversion,
            "ce-id": self.id,
            "ce-source": self.source,
            "ce-type": self.type,
            "ce-subject": self.subject,
            "ce-time": self.time,
            "content-type": self.datacontenttype,
        }
        return headers, json.dumps(dict(self.data)).encode()

    def structured(self) -> tuple[dict[str, str], bytes]:
        """Headers and body in structured mode: the whole event as one JSON document."""
        envelope = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": self.datacontenttype,
            "data": dict(self.data),
        }
        headers = {"content-type": "application/cloudevents+json; charset=utf-8"}
        return headers, json.dumps(envelope).encode()

    def request(self, mode: Mode = "binary") -> tuple[dict[str, str], bytes]:
        return self.binary() if mode == "binary" else self.structured()


def finalized_event(
    resource: Mapping[str, Any],
    *,
    event_id: str | None = None,
    at: datetime.datetime | None = None,
) -> CloudEvent:
    """The `object.v1.finalized` event Eventarc sends for this object resource."""
    bucket = str(resource["bucket"])
    name = str(resource["name"])
    return CloudEvent(
        id=event_id or uuid.uuid4().hex,
        source=f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        type=FINALIZED_TYPE,
        subject=f"objects/{name}",
        time=rfc3339(at),
        data=event_payload(resource),
    )


def post_event(
    url: str, event: CloudEvent, *, mode: Mode = "binary", timeout_s: float = 60.0
) -> requests.Response:
    """POST one event the way the trigger does (for tests that deliver events themselves)."""
    headers, body = event.request(mode)
    return requests.post(url, data=body, headers=headers, timeout=(5.0, timeout_s))


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a failed delivery is tried again: `initial_s * multiplier**n`, capped."""

    max_attempts: int = 5
    initial_s: float = 0.05
    max_delay_s: float = 1.0
    multiplier: float = 2.0

    def delay_after(self, attempt: int) -> float:
        return min(self.max_delay_s, self.initial_s * self.multiplier ** (attempt - 1))


@dataclasses.dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one copy of one event to one subscriber."""

    event_id: str
    subscriber: str
    name: str
    generation: str
    copy: int
    attempts: int
    status: int  # the last HTTP status; 0 when no answer came (refused, reset, timed out)
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclasses.dataclass(frozen=True)
class _Attempt:
    event: CloudEvent
    subscriber: str
    copy: int
    number: int


class EventSource:
    """Delivers finalize events to subscribers; the test hooks are all here.

    - `on_finalize(fn)`: `fn(resource)` runs for every finalized object before its event is
      queued (and before the writer gets its answer), so a test can act at that moment.
    - `wait_idle(timeout)`: True once nothing is queued, waiting for a retry, or in flight.
      Events queued while paused count as pending.
    - `deliveries`: one `Delivery` per finished (event, subscriber, copy).
    - `pause()` / `resume()`: hold deliveries back (they queue) and let them go.
    - `redeliver(name)`: send an object's last event again (same id unless `new_id`).
    """

    def __init__(
        self,
        subscribers: Iterable[str] = (),
        *,
        retry: RetryPolicy | None = None,
        duplicates: int = 1,
        workers: int = 8,
        timeout_s: float = 600.0,
        mode: Mode = "binary",
    ) -> None:
        if duplicates < 1 or workers < 1:
            raise ValueError("duplicates and workers must be at least 1")
        self.retry = retry or RetryPolicy()
        self.duplicates = duplicates
        self.timeout_s = timeout_s
        self.mode: Mode = mode
        self._subscribers = list(subscribers)
        self._observers: list[Observer] = []
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, _Attempt]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._paused = False
        self._closed = False
        self._events: list[CloudEvent] = []
        self._last: dict[str, CloudEvent] = {}
        self._deliveries: list[Delivery] = []
        self.observer_errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"gcs-events-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # --- configuration -------------------------------------------------------------------

    @property
    def subscribers(self) -> list[str]:
        with self._cond:
            return list(self._subscribers)

    def add_subscriber(self, url: str) -> None:
        with self._cond:
            self._subscribers.append(url)

    def remove_subscriber(self, url: str) -> None:
        with self._cond:
            self._subscribers.remove(url)

    def on_finalize(self, observer: Observer) -> Callable[[], None]:
        """Register an observer; returns a function that unregisters it."""
        with self._cond:
            self._observers.append(observer)

        def remove() -> None:
            with self._cond:
                if observer in self._observers:
                    self._observers.remove(observer)

        return remove

    # --- what happened -------------------------------------------------------------------

    @property
    def events(self) -> list[CloudEvent]:
        """Every event produced, in order."""
        with self._cond:
            return list(self._events)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._cond:
            return list(self._deliveries)

    def last_event(self, name: str) -> CloudEvent | None:
        with self._cond:
            return self._last.get(name)

    # --- producing events ----------------------------------------------------------------

    def finalized(self, resource: Mapping[str, Any]) -> CloudEvent:
        """An object was finalized: tell the observers, then queue its event."""
        with self._cond:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(resource)
            except Exception as exc:  # an observer's bug must not break the writer's request
                log.exception("finalize observer failed")
                with self._cond:
                    self.observer_errors.append(exc)
        event = finalized_event(resource)
        with self._cond:
            self._events.append(event)
            self._last[event.name] = event
        self.deliver(event)
        return event

    def deliver(self, event: CloudEvent, *, copies: int | None = None) -> None:
        """Queue `event` for every subscriber, `copies` (default: `duplicates`) times each."""
        count = self.duplicates if copies is None else copies
        with self._cond:
            if self._closed:
                return
            now = time.monotonic()
            for subscriber in self._subscribers:
                for copy in range(count):
                    self._push(now, _Attempt(event, subscriber, copy, 1))
            self._cond.notify_all()

    def redeliver(self, name: str, *, copies: int = 1, new_id: bool = False) -> CloudEvent:
        """Send the last event of object `name` again; KeyError if it never had one."""
        with self._cond:
            event = self._last[name]
        if new_id:
            event = dataclasses.replace(event, id=uuid.uuid4().hex)
        self.deliver(event, copies=copies)
        return event

    # --- flow control ----------------------------------------------------------------------

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._queue and self._in_flight == 0, timeout=timeout
            )

    def close(self) -> None:
        """Stop delivering; queued attempts are dropped, ones in flight finish on their own."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()

    # --- the workers -----------------------------------------------------------------------

    def _push(self, due: float, attempt: _Attempt) -> None:
        heapq.heappush(self._queue, (due, next(self._seq), attempt))

    def _next(self) -> _Attempt | None:
        """Block until an attempt is due (None once closed)."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._paused or not self._queue:
                    self._cond.wait()
                    continue
                due = self._queue[0][0]
                now = time.monotonic()
                if due > now:
                    self._cond.wait(timeout=due - now)
                    continue
                _, _, attempt = heapq.heappop(self._queue)
                self._in_flight += 1
                return attempt

    def _work(self) -> None:
        while (attempt := self._next()) is not None:
            status, error = self._post(attempt)
            with self._cond:
                self._in_flight -= 1
                retry = not 200 <= status < 300 and attempt.number < self.retry.max_attempts
                if retry and not self._closed:
                    due = time.monotonic() + self.retry.delay_after(attempt.number)
                    self._push(due, dataclasses.replace(attempt, number=attempt.number + 1))
                else:
                    self._deliveries.append(
                        Delivery(
                            event_id=attempt.event.id,
                            subscriber=attempt.subscriber,
                            name=attempt.event.name,
                            generation=attempt.event.generation,
                            copy=attempt.copy,
                            attempts=attempt.number,
                            status=status,
                            error=error,
                        )
                    )
                self._cond.notify_all()

    def _post(self, attempt: _Attempt) -> tuple[int, str]:
        headers, body = attempt.event.request(self.mode)
        try:
            response = requests.post(
                attempt.subscriber, data=body, headers=headers, timeout=(5.0, self.timeout_s)
            )
        except requests.RequestException as exc:
            return 0, f"{type(exc).__name__}: {exc}"
        response.close()
        return response.status_code, "" if response.ok else response.text[:500]
