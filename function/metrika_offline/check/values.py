"""Checks and safe repairs of one column of one batch: one function per kind of value.

Every check first tests the whole column at once at C speed: a join, a `bytes.translate`, a
slice with a step, a set comparison. Clean data stops there. Otherwise a compiled regex picks
out the values that need a look, and only those go through Python, one by one.

Repairs are the safe ones only: surrounding whitespace, a decimal comma, a date and time in
ISO 8601 form, phone punctuation, the case of a currency code or a chat platform. Anything
that would need a guess (which day a date means, which country a phone is in, what a
thousands separator was) is an error that says what to write instead. Messages never quote
a value: cells hold phone numbers and IDs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable
from itertools import compress, count, repeat
from operator import gt, is_not, lt, not_
from typing import NamedTuple

from metrika_offline.check.columns import CHAT_PLATFORMS, CURRENCIES, TAG_MAX_CHARS, Column, Kind

NUL = "\x00"
_DIGITS = b"0123456789"
_DIGITS_NUL = _DIGITS + b"\x00"

#: A DateTime may run this far ahead of our clock (clocks and exports drift).
FUTURE_SKEW_S = 300
#: Conversions older than this after the visit do not link (with the extended window on).
LINKING_WINDOW_S = 21 * 86_400
#: 2000-01-01. Anything earlier is a unit or format mistake, not a conversion.
EARLIEST_UNIX_S = 946_684_800


@dataclasses.dataclass(frozen=True)
class Context:
    """What value checks depend on besides the values: the clock and the time zone."""

    tz: dt.tzinfo
    now: int

    @property
    def future_limit(self) -> int:
        return self.now + FUTURE_SKEW_S

    @property
    def window_start(self) -> int:
        return self.now - LINKING_WINDOW_S


class Verdict(NamedTuple):
    """One value's fate: kept as `value` (after `repair`, a warning code), or an error."""

    value: str
    repair: str | None = None
    error: str | None = None
    message: str = ""


class Findings:
    """What checking one column of one batch found. Row indices are batch-relative."""

    __slots__ = ("changed", "errors", "notes", "source", "values")

    def __init__(self, source: list[str]) -> None:
        self.source = source
        self.values: list[str] | None = None  # the column after repairs, once one is made
        self.changed: list[int] = []
        self.errors: dict[tuple[str, str], list[int]] = {}
        self.notes: dict[str, list[int]] = {}  # code -> [count, first row]

    @property
    def final(self) -> list[str]:
        return self.source if self.values is None else self.values

    def repair(self, row: int, value: str, code: str) -> None:
        if self.values is None:
            self.values = list(self.source)
        self.values[row] = value
        self.changed.append(row)
        self.note(code, row)

    def error(self, row: int, code: str, message: str) -> None:
        self.errors.setdefault((code, message), []).append(row)

    def note(self, code: str, row: int, times: int = 1) -> None:
        entry = self.notes.get(code)
        if entry is None:
            self.notes[code] = [times, row]
        else:
            entry[0] += times
            entry[1] = min(entry[1], row)

    def is_empty(self) -> bool:
        return self.values is None and not self.errors and not self.notes


Check = Callable[[list[str], Column, Context], Findings | None]
Fixer = Callable[[str, Column, Context], Verdict | None]


_PRINTABLE_NUL = bytes(range(0x20, 0x7F)) + b"\x00"
_VISIBLE_NUL = bytes(range(0x21, 0x7F)) + b"\x00"


def _ascii_digits(text: str) -> bool:
    """Nothing but ASCII digits (and NUL, our separator)."""
    return text.isascii() and not text.encode().translate(None, _DIGITS_NUL)


