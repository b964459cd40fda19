"""Free text (Tag, Target, the user's own IDs) and ChatPlatform."""

from __future__ import annotations

import re
from itertools import compress, count, repeat
from operator import gt, is_not, not_

from metrika_offline.check.columns import (
    CHAT_PLATFORM_ALIASES,
    CHAT_PLATFORMS,
    TAG_MAX_CHARS,
    Column,
)
from metrika_offline.check.values.base import (
    NUL,
    Context,
    Findings,
    Verdict,
    fix_each,
    missing,
    not_in,
    result_of,
    untrimmed_ascii,
)


def _strip_changes(values: list[str], found: Findings) -> list[str]:
    """Trim every value; record each that changed. Returns the trimmed column."""
    stripped = list(map(str.strip, values))
    # str.strip returns the very same object when there is nothing to strip.
    for row in compress(count(), map(is_not, stripped, values)):
        found.repair(row, stripped[row], "whitespace-trimmed")
    return stripped


def check_text(values: list[str], _column: Column, _ctx: Context) -> Findings | None:
    if untrimmed_ascii(NUL.join(values)):
        return None
    found = Findings(values)
    _strip_changes(values, found)
    return result_of(found)


def check_tag(values: list[str], column: Column, _ctx: Context) -> Findings | None:
    if untrimmed_ascii(NUL.join(values)) and max(map(len, values)) <= TAG_MAX_CHARS:
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
    return result_of(found)


def check_goal(values: list[str], column: Column, _ctx: Context) -> Findings | None:
    joined = NUL.join(values)
    if "" not in values and " " not in joined and untrimmed_ascii(joined):
        return None
    found = Findings(values)
    stripped = _strip_changes(values, found)
    for row in compress(count(), map(not_, stripped)):
        found.error(row, "missing-value", f"{column.name} is empty")
    for row, value in enumerate(stripped):
        if value and (not value.isascii() or " " in value or "\t" in value):
            found.note("target-looks-like-name", row)
    return result_of(found)


_SHORT_WORD = re.compile(r"[a-z]{2,20}")
_NOT_IN_PLATFORM_NAMES = re.compile(r"[\s_\-.]+")


def _fix_chat_platform(value: str, column: Column, _ctx: Context) -> Verdict | None:
    text = value.strip()
    if not text:
        return missing(column)
    lower = text.lower()
    if lower in CHAT_PLATFORMS:
        return Verdict(lower, "chat-platform-lowercased" if lower != text else None)
    alias = CHAT_PLATFORM_ALIASES.get(_NOT_IN_PLATFORM_NAMES.sub("", lower))
    if alias is not None:
        return Verdict(alias, "chat-platform-alias")
    platforms = ", ".join(sorted(CHAT_PLATFORMS))
    named = f" {lower}" if _SHORT_WORD.fullmatch(lower) else ""
    return Verdict(
        value,
        error="bad-chat-platform",
        message=f"ChatPlatform{named} is not one of {platforms}: Metrica takes these three only",
    )


def check_chat_platform(values: list[str], column: Column, ctx: Context) -> Findings | None:
    if CHAT_PLATFORMS.issuperset(values):
        return None
    found = Findings(values)
    fix_each(
        values,
        not_in(values, CHAT_PLATFORMS),
        _fix_chat_platform,
        column=column,
        ctx=ctx,
        found=found,
    )
    return result_of(found)


#: The checker of each kind of column.
