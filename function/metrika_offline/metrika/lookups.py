"""Reading a counter's uploads back: one page of `uploadings`, and the search for a marker."""

from __future__ import annotations

from metrika_offline.errors import MetrikaTransientError
from metrika_offline.metrika import paths
from metrika_offline.metrika.marker import comment_has_marker
from metrika_offline.metrika.models import Uploading, parse_uploading
from metrika_offline.metrika.transport import Transport
from metrika_offline.types import ConversionType

__all__ = ["find_by_marker_once", "list_once"]

_LOOKUP_PAGE_SIZE = 100
_LOOKUP_MAX_PAGES = 50  # 5000 uploads back: far more than can arrive between two attempts


def list_once(
    transport: Transport,
    counter_id: int,
    *,
    limit: int,
    offset: int,
    type: ConversionType | None,
) -> list[Uploading]:
    """One page of the counter's uploads, one request, no retry."""
    params = {"limit": str(limit), "offset": str(offset)}
    if type is not None:
        params["type"] = ConversionType(type).value
    answer = transport.call(
        "GET", paths.offline_conversions(counter_id, "uploadings"), params=params
    )
    items = answer.get("uploadings")
    if not isinstance(items, list):
        raise MetrikaTransientError("Metrica's uploadings answer has no list")
    return [parse_uploading(item, ambiguous=False) for item in items]


def find_by_marker_once(
    transport: Transport, counter_id: int, marker: str, type: ConversionType | None
) -> Uploading | None:
    """The upload whose comment carries `marker`, paging back until the list ends."""
    for page in range(_LOOKUP_MAX_PAGES):
        items = list_once(
            transport,
            counter_id,
            limit=_LOOKUP_PAGE_SIZE,
            offset=page * _LOOKUP_PAGE_SIZE,
            type=type,
        )
        for item in items:
            if comment_has_marker(item.comment, marker):
                return item
        if len(items) < _LOOKUP_PAGE_SIZE:
            return None
    return None
