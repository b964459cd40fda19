"""PhoneNumber."""

from __future__ import annotations

import re

from metrika_offline.check.columns import Column
from metrika_offline.check.values.base import (
    DIGITS,
    NUL,
    Context,
    Findings,
    Verdict,
    fix_each,
    narrow,
    result_of,
    trimmed,
)

_PHONE = re.compile(r"(?:\+[0-9]{7,15})?")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().\u00a0\u2010-\u2015]+")
_PHONE_HINT = "PhoneNumber must be + and the country code, like +70123456789"


def _fix_phone(value: str, _column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if not text:
        return trimmed(value, text)
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
        and joined.encode().translate(None, DIGITS) == b"+\x00" * (n - 1) + b"+"
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
    bad = narrow(values, _clean_phones, _PHONE)
    fix_each(values, bad, _fix_phone, column=column, ctx=ctx, found=found)
    return result_of(found)
