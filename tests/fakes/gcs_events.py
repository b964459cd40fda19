"""The trigger: every finalized object becomes the binary-mode CloudEvent Eventarc would post,
built with the `cloudevents` library. Each delivery (event, subscriber, copy) runs in a thread
of its own, so duplicates are in flight at once; a non-2xx answer or none is tried again after
a capped exponential pause (RETRY_POLICY_RETRY). Retries and copies keep the event's id."""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

Observer = Callable[[Mapping[str, Any]], None]


def finalized_event(
    resource: Mapping[str, Any], *, event_id: str = "", at: datetime.datetime | None = None
) -> CloudEvent:
    """The event for an object resource: numbers as strings and no ACLs, as Eventarc sends."""
    data = {k: v for k, v in resource.items() if k != "acl" and v is not None}
    data.update({k: str(data[k]) for k in ("size", "generation", "metageneration") if k in data})
    moment = (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    attributes = {
        "id": event_id or uuid.uuid4().hex,
        "source": f"//storage.googleapis.com/projects/_/buckets/{data['bucket']}",
        "type": "google.cloud.storage.object.v1.finalized",
        "subject": f"objects/{data['name']}",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "datacontenttype": "application/json",
    }
    return CloudEvent(attributes, data)


def post_event(url: str, event: CloudEvent, *, timeout_s: float = 60.0) -> requests.Response:
    headers, body = to_binary(event)
    return requests.post(url, data=body, headers=headers, timeout=(5.0, timeout_s))


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Try n+1 comes `initial_s * multiplier**(n-1)` after try n, at most `max_delay_s`."""

    max_attempts: int = 5
    initial_s: float = 0.05
    max_delay_s: float = 1.0
    multiplier: float = 2.0

    def delay_after(self, attempt: int) -> float:
        return min(self.max_delay_s, self.initial_s * self.multiplier ** (attempt - 1))


@dataclasses.dataclass(frozen=True)
class Delivery:
    """How one copy of an event fared with one subscriber (status 0: no answer)."""

    name: str
    generation: str
    copy: int
    attempts: int
    status: int
    error: str
    seconds: float = 0.0  # how long the subscriber took over its last attempt

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class EventSource:
    """`on_finalize(fn)`: `fn(resource)` runs before the event is sent and before the writer
    gets its answer (a test's kill hook). `wait_idle()`: True once no delivery is in flight
    or waiting to be retried."""

    def __init__(
        self,
        subscribers: Iterable[str] = (),
        *,
        retry: RetryPolicy | None = None,
        duplicates: int = 1,
        timeout_s: float = 600.0,
        spread: bool = False,
    ) -> None:
        """`spread`: each event goes to one subscriber in turn (instances behind one service),
        not to every one."""
        self.spread = spread
        self._turn = 0
        self.retry, self.duplicates, self.timeout_s = retry or RetryPolicy(), duplicates, timeout_s
        self.subscribers = list(subscribers)
        self.observers: list[Observer] = []
        self.events: list[CloudEvent] = []
        self.deliveries: list[Delivery] = []
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False

    def add_subscriber(self, url: str) -> None:
        self.subscribers.append(url)

    def remove_subscriber(self, url: str) -> None:
        self.subscribers.remove(url)

    def on_finalize(self, observer: Observer) -> Callable[[], None]:
        """Add an observer; returns what removes it."""
        self.observers.append(observer)
        return lambda: self.observers.remove(observer)

    def finalized(self, resource: Mapping[str, Any]) -> None:
        for observer in list(self.observers):
            observer(resource)
        event = finalized_event(resource)
        with self._cond:
            self.events.append(event)
            if self._closed:
                return
            subscribers = self.subscribers
            if self.spread and subscribers:
                self._turn += 1
                subscribers = [subscribers[self._turn % len(subscribers)]]
            targets = [(s, c) for s in subscribers for c in range(self.duplicates)]
            self._busy += len(targets)
        for subscriber, copy in targets:
            threading.Thread(target=self._run, args=(event, subscriber, copy), daemon=True).start()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout=timeout)

    def close(self) -> None:
        """Send nothing more; deliveries in flight finish on their own."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self, event: CloudEvent, subscriber: str, copy: int) -> None:
        attempts, status, error = 0, 0, ""
        try:
            while not 200 <= status < 300 and attempts < self.retry.max_attempts:
                with self._cond:  # after a failure, the platform's pause (close() ends it)
                    pause = self.retry.delay_after(attempts) if attempts else 0.0
                    if self._cond.wait_for(lambda: self._closed, pause):
                        return
                attempts += 1
                started = time.perf_counter()
                try:
                    answer = post_event(subscriber, event, timeout_s=self.timeout_s)
                    status, error = answer.status_code, "" if answer.ok else answer.text[:500]
                except requests.RequestException as exc:
                    status, error = 0, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - started if attempts else 0.0
            done = Delivery(event.data["name"], event.data["generation"], copy, attempts, status,
                            error, seconds)  # fmt: skip
            with self._cond:
                self.deliveries.append(done)
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()
