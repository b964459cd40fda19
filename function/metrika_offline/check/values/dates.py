"""DateTime: Unix seconds, or a date and time converted to them in the file's time zone.

Read without a guess: ISO 8601 (`2026-11-01 14:30`, with or without an offset); Unix seconds
with a fraction (a float column's export: the fraction is dropped); `01.11.2026 14:30`, which
is day first wherever it is written; and other day-month-year dates with the year last
(`01/11/2026`, amoCRM's `01-11-2026 14:30:00`) only in a configured `date_order`, since
01/11/2026 is 1 November in Moscow and 11 January in New York. A dashed date with the year
first is ISO.
"""

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
_FRACTIONAL = re.compile(r"([0-9]{10})[.,][0-9]+")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
# Day and month (in either order: `date_order` says), then the year, one separator throughout.
_SLASHED = re.compile(
    r"(?P<first>\d{1,2})(?P<sep>[/-])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4})"
    r"(?:,?[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<sec>\d{2}))?"
    r"(?:\s*(?P<meridiem>[AaPp])\.?[Mm]\.?)?)?"
)
_DATETIME_HINT = (
    "DateTime must be Unix seconds (UTC) or a date and time like 2024-05-01 14:30[:00], "
    "2024-05-01T14:30:00+03:00 or 01.05.2024 14:30"
)
_SLASH_HINT = (
    "DateTime is a date like 01/11/2026 or 01-11-2026: day or month first? set date_order "
    "(DMY or MDY) in the folder settings or the object's metadata"
)
#: A DateTime at most this far ahead reads like local time taken for UTC.
_ZONE_SLIP_S = 14 * 3600


def _future(seconds: int, ctx: Context) -> Verdict:
    ahead = seconds - ctx.now
    if ahead <= _ZONE_SLIP_S:
        hours = -(-ahead // 3600)
        message = (
            f"DateTime is up to {hours} h in the future: if the file's times are local "
            f"(they were read as {ctx.zone}), set the time zone: TIMEZONE, --timezone, or "
            "timezone in the folder settings or the object's metadata"
        )
    else:
        message = "DateTime is in the future"
    return Verdict("", error="future-datetime", message=message)


def _local_to_unix(parts: tuple[int, int, int, int, int, int], tz: dt.tzinfo) -> int:
    year, month, day, hour, minute, second = parts
    return int(dt.datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp())


def _human_to_unix(text: str, ctx: Context) -> tuple[int, str] | Verdict:
    """Seconds and the repair's code, or the error's verdict."""
    match = _DATE_TIME.fullmatch(text)
    if match is not None:
        return _iso_to_unix(match, ctx.tz), "datetime-converted"
    match = _DOTTED.fullmatch(text)
    if match is not None:
        day, month, year = (int(match.group(i)) for i in (1, 2, 3))
        hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
        return _local_to_unix((year, month, day, hour, minute, second), ctx.tz), (
            "datetime-day-first"
        )
    match = _SLASHED.fullmatch(text)
    if match is not None:
        if ctx.date_order is None:
            return Verdict(text, error="ambiguous-date", message=_SLASH_HINT)
        first, second_, year = (int(match.group(i)) for i in ("first", "second", "year"))
        day, month = (first, second_) if ctx.date_order == "DMY" else (second_, first)
        hour, minute, second = (int(match.group(i) or 0) for i in ("hour", "minute", "sec"))
        meridiem = (match.group("meridiem") or "").lower()
        if meridiem and not 1 <= hour <= 12:
            raise ValueError("an hour past 12 with AM or PM")
        if meridiem:
            hour = hour % 12 + (12 if meridiem == "p" else 0)
        return _local_to_unix((year, month, day, hour, minute, second), ctx.tz), (
            "datetime-date-order"
        )
    fraction = _FRACTIONAL.fullmatch(text)
    if fraction is not None:
        return int(fraction.group(1)), "fractional-seconds"
    return Verdict(text, error="bad-datetime", message=_DATETIME_HINT)


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
        try:
            read = _human_to_unix(text, ctx)
        except (ValueError, OverflowError):
            return Verdict(value, error="bad-datetime", message="DateTime is not a real date")
        if isinstance(read, Verdict):
            return read
        seconds, repair = read
    if seconds < EARLIEST_UNIX_S:
        return Verdict(
            value,
            error="bad-datetime",
            message="DateTime is before 2000: Unix seconds were expected",
        )
    if seconds > ctx.future_limit:
        return _future(seconds, ctx)
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
            verdict = _future(int(values[row]), ctx)
            found.error(row, "future-datetime", verdict.message)
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
