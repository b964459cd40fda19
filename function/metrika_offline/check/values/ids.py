"""Flags, durations, Metrica's numeric IDs, and URLs."""

from __future__ import annotations

import re

from metrika_offline.check.columns import Column
from metrika_offline.check.values.base import (
    NUL,
    VISIBLE_NUL,
    Check,
    Context,
    Findings,
    Fixer,
    Verdict,
    ascii_digits,
    fix_each,
    narrow,
    not_in,
    result_of,
    trimmed,
)

_FLAGS = frozenset({"", "0", "1"})
_OPTIONAL_DIGITS = re.compile(r"[0-9]*")
#: Yes and no as exports write them (compared lower-cased): 1 and 0 to Metrica.
_FLAG_WORDS = {
    **dict.fromkeys(("да", "yes", "true", "y"), "1"),
    **dict.fromkeys(("нет", "no", "false", "n"), "0"),
}


def _fix_flag(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if text in _FLAGS:
        return trimmed(value, text)
    word = _FLAG_WORDS.get(text.lower())
    if word is not None:
        return Verdict(word, "flag-words")
    return Verdict(
        value, error="bad-flag", message=f"{column.name} must be 1 or 0 (or да/нет, yes/no)"
    )


def check_flag(values: list[str], column: Column, ctx: Context) -> Findings | None:
    joined = "".join(values)
    if len(joined) == len(values) and joined.isascii():
        if not joined.encode().translate(None, b"01"):
            return None
    elif _FLAGS.issuperset(values):
        return None
    found = Findings(values)
    fix_each(values, not_in(values, _FLAGS), _fix_flag, column=column, ctx=ctx, found=found)
    return result_of(found)


_CLOCK = re.compile(r"([0-9]{1,3}):([0-5][0-9])(?::([0-5][0-9]))?")
# "1 мин, 35 сек", "2 ч 3 мин", "95 сек", "1 ч. 2 мин. 3 с": hours, minutes, seconds, each
# optional but in that order (at least one: see `_spelled`).
_SPELLED = re.compile(
    r"(?:([0-9]{1,3})\s*ч(?:ас(?:а|ов)?)?\.?)?[\s,]*"
    r"(?:([0-9]{1,4})\s*мин(?:ут[аы]?|\.)?)?[\s,]*"
    r"(?:([0-9]{1,6})\s*с(?:ек(?:унд[аы]?)?)?\.?)?",
    re.IGNORECASE,
)
_TWO_PARTS_HINT = (
    "{column} is written as two parts (1:35): minutes and seconds, or hours and minutes? "
    "set duration_format (ms or hms) in the folder settings or the object's metadata"
)


def _spelled(text: str) -> int | None:
    match = _SPELLED.fullmatch(text)
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _fix_duration(value: str, column: Column, ctx: Context) -> Verdict | None:
    text = value.strip()
    if _OPTIONAL_DIGITS.fullmatch(text):
        return trimmed(value, text)
    clock = _CLOCK.fullmatch(text)
    if clock is not None:
        first, second, third = clock.groups()
        if third is not None:  # H:MM:SS
            seconds = int(first) * 3600 + int(second) * 60 + int(third)
        elif ctx.duration_format == "ms":
            seconds = int(first) * 60 + int(second)
        elif ctx.duration_format == "hms":
            seconds = int(first) * 3600 + int(second) * 60
        else:
            return Verdict(
                value, error="bad-duration", message=_TWO_PARTS_HINT.format(column=column.name)
            )
        return Verdict(str(seconds), "duration-converted")
    spelled = _spelled(text)
    if spelled is not None:
        return Verdict(str(spelled), "duration-converted")
    return Verdict(
        value,
        error="bad-duration",
        message=f"{column.name} must be whole seconds, like 125 (or 0:02:05, or 2 мин 5 сек)",
    )


_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]+")


# Excel's way of keeping a long number as text: a formula giving a string, ="0123".
_FORMULA_TEXT = re.compile(r'="([0-9]+)"')


def _fix_numeric_id(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if _OPTIONAL_DIGITS.fullmatch(text):
        return trimmed(value, text)
    formula = _FORMULA_TEXT.fullmatch(text)
    if formula is not None:
        return Verdict(formula.group(1), "id-formula-unwrapped")
    if _SCIENTIFIC.fullmatch(text):
        message = (
            f"{column.name} was turned into a rounded number in E notation by a spreadsheet: "
            "format the column as text and export again"
        )
    else:
        message = f"{column.name} must be digits only"
    return Verdict(value, error="bad-id", message=message)


def _clean_digits(values: list[str]) -> bool:
    return ascii_digits("".join(values))


def _check_digits(fixer: Fixer) -> Check:
    def check(values: list[str], column: Column, ctx: Context) -> Findings | None:
        if _clean_digits(values):
            return None
        found = Findings(values)
        bad = narrow(values, _clean_digits, _OPTIONAL_DIGITS)
        fix_each(values, bad, fixer, column=column, ctx=ctx, found=found)
        return result_of(found)

    return check


check_duration = _check_digits(_fix_duration)
check_numeric_id = _check_digits(_fix_numeric_id)


_URL = re.compile(r"(?:https?://[^\s/?#]+\S*)?", re.IGNORECASE)
_EMPTY_HOST = re.compile(rb"://(?:[\x00/?#]|$)")


def _fix_url(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if _URL.fullmatch(text):
        return trimmed(value, text)
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
        and not raw.translate(None, VISIBLE_NUL)
        and _EMPTY_HOST.search(raw) is None
    )


def check_url(values: list[str], column: Column, ctx: Context) -> Findings | None:
    if _clean_urls(values):
        return None
    found = Findings(values)
    bad = narrow(values, _clean_urls, _URL)
    fix_each(values, bad, _fix_url, column=column, ctx=ctx, found=found)
    return result_of(found)
