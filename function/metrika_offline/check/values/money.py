"""Price and Currency."""

from __future__ import annotations

import re

from metrika_offline.check.columns import CURRENCIES, Column
from metrika_offline.check.values.base import (
    DIGITS,
    NUL,
    Context,
    Findings,
    Verdict,
    fix_each,
    narrow,
    not_in,
    result_of,
    trimmed,
)

_PRICE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?)?")
_DECIMAL_COMMA = re.compile(r"([0-9]+),([0-9]{1,2}|[0-9]{4,})")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:[ ,\u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?")
# Spaces (plain, no-break, narrow no-break) between groups of three: never a decimal mark.
_SPACE_GROUPED = re.compile(r"([0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+)(?:[.,]([0-9]+))?")
_NEGATIVE = re.compile(r"-\s*[0-9]+(?:[.,][0-9]+)?")
_PRICE_HINT = "Price must be a number with a full stop, like 1500.00"


def _fix_price(value: str, _column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if _PRICE.fullmatch(text):
        return trimmed(value, text)
    match = _DECIMAL_COMMA.fullmatch(text)
    if match:
        return Verdict(f"{match.group(1)}.{match.group(2)}", "decimal-comma")
    if _NEGATIVE.fullmatch(text):
        return Verdict(value, error="negative-price", message="Price is negative")
    grouped = _SPACE_GROUPED.fullmatch(text)
    if grouped:
        whole = grouped.group(1).replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
        cents = grouped.group(2)
        return Verdict(whole if cents is None else f"{whole}.{cents}", "thousands-spaces-removed")
    if _THOUSANDS.fullmatch(text):
        return Verdict(
            value,
            error="bad-price",
            message="Price has a comma between groups of three digits (a thousands separator "
            "or a decimal comma?): write 1500.00, not 1,500",
        )
    return Verdict(value, error="bad-price", message=_PRICE_HINT)


def _clean_prices(values: list[str]) -> bool:
    """Every value is empty or digits with at most one inner full stop."""
    joined = NUL.join(values)
    if not joined.isascii():
        return False
    rest = joined.encode().translate(None, DIGITS)
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
    bad = narrow(values, _clean_prices, _PRICE)
    fix_each(values, bad, _fix_price, column=column, ctx=ctx, found=found)
    return result_of(found)


_CURRENCIES_OR_EMPTY = CURRENCIES | {""}
#: Roubles as CRMs and spreadsheets write them (upper-cased); RUR is the pre-1998 code.
_ROUBLE_SPELLINGS = frozenset(
    {"RUR", "RUB.", "РУБ", "РУБ.", "Р", "Р.", "₽", "РУБЛЬ", "РУБЛИ", "РУБЛЕЙ", "RUBLES", "RUBLE"}
)
_THREE_LETTERS = re.compile(r"[A-Z]{3}")


def _fix_currency(value: str, _column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    upper = text.upper()
    if upper in _CURRENCIES_OR_EMPTY:
        return Verdict(upper, "currency-uppercased" if upper != text else "whitespace-trimmed")
    if upper in _ROUBLE_SPELLINGS:
        return Verdict("RUB", "currency-rouble")
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
    fix_each(
        values,
        not_in(values, _CURRENCIES_OR_EMPTY),
        _fix_currency,
        column=column,
        ctx=ctx,
        found=found,
    )
    return result_of(found)
