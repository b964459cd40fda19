"""PhoneNumber.

`+` and digits are taken as they are, once spaces, dashes, dots and brackets are gone (and
`00` is made `+`): that is what the whole-column test lets through at C speed, so numbers
written that way never meet the library. A number without `+` (`8 (912) 345-67-89`,
`9123456789`) is read by libphonenumber's rules for the configured region (`PHONE_REGION`,
default RU) and must be a valid number there; digits that already start with a country code
are tried as such too. The library is imported on the first such number only.
"""

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
_PHONE_HINT = "PhoneNumber must be + and the country code, like +79123456789"


def _national(digits: str, region: str) -> str | None:
    """The number in E.164 (+ and digits) if it is valid in `region` or with its own
    country code; else None."""
    import phonenumbers  # noqa: PLC0415 (a slow import: only files with such numbers pay it)

    for text, where in ((digits, region), ("+" + digits, None)):
        try:
            number = phonenumbers.parse(text, where)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _fix_phone(value: str, _column: Column, ctx: Context) -> Verdict | None:
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
        national = _national(digits, ctx.phone_region)
        if national is None:
            return Verdict(
                value,
                error="bad-phone",
                message=f"PhoneNumber is not a valid number in {ctx.phone_region} (the phone "
                "region) nor with a country code: " + _PHONE_HINT,
            )
        return Verdict(national, "phone-national")
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
