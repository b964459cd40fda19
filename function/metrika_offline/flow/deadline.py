"""When an invocation must have handed its work over: the platform stops it at its timeout."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from metrika_offline.config import Settings

#: Leave this much of the invocation's time (at most a quarter of it) for recording state and
#: handing over.
DEADLINE_MARGIN_S = 30.0


@dataclasses.dataclass(frozen=True)
class Deadline:
    """When this invocation must have handed over (a `time.monotonic` value; None = never)."""

    at: float | None = None
    clock: Callable[[], float] = time.monotonic

    def reached(self) -> bool:
        return self.at is not None and self.clock() >= self.at

    @classmethod
    def for_invocation(cls, settings: Settings, started: float | None = None) -> Deadline:
        start = time.monotonic() if started is None else started
        limit = settings.invocation_timeout_s
        budget = limit - min(DEADLINE_MARGIN_S, limit / 4)
        return cls(start + budget)
