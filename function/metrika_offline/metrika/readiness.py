"""Metrica's "not ready yet" answer, and the date in it.

A counter too new for offline conversions is refused with `400 Загрузить данные сейчас
невозможно. Загрузка станет доступна <date>` (the `VISIT_JOIN_THRESHOLD_UNMET` of Metrica's
own API tests), unless the upload carries `ignore_visit_join_threshold=1` (BASIC) or
`ignore_calls_visit_join_threshold=1` (CALLS). The date's format is not documented: it is read
as `DD.MM.YYYY` or `YYYY-MM-DD`, with or without a time (`HH:MM`, `HH:MM:SS`, a `T` or a
space between), in Moscow time (UTC+3, Metrica's own) unless it carries a zone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

__all__ = ["NOT_READY_PREFIX", "available_at", "is_not_ready", "threshold_params"]

#: How Metrica's refusal starts (its tests match this prefix).
NOT_READY_PREFIX: Final = "Загрузить данные сейчас невозможно"

_MOSCOW = dt.timezone(dt.timedelta(hours=3))
_DATE = re.compile(
    r"(?:(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})|(?P<Y>\d{4})-(?P<M>\d{2})-(?P<D>\d{2}))"
    r"(?:[T ,]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
    r"\s*(?P<z>Z|UTC|[+-]\d{2}:?\d{2})?"
)


def is_not_ready(status: int, message: str) -> bool:
    """True for Metrica's "uploads are not available yet" refusal."""
    return status == 400 and message.strip().startswith(NOT_READY_PREFIX)


def _zone(text: str | None) -> dt.tzinfo:
    if not text:
        return _MOSCOW
    if text in ("Z", "UTC"):
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def available_at(message: str) -> float | None:
    """When the counter takes uploads (Unix seconds), from Metrica's message; None if no date
    can be read from it."""
    found = _DATE.search(message)
    if found is None:
        return None
    g = found.groupdict()
    year, month, day = (g["y"], g["m"], g["d"]) if g["y"] is not None else (g["Y"], g["M"], g["D"])
    try:
        when = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(g["h"] or 0),
            int(g["mi"] or 0),
            int(g["s"] or 0),
            tzinfo=_zone(g["z"]),
        )
    except ValueError:
        return None
    return when.timestamp()


def threshold_params(kind: str) -> dict[str, str]:
    """The upload parameter that sends a file to a counter that is not ready yet, for a type
    (BASIC and CALLS have one; nothing documents one for CHATS)."""
    if kind == "BASIC":
        return {"ignore_visit_join_threshold": "1"}
    if kind == "CALLS":
        return {"ignore_calls_visit_join_threshold": "1"}
    return {}
