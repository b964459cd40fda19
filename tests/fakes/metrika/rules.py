"""What Metrica allows, and the words it refuses in (docs/metrika-api.md).

Kept here on purpose rather than imported from the package: the fake checks the package, not
itself.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping, Sequence

FAKE_TOKEN = "fake-metrika-token"  # accepted by the fake only
METRIKA_MAX_FILE_BYTES = 1_000_000_000
#: Requests one token may have in flight at once; a fourth is `quota_parallel_requests`.
PARALLEL_LIMIT = 3
COMMENT_MAX_CHARS = 255
TYPES = ("BASIC", "CALLS", "CHATS")
#: The largest and default `limit` of `uploadings` (the reference page).
LIST_LIMIT = 10000
#: The upload parameter that lets a file into a counter that is not ready, per type.
IGNORE_THRESHOLD = {
    "BASIC": "ignore_visit_join_threshold",
    "CALLS": "ignore_calls_visit_join_threshold",
}
#: Days back a ready counter links conversions to visits.
VISIT_JOIN_DAYS = 21

#: Metrica's words, as its API tests match them (`ManagementError`).
NOT_READY_MESSAGE = "Загрузить данные сейчас невозможно. Загрузка станет доступна {date}"
UID_QUOTA_MESSAGE = "Превышена квота на количество запросов к API для пользователя"
COUNTER_QUOTA_MESSAGE = "Превышена квота на количество запросов к счётчику"
UNAUTHORIZED_MESSAGE = "Неавторизованный пользователь"
INVALID_TOKEN_MESSAGE = "Invalid oauth_token"
ACCESS_DENIED_MESSAGE = "Access is denied"
NOT_FOUND_MESSAGE = "Entity not found"
EMPTY_FILE_MESSAGE = "The file is empty"
BAD_DATA_MESSAGE = "Неверный формат данных, ошибка в строке номер {line}"
MISSING_COLUMN_MESSAGE = "Отсутствует обязательная колонка {column}"
MISSING_PART_MESSAGE = "Не найден параметр запроса. file"
BAD_MULTIPART_MESSAGE = "Некорректный формат multipart запроса."
WRONG_PARAMETER_MESSAGE = "Wrong parameter value"

#: Columns each type needs in its header: every group must be present by at least one name.
REQUIRED_COLUMNS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "BASIC": (("Target",), ("DateTime",), ("ClientId", "UserId", "Yclid", "PurchaseId")),
    "CALLS": (("DateTime",), ("UserId", "ClientId", "Yclid")),
    "CHATS": (("DateTime",), ("ChatPlatform",), ("ChatUsername", "ChatUserID", "PhoneNumber")),
}

_COMMENT_CHARS = re.compile(r"[0-9A-Za-z \u0400-\u04ff]*")


def comment_problem(comment: str) -> str | None:
    """Why Metrica refuses an upload's comment: too long, or characters other than digits,
    Latin and Cyrillic letters and spaces. None when it takes it."""
    if len(comment) > COMMENT_MAX_CHARS:
        return f"comment is longer than {COMMENT_MAX_CHARS} characters"
    if not _COMMENT_CHARS.fullmatch(comment) or not all(
        char.isalpha() for char in comment if char >= "\u0400"
    ):
        return "comment contains invalid characters"
    return None


def header_columns(header_line: bytes) -> tuple[list[str], bool]:
    """The header's column names and whether it started with a UTF-8 byte order mark."""
    bom = header_line.startswith(codecs.BOM_UTF8)
    text = header_line[len(codecs.BOM_UTF8) if bom else 0 :].decode("utf-8", "replace")
    row = next(csv.reader([text.rstrip("\r\n")]), [])
    return [name.strip() for name in row], bom


def check_columns(kind: str, columns: Sequence[str]) -> str | None:
    """Metrica's complaint about a header, or None. Names match in any case."""
    lowered = [name.lower() for name in columns]
    if any(not name for name in lowered):
        return BAD_DATA_MESSAGE.format(line=1) + ": a column has no name"
    duplicates = sorted({name for name in lowered if lowered.count(name) > 1})
    if duplicates:
        return BAD_DATA_MESSAGE.format(line=1) + f": duplicate column {duplicates[0]}"
    for group in REQUIRED_COLUMNS[kind]:
        if not any(name.lower() in lowered for name in group):
            wanted = group[0] if len(group) == 1 else "one of " + ", ".join(group)
            return MISSING_COLUMN_MESSAGE.format(column=wanted)
    return None
