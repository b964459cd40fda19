"""Metrica's quotas: requests in flight per token, and daily requests per token and per counter.

A request over one is refused `429` with Metrica's error type (`quota_parallel_requests`,
`quota_requests_by_uid`, `quota_requests_by_counter_id`) and, for the daily ones, its Russian
words.
"""

from __future__ import annotations

import threading

from tests.fakes.metrika.clock import Clock
from tests.fakes.metrika.rules import COUNTER_QUOTA_MESSAGE, UID_QUOTA_MESSAGE


class Quotas:
    def __init__(
        self,
        clock: Clock,
        *,
        parallel: int,
        daily_per_token: int | None,
        daily_per_counter: int | None,
    ) -> None:
        self._clock = clock
        self._parallel = parallel
        self._daily_per_token = daily_per_token
        self._daily_per_counter = daily_per_counter
        self._in_flight: dict[str, int] = {}
        self._by_day: dict[tuple[str, int], int] = {}
        self.max_in_flight = 0  # the most requests one token ever had in flight at once
        self._lock = threading.Lock()

    def arrive(self, token: str) -> int:
        """Count a request in flight; how many the token has now, this one included."""
        with self._lock:
            count = self._in_flight.get(token, 0) + 1
            self._in_flight[token] = count
            self.max_in_flight = max(self.max_in_flight, count)
            return count

    def leave(self, token: str) -> None:
        with self._lock:
            self._in_flight[token] = max(0, self._in_flight.get(token, 0) - 1)

    def refusal(self, token: str, in_flight: int, counter_id: int | None) -> tuple[str, str] | None:
        """(error_type, message) when a quota is spent; else the request counts for the day."""
        if in_flight > self._parallel:
            return "quota_parallel_requests", "too many parallel requests"
        day = int(self._clock.wall() // 86400)
        keys = [(f"token:{token}", self._daily_per_token)]
        if counter_id is not None:
            keys.append((f"counter:{counter_id}", self._daily_per_counter))
        with self._lock:
            for key, limit in keys:
                if limit is not None and self._by_day.get((key, day), 0) >= limit:
                    if key.startswith("token:"):
                        return "quota_requests_by_uid", UID_QUOTA_MESSAGE
                    return "quota_requests_by_counter_id", COUNTER_QUOTA_MESSAGE
            for key, _ in keys:
                self._by_day[(key, day)] = self._by_day.get((key, day), 0) + 1
        return None