def _untrimmed_ascii(joined: str) -> bool:
    """`joined` (values joined by NUL) is printable ASCII and no value starts or ends with a
    space: nothing to trim, decided without touching each value."""
    if not joined.isascii() or joined.encode().translate(None, _PRINTABLE_NUL):
        return False
    return " " not in joined or (  # a memchr: most columns have no space at all
        " \x00" not in joined
        and "\x00 " not in joined
        and not joined.startswith(" ")
        and not joined.endswith(" ")
    )


def _failing(values: list[str], pattern: re.Pattern[str]) -> list[int]:
    """Indices of the values `pattern` does not fully match."""
    return list(compress(count(), map(not_, map(pattern.fullmatch, values))))


_NARROW_BELOW = 48


def _halves(lo: int, hi: int) -> tuple[tuple[int, int], tuple[int, int]]:
    mid = (lo + hi) // 2
    return (lo, mid), (mid, hi)


def _narrow(
    values: list[str], clean: Callable[[list[str]], bool], pattern: re.Pattern[str]
) -> list[int]:
    """Indices of the values `pattern` does not fully match, for a column known to fail
    `clean` (a whole-column test that must imply `pattern`). Halves that pass `clean` are
    skipped without a look at each value; once most halves at a level fail (bad values are
    common), the rest is matched value by value. So a few bad values among thousands cost a
    few C-speed passes instead of a regex call per value, and many cost little extra."""
    spans = list(_halves(0, len(values)))
    bad: list[int] = []
    while spans:
        direct = [(lo, hi) for lo, hi in spans if hi - lo <= _NARROW_BELOW]
        wide = [(lo, hi) for lo, hi in spans if hi - lo > _NARROW_BELOW]
        failing = [(lo, hi) for lo, hi in wide if not clean(values[lo:hi])]
        if len(wide) >= 4 and len(failing) * 2 > len(wide):
            direct += failing
            failing = []
        for lo, hi in direct:
            bad += (lo + i for i in _failing(values[lo:hi], pattern))
        spans = [half for lo, hi in failing for half in _halves(lo, hi)]
    return sorted(bad)


def _not_in(values: list[str], allowed: frozenset[str]) -> list[int]:
    return list(compress(count(), map(not_, map(allowed.__contains__, values))))


def _fix_each(
    values: list[str],
    rows: Iterable[int],
    fixer: Fixer,
    *,
    column: Column,
    ctx: Context,
    found: Findings,
) -> None:
    for row in rows:
        verdict = fixer(values[row], column, ctx)
        if verdict is None:
            continue
        if verdict.error is not None:
            found.error(row, verdict.error, verdict.message)
        elif verdict.value != values[row]:
            found.repair(row, verdict.value, verdict.repair or "whitespace-trimmed")


def _result(found: Findings) -> Findings | None:
    return None if found.is_empty() else found


def _missing(column: Column) -> Verdict:
    return Verdict("", error="missing-value", message=f"{column.name} is empty")


def _trimmed(value: str, stripped: str) -> Verdict | None:
    return None if stripped == value else Verdict(stripped, "whitespace-trimmed")


# --- DateTime ---------------------------------------------------------------------------------

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
        return _missing(column)
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
    return len(joined) == 11 * n - 1 and joined[10::11] == NUL * (n - 1) and _ascii_digits(joined)


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
        return _result(found)
    odd = _narrow(values, _ten_digits_each, _TEN_DIGITS)
    _fix_each(values, odd, _fix_unix_time, column=column, ctx=ctx, found=found)
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
    return _result(found)


# --- Price, Currency ----------------------------------------------------------------------------

