"""Checks and safe repairs of one column of one batch: one function per kind of value, in
one module per family (`dates`, `money`, `phones`, `ids`, `text`), over what `base` shares.

Repairs are the safe ones only; anything that would need a guess (which day a date means when
nothing says, what a comma between digits was) is an error that says what to write instead.
"""

from __future__ import annotations

from metrika_offline.check.columns import Kind
from metrika_offline.check.values.base import Check, Context, Findings, Verdict
from metrika_offline.check.values.dates import check_unix_time
from metrika_offline.check.values.ids import check_duration, check_flag, check_numeric_id, check_url
from metrika_offline.check.values.money import check_currency, check_price
from metrika_offline.check.values.phones import check_phone
from metrika_offline.check.values.text import check_chat_platform, check_goal, check_tag, check_text

__all__ = ["CHECKS", "Check", "Context", "Findings", "Verdict"]

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
