"""What the test scripts to happen to the next matching requests: faults, and gates that park
requests mid-flight.

A fault is an HTTP error with Metrica's error body (500, 503, 504, 429/420 with Retry-After…),
or the same after the request was handled (`made=True`: the upload exists, the client is told
5xx, as a 504 `timeout` can), a slow answer, or a dropped connection after the whole body was
received (the upload is recorded, the client gets no answer). Each is used once, in order, by
the first request it matches.
"""

from __future__ import annotations

import dataclasses
import threading

#: Metrica's error type for a status, where it is not `backend_error`.
_ERROR_TYPES = {400: "invalid_parameter", 403: "access_denied", 504: "timeout"}
_ERROR_TYPES |= dict.fromkeys((420, 429), "quota_requests_by_ip")


@dataclasses.dataclass(frozen=True)
class Fault:
    """What to do to one request. `endpoint` None matches any endpoint.

    kind "status": answer `status` with Metrica's error body (the body is read, nothing kept;
        with `made`, the request is handled first: an upload is made, then refused with it);
    kind "drop": handle the request, then close the connection without answering;
    kind "slow": handle the request, then wait `delay_s` before answering.
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
            error_type=error_type or _ERROR_TYPES.get(status, "backend_error"),
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


class Gate:
    """Parks matching requests (after their body was handled, before the answer) until
    `release()`. `wait_for(n)` returns once n requests are parked: no sleeping in tests."""

    def __init__(self, endpoint: str | None, stopping: threading.Event) -> None:
        self.endpoint = endpoint
        self._released = threading.Event()
        self._stopping = stopping
        self._arrived = 0
        self._condition = threading.Condition()

    def matches(self, endpoint: str) -> bool:
        released = self._released.is_set()
        return not released and (self.endpoint is None or self.endpoint == endpoint)

    def park(self) -> None:
        with self._condition:
            self._arrived += 1
            self._condition.notify_all()
        while not self._released.wait(0.05) and not self._stopping.is_set():
            pass

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self._arrived >= count, timeout)

    def release(self) -> None:
        self._released.set()


class Script:
    """The faults and gates waiting for requests, in the order they were scripted."""

    def __init__(self) -> None:
        self.stopping = threading.Event()  # set when the fake stops: nothing waits on
        self._faults: list[Fault] = []
        self._gates: list[Gate] = []
        self._lock = threading.Lock()

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, endpoint: str) -> Fault | None:
        """The first fault that matches, which is then used up."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(endpoint):
                    return self._faults.pop(index)
        return None

    def hold(self, endpoint: str | None) -> Gate:
        gate = Gate(endpoint, self.stopping)
        with self._lock:
            self._gates.append(gate)
        return gate

    def gate_for(self, endpoint: str) -> Gate | None:
        with self._lock:
            return next((gate for gate in self._gates if gate.matches(endpoint)), None)