_PRICE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?)?")
_DECIMAL_COMMA = re.compile(r"([0-9]+),([0-9]{1,2}|[0-9]{4,})")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:[ ,\u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?")
_NEGATIVE = re.compile(r"-\s*[0-9]+(?:[.,][0-9]+)?")
_PRICE_HINT = "Price must be a number with a full stop, like 1500.00"


def _fix_price(value: str, _column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if _PRICE.fullmatch(text):
        return _trimmed(value, text)
    match = _DECIMAL_COMMA.fullmatch(text)
    if match:
        return Verdict(f"{match.group(1)}.{match.group(2)}", "decimal-comma")
    if _NEGATIVE.fullmatch(text):
        return Verdict(value, error="negative-price", message="Price is negative")
    if _THOUSANDS.fullmatch(text):
        return Verdict(
            value,
            error="bad-price",
            message="Price has a thousands separator (or an ambiguous comma): "
            "write 1500.00, not 1 500,00 or 1,500",
        )
    return Verdict(value, error="bad-price", message=_PRICE_HINT)


def _clean_prices(values: list[str]) -> bool:
    """Every value is empty or digits with at most one inner full stop."""
    joined = NUL.join(values)
    if not joined.isascii():
        return False
    rest = joined.encode().translate(None, _DIGITS)
    return (
        not rest.translate(None, b".\x00")
        and b".." not in rest
        and "\x00." not in joined
        and ".\x00" not in joined
        and not joined.startswith(".")
        and not joined.endswith(".")
    )


def check_price(values: list[str], column: Column, ctx: Context) -> Findings | None:
    if _clean_prices(values):
        return None
    found = Findings(values)
    bad = _narrow(values, _clean_prices, _PRICE)
    _fix_each(values, bad, _fix_price, column=column, ctx=ctx, found=found)
    return _result(found)


_CURRENCIES_OR_EMPTY = CURRENCIES | {""}
_ROUBLE_SPELLINGS = frozenset({"RUR", "РУБ", "РУБ.", "Р.", "₽", "РУБЛЬ", "РУБЛИ", "RUB."})
_THREE_LETTERS = re.compile(r"[A-Z]{3}")


def _fix_currency(value: str, _column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    upper = text.upper()
    if upper in _CURRENCIES_OR_EMPTY:
        return Verdict(upper, "currency-uppercased" if upper != text else "whitespace-trimmed")
    if upper in _ROUBLE_SPELLINGS:
        return Verdict(value, error="bad-currency", message="Currency: write RUB for roubles")
    if _THREE_LETTERS.fullmatch(upper):
        message = f"Currency {upper} is not an ISO 4217 code"
    else:
        message = "Currency must be a three-letter ISO 4217 code, like RUB"
    return Verdict(value, error="bad-currency", message=message)


def check_currency(values: list[str], column: Column, ctx: Context) -> Findings | None:
    # Most files hold one currency: comparing is cheaper than hashing every value.
    if values[0] in _CURRENCIES_OR_EMPTY and values.count(values[0]) == len(values):
        return None
    if _CURRENCIES_OR_EMPTY.issuperset(values):
        return None
    found = Findings(values)
    _fix_each(
        values,
        _not_in(values, _CURRENCIES_OR_EMPTY),
        _fix_currency,
        column=column,
        ctx=ctx,
        found=found,
    )
    return _result(found)


# --- Flags, durations, numeric IDs ------------------------------------------------------------

_FLAGS = frozenset({"", "0", "1"})
_OPTIONAL_DIGITS = re.compile(r"[0-9]*")


def _fix_flag(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if text in _FLAGS:
        return _trimmed(value, text)
    return Verdict(value, error="bad-flag", message=f"{column.name} must be 1 or 0")


def check_flag(values: list[str], column: Column, ctx: Context) -> Findings | None:
    joined = "".join(values)
    if len(joined) == len(values) and joined.isascii():
        if not joined.encode().translate(None, b"01"):
            return None
    elif _FLAGS.issuperset(values):
        return None
    found = Findings(values)
    _fix_each(values, _not_in(values, _FLAGS), _fix_flag, column=column, ctx=ctx, found=found)
    return _result(found)


def _fix_duration(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if _OPTIONAL_DIGITS.fullmatch(text):
        return _trimmed(value, text)
    return Verdict(
        value, error="bad-duration", message=f"{column.name} must be whole seconds, like 125"
    )


_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]+")


def _fix_numeric_id(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if _OPTIONAL_DIGITS.fullmatch(text):
        return _trimmed(value, text)
    if _SCIENTIFIC.fullmatch(text):
        message = (
            f"{column.name} was turned into a rounded number in E notation by a spreadsheet: "
            "format the column as text and export again"
        )
    else:
        message = f"{column.name} must be digits only"
    return Verdict(value, error="bad-id", message=message)


def _clean_digits(values: list[str]) -> bool:
    return _ascii_digits("".join(values))


def _check_digits(fixer: Fixer) -> Check:
    def check(values: list[str], column: Column, ctx: Context) -> Findings | None:
        if _clean_digits(values):
            return None
        found = Findings(values)
        bad = _narrow(values, _clean_digits, _OPTIONAL_DIGITS)
        _fix_each(values, bad, fixer, column=column, ctx=ctx, found=found)
        return _result(found)

    return check


check_duration = _check_digits(_fix_duration)
check_numeric_id = _check_digits(_fix_numeric_id)


# --- Free text: Tag, Target, IDs of the user's own -------------------------------------------


def _strip_changes(values: list[str], found: Findings) -> list[str]:
    """Trim every value; record each that changed. Returns the trimmed column."""
    stripped = list(map(str.strip, values))
    # str.strip returns the very same object when there is nothing to strip.
    for row in compress(count(), map(is_not, stripped, values)):
        found.repair(row, stripped[row], "whitespace-trimmed")
    return stripped


def check_text(values: list[str], _column: Column, _ctx: Context) -> Findings | None:
    if _untrimmed_ascii(NUL.join(values)):
        return None
    found = Findings(values)
    _strip_changes(values, found)
    return _result(found)


def check_tag(values: list[str], column: Column, _ctx: Context) -> Findings | None:
    if _untrimmed_ascii(NUL.join(values)) and max(map(len, values)) <= TAG_MAX_CHARS:
        return None
    found = Findings(values)
    stripped = _strip_changes(values, found)
    if max(map(len, stripped), default=0) > TAG_MAX_CHARS:
        for row in compress(count(), map(gt, map(len, stripped), repeat(TAG_MAX_CHARS))):
            found.error(
                row,
                "tag-too-long",
                f"{column.name} is over {TAG_MAX_CHARS} characters",
            )
    return _result(found)


def check_goal(values: list[str], column: Column, _ctx: Context) -> Findings | None:
    joined = NUL.join(values)
    if "" not in values and " " not in joined and _untrimmed_ascii(joined):
        return None
    found = Findings(values)
    stripped = _strip_changes(values, found)
    for row in compress(count(), map(not_, stripped)):
        found.error(row, "missing-value", f"{column.name} is empty")
    for row, value in enumerate(stripped):
        if value and (not value.isascii() or " " in value or "\t" in value):
            found.note("target-looks-like-name", row)
    return _result(found)


# --- URLs, phones, chat platforms -------------------------------------------------------------

_URL = re.compile(r"(?:https?://[^\s/?#]+\S*)?", re.IGNORECASE)
_EMPTY_HOST = re.compile(rb"://(?:[\x00/?#]|$)")


def _fix_url(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if _URL.fullmatch(text):
        return _trimmed(value, text)
    return Verdict(
        value,
        error="bad-url",
        message=f"{column.name} must be an absolute http(s) URL, like https://example.com/page",
    )


def _clean_urls(values: list[str]) -> bool:
    """Every value is empty or http(s)://, a host, and no whitespace or control character."""
    joined = NUL.join(values)
    if not joined.isascii():
        return False
    raw = joined.encode()
    filled = len(values) - values.count("")
    starts = raw.count(b"\x00https://") + raw.startswith(b"https://")
    if starts != filled:  # usually one scheme serves the whole column: one count is enough
        starts += raw.count(b"\x00http://") + raw.startswith(b"http://")
    return (
        starts == filled
        and not raw.translate(None, _VISIBLE_NUL)
        and _EMPTY_HOST.search(raw) is None
    )


def check_url(values: list[str], column: Column, ctx: Context) -> Findings | None:
    if _clean_urls(values):
        return None
    found = Findings(values)
    bad = _narrow(values, _clean_urls, _URL)
    _fix_each(values, bad, _fix_url, column=column, ctx=ctx, found=found)
    return _result(found)


_PHONE = re.compile(r"(?:\+[0-9]{7,15})?")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().\u00a0\u2010-\u2015]+")
_PHONE_HINT = "PhoneNumber must be + and the country code, like +70123456789"


def _fix_phone(value: str, _column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if not text:
        return _trimmed(value, text)
    compact = _PHONE_PUNCTUATION.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]  # the international call prefix
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not (digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15):
        return Verdict(value, error="bad-phone", message=_PHONE_HINT)
    if not plus:
        if len(digits) == 11 and digits.startswith("8"):
            return Verdict(
                value,
                error="bad-phone",
                message="PhoneNumber starts with the trunk prefix 8: write +7 and the number",
            )
        if len(digits) < 11:
            return Verdict(
                value, error="bad-phone", message="PhoneNumber has no country code: " + _PHONE_HINT
            )
    return Verdict("+" + digits, "phone-normalized")


def _clean_phones(values: list[str]) -> bool:
    """Every value is empty or + and 7 to 15 ASCII digits."""
    filled = list(filter(None, values))
    n = len(filled)
    if not n:
        return True
    joined = NUL.join(filled)
    if not (
        joined.isascii()
        and joined.encode().translate(None, _DIGITS) == b"+\x00" * (n - 1) + b"+"
        and joined.startswith("+")
        and joined.count("\x00+") == n - 1
    ):
        return False
    lengths = set(map(len, filled))
    return min(lengths) >= 8 and max(lengths) <= 16


def check_phone(values: list[str], column: Column, ctx: Context) -> Findings | None:
    if _clean_phones(values):
        return None
    found = Findings(values)
    bad = _narrow(values, _clean_phones, _PHONE)
    _fix_each(values, bad, _fix_phone, column=column, ctx=ctx, found=found)
    return _result(found)


_SHORT_WORD = re.compile(r"[a-z]{2,20}")


def _fix_chat_platform(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if not text:
        return _missing(column)
    lower = text.lower()
    if lower in CHAT_PLATFORMS:
        return Verdict(lower, "chat-platform-lowercased" if lower != text else None)
    platforms = ", ".join(sorted(CHAT_PLATFORMS))
    named = f" {lower}" if _SHORT_WORD.fullmatch(lower) else ""
    return Verdict(
        value,
        error="bad-chat-platform",
        message=f"ChatPlatform{named} is not one of {platforms}",
    )


def check_chat_platform(values: list[str], column: Column, ctx: Context) -> Findings | None:
    if CHAT_PLATFORMS.issuperset(values):
        return None
    found = Findings(values)
    _fix_each(
        values,
        _not_in(values, CHAT_PLATFORMS),
        _fix_chat_platform,
        column=column,
        ctx=ctx,
        found=found,
    )
    return _result(found)


#: The checker of each kind of column.
CHECKS: dict[Kind, Check] = {
    Kind.UNIX_TIME: check_unix_time,
    Kind.PRICE: check_price,
    Kind.CURRENCY: check_currency,
    Kind.FLAG: check_flag,
    Kind.DURATION: check_duration,
    Kind.TAG: check_tag,
    Kind.URL: check_url,
    Kind.PHONE: check_phone,
    Kind.CHAT_PLATFORM: check_chat_platform,
    Kind.GOAL: check_goal,
    Kind.NUMERIC_ID: check_numeric_id,
    Kind.TEXT: check_text,
}
