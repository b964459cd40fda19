"""DateTime: Unix seconds, or a date and time converted to them in the file's time zone."""

from __future__ import annotations

import datetime as dt
import re
from itertools import compress, count, repeat
from operator import gt, lt

from metrika_offline.check.columns import Column
from metrika_offline.check.values.base import (
    EARLIEST_UNIX_S,
    NUL,
    Context,
    Findings,
    Verdict,
    ascii_digits,
    fix_each,
    missing,
    narrow,
    result_of,
)

_TEN_DIGITS = re.compile(r"[0-9]{10}")
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_DATETIME_HINT = (
    "DateTime must be Unix seconds (UTC) or a date and time like 2024-05-01 14:30[:00] "
    "or 2024-05-01T14:30:00+03:00"
)


def _iso_to_unix(match: re.Match[str], tz: dt.tzinfo) -> int:
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    offset = match.group(7)
    zone: dt.tzinfo
    if offset is None:
        zone = tz
    elif offset.upper() == "Z":
        zone = dt.UTC
    else:
        digits = offset[1:].replace(":", "")
        delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        zone = dt.timezone(delta if offset[0] == "+" else -delta)
    return int(dt.datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp())


def _fix_unix_time(value: str, column: Column, ctx: Context) -> Verdict:
    text = value.strip()
    if not text:
        return missing(column)
    if text.isascii() and text.isdigit():
        if len(text) == 13:
            return Verdict(
                value,
                error="bad-datetime",
                message="DateTime looks like milliseconds: divide by 1000",
            )
        seconds = int(text)
        repair = "whitespace-trimmed"
    else:
        match = _DATE_TIME.fullmatch(text)
        if match is None:
            return Verdict(value, error="bad-datetime", message=_DATETIME_HINT)
        try:
            seconds = _iso_to_unix(match, ctx.tz)
        except (ValueError, OverflowError):
            return Verdict(value, error="bad-datetime", message="DateTime is not a real date")
        repair = "datetime-converted"
    if seconds < EARLIEST_UNIX_S:
        return Verdict(
            value,
            error="bad-datetime",
            message="DateTime is before 2000: Unix seconds were expected",
        )
    if seconds > ctx.future_limit:
        return Verdict(value, error="future-datetime", message="DateTime is in the future")
    return Verdict(str(seconds), repair)


def _ten_digits_each(values: list[str], joined: str | None = None) -> bool:
    """Every value is ten ASCII digits: one join, one translate, one slice."""
    n = len(values)
    joined = NUL.join(values) if joined is None else joined
    return len(joined) == 11 * n - 1 and joined[10::11] == NUL * (n - 1) and ascii_digits(joined)


def check_unix_time(values: list[str], column: Column, ctx: Context) -> Findings | None:
    joined = NUL.join(values)
    limit = str(ctx.future_limit)
    window = str(ctx.window_start)
    found = Findings(values)
    if _ten_digits_each(values, joined) and max(values) <= limit:
        # Ten digits each: string order is number order, and all are after 2001-09-09.
        if min(values) < window:
            first = next(compress(count(), map(lt, values, repeat(window))))
            found.note("older-than-linking-window", first, sum(map(lt, values, repeat(window))))
        return result_of(found)
    odd = narrow(values, _ten_digits_each, _TEN_DIGITS)
    fix_each(values, odd, _fix_unix_time, column=column, ctx=ctx, found=found)
    odd_set = set(odd)
    for row in compress(count(), map(gt, values, repeat(limit))):
        if row not in odd_set:
            found.error(row, "future-datetime", "DateTime is in the future")
    final = found.final
    bad = {row for rows in found.errors.values() for row in rows}
    cut = ctx.window_start
    olds = [
        row
        for row, value in enumerate(final)
        if row not in bad and value.isdigit() and int(value) < cut
    ]
    if olds:
        found.note("older-than-linking-window", olds[0], len(olds))
    return result_of(found)
