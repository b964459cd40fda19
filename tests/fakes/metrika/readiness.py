"""Counters not ready for offline conversions yet (too new), and the linking window.

A counter set "not ready until" a date refuses BASIC and CALLS uploads with `400 Загрузить
данные сейчас невозможно. Загрузка станет доступна <date>` unless they carry the type's ignore
parameter, which also turns the counter's extended linking window on (`offline_options`).
"""

from __future__ import annotations

import datetime as dt
import threading

from tests.fakes.metrika.clock import Clock
from tests.fakes.metrika.rules import IGNORE_THRESHOLD, NOT_READY_MESSAGE, VISIT_JOIN_DAYS

_MOSCOW = dt.timezone(dt.timedelta(hours=3))


class Readiness:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Counter -> (Unix seconds until which it refuses, the date's format in the refusal).
        self._not_ready: dict[int, tuple[float, str]] = {}
        self._extended: dict[int, set[str]] = {}  # the types whose extended window is on
        self._lock = threading.Lock()

    def set_not_ready(self, counter_id: int, until: float, date_format: str) -> None:
        with self._lock:
            self._not_ready[counter_id] = (until, date_format)

    def counters(self) -> set[int]:
        with self._lock:
            return set(self._not_ready)

    def refusal(self, counter_id: int, kind: str, ignored: bool) -> str | None:
        """Metrica's refusal of an upload to a counter not ready yet, or None."""
        with self._lock:
            held = self._not_ready.get(counter_id)
            if held is None or kind not in IGNORE_THRESHOLD:
                return None
            until, date_format = held
            if ignored:
                self._extended.setdefault(counter_id, set()).add(kind)
                return None
        if self._clock.wall() >= until:
            return None
        date = dt.datetime.fromtimestamp(until, _MOSCOW).strftime(date_format)
        return NOT_READY_MESSAGE.format(date=date)

    def threshold(self, counter_id: int) -> str:
        """`visit_join_threshold`: the earliest date conversions link from; for a counter not
        ready yet, the time uploads open (our reading: nothing documents what Metrica answers
        then)."""
        with self._lock:
            held = self._not_ready.get(counter_id)
        if held is not None and held[0] > self._clock.wall():
            return dt.datetime.fromtimestamp(held[0], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (self._clock.utc() - dt.timedelta(days=VISIT_JOIN_DAYS)).strftime("%Y-%m-%d")

    def offline_options(self, counter_id: int) -> dict[str, int]:
        with self._lock:
            on = set(self._extended.get(counter_id, set()))
        return {
            "offline_conversion_extended_threshold": int("BASIC" in on),
            "offline_calls_extended_threshold": int("CALLS" in on),
        }
