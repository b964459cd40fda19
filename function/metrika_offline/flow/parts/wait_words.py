"""What a waiting part says: the wait Metrica's "not now" stands for, in words a person acts on.

metrika-not-ready          a new counter: the date Metrica names (unreadable: an hour on)
metrika-daily-quota        a daily request quota spent: QUOTA_RETRY_S on
marker-search-unfinished   the look-up of an earlier attempt could not finish: at once
metrika-unavailable        Metrica did not answer clearly: at once (looked up first)
"""

from __future__ import annotations

import time

from metrika_offline.check.codes import Code, message
from metrika_offline.config import IGNORE_VISIT_JOIN_THRESHOLD, QUOTA_RETRY_S, Settings
from metrika_offline.errors import DeadlineReached, MetrikaDailyQuota, MetrikaError, MetrikaWait
from metrika_offline.flow.record.job import Wait
from metrika_offline.types import ConversionType

__all__ = ["UNREADABLE_DATE_WAIT_S", "unavailable_wait", "wait_for", "when"]

#: How long a part waits when Metrica's "not ready" message holds no date we can read.
UNREADABLE_DATE_WAIT_S = 3600.0

_SEND_NOW = (
    "to send it now, set ignore_visit_join_threshold (metadata ignore-visit-join-threshold: "
    f"true, the folder settings key, {IGNORE_VISIT_JOIN_THRESHOLD}=true, or the CLI's "
    "--ignore-visit-join-threshold): conversions before that date will not link"
)


def when(epoch_s: float) -> str:
    """A time as a person reads it, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch_s))


def _quoted(exc: MetrikaError) -> str:
    return f" (Metrica: {exc.metrika_message})" if exc.metrika_message else ""


def wait_for(
    exc: MetrikaWait, counter: int, kind: ConversionType, now: float, settings: Settings
) -> Wait:
    """The wait a "not now" answer stands for."""
    if isinstance(exc, MetrikaDailyQuota):
        until = now + settings.quota_retry_s
        which = exc.error_type or "a daily quota"
        return Wait(
            exc.code,
            f"Metrica's daily request quota {which} is spent{_quoted(exc)}; the part is not "
            f"asked about again before {when(until)} ({QUOTA_RETRY_S}): the follow-up sends it "
            "then, or run the same command again then to resume",
            until,
        )
    until = exc.not_before if exc.not_before is not None else now + UNREADABLE_DATE_WAIT_S
    date = when(until) if exc.not_before is not None else "a date Metrica did not make clear"
    return Wait(
        exc.code,
        f"counter {counter} takes {kind.value} offline conversions from {date}{_quoted(exc)}; "
        "the part is sent then (by the follow-up, or run the same command again then); "
        + _SEND_NOW,
        until,
    )


def unavailable_wait(exc: Exception, now: float, *, searching: bool) -> Wait:
    """The wait after a failure that is worth trying again at once (the next delivery, the
    same command): never a blind resend, the part is looked up by its marker first."""
    if searching:
        code = Code.MARKER_SEARCH_UNFINISHED
        return Wait(code, message(code, error=exc), now)
    what = "ran out of time" if isinstance(exc, DeadlineReached) else f"failed ({exc})"
    return Wait(Code.METRIKA_UNAVAILABLE, message(Code.METRIKA_UNAVAILABLE, what=what), now)
