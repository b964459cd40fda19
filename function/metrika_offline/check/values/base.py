"""What every value check shares: the context, the findings of one column, and the
whole-column tests that let clean data through at C speed.

A check first tests the whole column at once: a join, a `bytes.translate`, a slice with a
step, a set comparison. Clean data stops there. Otherwise `narrow` (or a set difference)
picks out the values that need a look, and only those go through a fixer, one by one.
Messages never quote a value: cells hold phone numbers and IDs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable
from itertools import compress, count
from operator import not_
from typing import NamedTuple

from metrika_offline.check.choices import DateOrder, DurationFormat
from metrika_offline.check.columns import Column

NUL = "\x00"
DIGITS = b"0123456789"
DIGITS_NUL = DIGITS + b"\x00"

#: A DateTime may run this far ahead of our clock (clocks and exports drift).
FUTURE_SKEW_S = 300
#: Conversions older than this after the visit do not link (with the extended window on).
LINKING_WINDOW_S = 21 * 86_400
#: 2000-01-01. Anything earlier is a unit or format mistake, not a conversion.
EARLIEST_UNIX_S = 946_684_800


@dataclasses.dataclass(frozen=True)
class Context:
    """What value checks depend on besides the values: the clock, the time zone (and its name,
    for messages), the region of national phone numbers, how day-month-year dates are read,
    and what a duration of two parts (`1:35`) means."""

    tz: dt.tzinfo
    now: int
    zone: str = "UTC"
    phone_region: str = "RU"
    date_order: DateOrder | None = None
    duration_format: DurationFormat | None = None

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


PRINTABLE_NUL = bytes(range(0x20, 0x7F)) + b"\x00"
VISIBLE_NUL = bytes(range(0x21, 0x7F)) + b"\x00"


def ascii_digits(text: str) -> bool:
    """Nothing but ASCII digits (and NUL, our separator)."""
    return text.isascii() and not text.encode().translate(None, DIGITS_NUL)


def untrimmed_ascii(joined: str) -> bool:
    """`joined` (values joined by NUL) is printable ASCII and no value starts or ends with a
    space: nothing to trim, decided without touching each value."""
    if not joined.isascii() or joined.encode().translate(None, PRINTABLE_NUL):
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


def narrow(
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


def not_in(values: list[str], allowed: frozenset[str]) -> list[int]:
    return list(compress(count(), map(not_, map(allowed.__contains__, values))))


def fix_each(
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


def result_of(found: Findings) -> Findings | None:
    return None if found.is_empty() else found


def missing(column: Column) -> Verdict:
    return Verdict("", error="missing-value", message=f"{column.name} is empty")


def trimmed(value: str, stripped: str) -> Verdict | None:
    return None if stripped == value else Verdict(stripped, "whitespace-trimmed")
