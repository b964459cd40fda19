"""The choices a user makes about how one file is read, each with the parser that checks it.

They come from the environment, the command line, a folder's settings file or an object's
metadata; every source goes through these same parsers, which raise ValueError with a message
that names what is allowed.

- `timezone`: the IANA zone of dates and times written without an offset (default UTC);
- `encoding`: `auto` (UTF-8, else Windows-1251), `utf-8` or `windows-1251`;
- `phone_region`: the country of phone numbers written without a country code (default RU);
- `date_order`: how day-month-year dates with the year last are read, whatever their
  separator, `DMY` (01/11/2026 and 01-11-2026 are 1 November) or `MDY`; without it such a date
  is an error, never a guess (dotted dates, 01.11.2026, are day first anyway);
- `duration_format`: what a duration of two parts (`1:35`) means, `ms` (minutes and seconds)
  or `hms` (hours and minutes); without it such a duration is left empty (`1:02:35` is always
  hours, minutes and seconds);
- `on_bad_optional`: `blank` (an invalid optional value is left empty and the row kept, as
  Metrica does) or `drop-row` (the row is rejected);
- `chat_same_key`: CHATS rows of one file with the same chat key and other values:
  `keep-last` (the later row is the chat's latest state and is kept, the earlier left out) or
  `keep-first` (the later row is left out as a duplicate);
- `column_map`: header names of the file's own (`Телефон`) to the columns they are
  (`PhoneNumber`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import zoneinfo
from collections.abc import Mapping
from types import MappingProxyType


class Encoding(enum.StrEnum):
    AUTO = "auto"
    UTF_8 = "utf-8"
    WINDOWS_1251 = "windows-1251"


class DateOrder(enum.StrEnum):
    DMY = "DMY"
    MDY = "MDY"


class DurationFormat(enum.StrEnum):
    HMS = "hms"  # H:MM:SS, and H:MM for two parts
    MS = "ms"  # MM:SS for two parts


class OnBadOptional(enum.StrEnum):
    BLANK = "blank"
    DROP_ROW = "drop-row"


_ENCODING_SPELLINGS = {
    "auto": Encoding.AUTO,
    "utf-8": Encoding.UTF_8,
    "utf8": Encoding.UTF_8,
    "windows-1251": Encoding.WINDOWS_1251,
    "cp1251": Encoding.WINDOWS_1251,
    "win-1251": Encoding.WINDOWS_1251,
}


def parse_timezone(value: str) -> dt.tzinfo:
    """The named IANA zone (or UTC)."""
    name = value.strip()
    if name.upper() in {"UTC", "Z", "GMT"}:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name like Europe/Moscow"
        ) from None


def zone_label(name: str) -> str:
    """How a zone is named in messages: `UTC` or its IANA name."""
    stripped = name.strip()
    return "UTC" if stripped.upper() in {"UTC", "Z", "GMT"} else stripped


def parse_encoding(value: str) -> Encoding:
    found = _ENCODING_SPELLINGS.get(value.strip().lower())
    if found is None:
        raise ValueError(f"unknown encoding {value!r}: use auto, utf-8 or windows-1251")
    return found


def parse_date_order(value: str) -> DateOrder:
    try:
        return DateOrder(value.strip().upper())
    except ValueError:
        raise ValueError(
            f"unknown date order {value!r}: use DMY (01/11/2026 is 1 November) or MDY"
        ) from None


def parse_duration_format(value: str) -> DurationFormat:
    try:
        return DurationFormat(value.strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown duration format {value!r}: use ms (1:35 is 95 seconds) or hms "
            "(1:35 is 1 hour 35 minutes)"
        ) from None


class ChatSameKey(enum.StrEnum):
    KEEP_LAST = "keep-last"
    KEEP_FIRST = "keep-first"


def parse_chat_same_key(value: str) -> ChatSameKey:
    try:
        return ChatSameKey(value.strip().lower())
    except ValueError:
        raise ValueError(f"chat_same_key must be keep-last or keep-first, not {value!r}") from None


def parse_on_bad_optional(value: str) -> OnBadOptional:
    try:
        return OnBadOptional(value.strip().lower())
    except ValueError:
        raise ValueError(f"on_bad_optional must be blank or drop-row, not {value!r}") from None


_REGION = re.compile(r"[A-Z]{2}")


def parse_phone_region(value: str) -> str:
    """A two-letter region libphonenumber knows (ISO 3166-1, like RU, KZ, BY)."""
    region = value.strip().upper()
    if not _REGION.fullmatch(region):
        raise ValueError(f"phone region must be two letters like RU, not {value!r}")
    if region != "RU":  # the default needs no look-up; others load the library once
        import phonenumbers  # noqa: PLC0415 (about 100 ms: only when a region is chosen)

        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"phone region {region} is not a region with phone numbers")
    return region


def parse_column_map(value: object, known: frozenset[str]) -> Mapping[str, str]:
    """`{"Телефон": "PhoneNumber", ...}`: each target one of `known` (any case)."""
    if not isinstance(value, Mapping):
        raise ValueError('column_map must be an object like {"Телефон": "PhoneNumber"}')
    canonical = {name.casefold(): name for name in known}
    mapped: dict[str, str] = {}
    for source, target in value.items():
        if not isinstance(source, str) or not source.strip():
            raise ValueError("column_map: a source column name is empty")
        if not isinstance(target, str) or target.strip().casefold() not in canonical:
            raise ValueError(
                f"column_map: {source!r} maps to {target!r}, which is not a Metrica column "
                f"(one of {', '.join(sorted(known))})"
            )
        mapped[source.strip()] = canonical[target.strip().casefold()]
    return MappingProxyType(mapped)
