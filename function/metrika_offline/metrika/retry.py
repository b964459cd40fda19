"""Retries: exponential back-off with jitter, bounded by attempts, total time and a deadline.

The sleep, the clock and the random source are injected so tests never wait.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from typing import TypeVar

from metrika_offline.errors import (
    ConfigError,
    DeadlineReached,
    MetrikaAmbiguousError,
    MetrikaRetryableError,
)
from metrika_offline.logs import get_logger

__all__ = ["Retrier", "RetryPolicy"]

_log = get_logger("metrika")
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Every request (a lookup too) counts as an attempt."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_total_s: float = 300.0


class Retrier:
    """Runs an attempt until it succeeds, fails for good, or the policy is spent."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if policy.max_attempts < 1:
            raise ConfigError("RetryPolicy.max_attempts must be at least 1")
        self.policy = policy
        self._sleep = sleep
        self.clock = clock
        # Jitter only spreads retries out; it guards nothing.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311

    def run(
        self,
        what: str,
        attempt: Callable[[], _T],
        *,
        deadline: float | None,
        retry_ambiguous: bool = True,
        max_attempts: int | None = None,
    ) -> _T:
        """`attempt()` until it returns; retryable errors are retried, others raised at once.

        `deadline` is a value of the clock: no attempt starts and no wait is begun that would
        end after it (DeadlineReached instead). An ambiguous failure is retried only with
        `retry_ambiguous` (the attempt then looks before it sends again). `max_attempts`
        lowers the policy's for a call that is only nice to have.
        """
        started = self.clock()
        attempts = min(self.policy.max_attempts, max_attempts or self.policy.max_attempts)
        for number in range(1, attempts + 1):
            if deadline is not None and self.clock() >= deadline:
                raise DeadlineReached(f"{what}: the deadline came before attempt {number}")
            try:
                return attempt()
            except MetrikaAmbiguousError as exc:
                if not retry_ambiguous:
                    raise
                error: MetrikaRetryableError = exc
            except MetrikaRetryableError as exc:
                error = exc
            if number == attempts:
                break
            delay = self._delay(number, error)
            now = self.clock()
            if now - started + delay > self.policy.max_total_s:
                break
            if deadline is not None and now + delay >= deadline:
                raise DeadlineReached(
                    f"{what}: waiting {delay:.1f}s to retry would pass the deadline ({error})"
                )
            _log.warning(
                "Metrica call failed; retrying",
                extra={
                    "event": "metrika_retry",
                    "call": what,
                    "attempt": number,
                    "max_attempts": self.policy.max_attempts,
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
        policy = self.policy
        cap = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
        return cap / 2 + self._rng.uniform(0, cap / 2)
