"""The fake's clock: the test's (or a still one), moved on by `advance`."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable


class Clock:
    def __init__(self, base: Callable[[], float] | None = None) -> None:
        self._base = base or (lambda: 0.0)
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """What uploads age by: the base clock, moved on."""
        return self._base() + self._offset

    def wall(self) -> float:
        """Unix time, moved on: what dates (readiness, daily quotas) are read against."""
        return time.time() + self._offset

    def utc(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
