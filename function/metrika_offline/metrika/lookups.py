"""Reading a counter's uploads back: one page of `uploadings`, and the search for a marker.

Every list call names its type: `uploadings` without `type` lists BASIC uploads only (the
documented default), so a CALLS or CHATS upload is never in it. A page holds up to 10000
uploads (the documented default `limit`), so most counters answer in one request.

The list's order is not documented (Metrica's own tests compare it in any order), so the marker
search reads to the end of the list, unless the order it has seen proves that nothing newer
can follow: the `create_time`s fall within every page read and strictly from each page to the
next, and a whole page is older than the part's first attempt (with a day's slack for clocks
and time zones).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Final

from metrika_offline.errors import MetrikaTransientError
from metrika_offline.metrika import paths
from metrika_offline.metrika.marker import comment_has_marker
from metrika_offline.metrika.models import Uploading, parse_uploading
from metrika_offline.metrika.transport import Transport
from metrika_offline.types import ConversionType

__all__ = ["LIST_LIMIT", "created_at", "find_by_marker_once", "list_once"]

#: The largest `limit` of `uploadings`, and its default.
LIST_LIMIT: Final = 10000
#: How much older than the part's first attempt a page must be to end the search early:
#: Metrica's `create_time` may be in another zone than ours, and clocks drift.
_SLACK_S: Final = 24 * 3600.0


def list_once(
    transport: Transport,
    counter_id: int,
    *,
    type: ConversionType,
    limit: int = LIST_LIMIT,
    offset: int = 0,
) -> list[Uploading]:
    """One page of the counter's uploads of one type, one request, no retry."""
    params = {"limit": str(limit), "offset": str(offset), "type": ConversionType(type).value}
    answer = transport.call(
        "GET", paths.offline_conversions(counter_id, "uploadings"), params=params
    )
    items = answer.get("uploadings")
    if not isinstance(items, list):
        raise MetrikaTransientError("Metrica's uploadings answer has no list")
    return [parse_uploading(item, ambiguous=False) for item in items]


def created_at(uploading: Uploading) -> float | None:
    """An upload's `create_time` in Unix seconds (UTC when it names no zone); None if
    unreadable."""
    text = uploading.create_time.strip()
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


class _Order:
    """What the pages read so far prove about the list's order."""

    def __init__(self, since: float | None) -> None:
        self._since = since
        self._falling = since is not None
        self._last: float | None = None

    def nothing_newer_follows(self, page: Sequence[Uploading]) -> bool:
        """True once the `create_time`s have fallen page after page and this whole page is
        older than the part's first attempt."""
        if not self._falling or not page:
            return False
        times = [created_at(item) for item in page]
        readable = [t for t in times if t is not None]
        if len(readable) != len(times):
            self._falling = False
            return False
        previous = self._last
        self._last = readable[-1]
        falling = all(a >= b for a, b in itertools.pairwise(readable))
        # Strictly below the page before: equal times would fit an oldest-first list too.
        if not falling or (previous is not None and readable[0] >= previous):
            self._falling = False
            return False
        assert self._since is not None
        return previous is not None and readable[0] < self._since - _SLACK_S


def find_by_marker_once(
    transport: Transport,
    counter_id: int,
    marker: str,
    type: ConversionType,
    *,
    since: float | None = None,
) -> Uploading | None:
    """The upload of `type` whose comment carries `marker`, reading the list to its end
    unless its order proves nothing newer can follow. `since` is no later than the part's
    first attempt (Unix seconds); None reads to the end."""
    order = _Order(since)
    offset = 0
    while True:
        items = list_once(transport, counter_id, type=type, limit=LIST_LIMIT, offset=offset)
        for item in items:
            if comment_has_marker(item.comment, marker):
                return item
        if len(items) < LIST_LIMIT or order.nothing_newer_follows(items):
            return None
        offset += len(items)
