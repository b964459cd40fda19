"""The stable vocabulary of the check report: every error and warning code, with what it means.

Codes are kebab-case and never change meaning once published: users filter on them, the result
JSON Schema enumerates them, and the README lists them with these same descriptions (a test
keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Errors. File-level ones reject the whole file; row-level ones drop the row (or, past the
#: invalid-row ratio or in strict mode, reject the file through a policy code).
ERROR_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        # The file as a whole.
        "empty-file": "no bytes, or nothing but blank lines",
        "binary-file": "NUL bytes or a binary signature: a spreadsheet, an archive, UTF-16 text",
        "bad-encoding": "bytes that are neither UTF-8 nor Windows-1251 text (line, byte offset)",
        "unclosed-quote": "a quoted field that is never closed, or runs on past the row limit",
        "row-too-large": "a row over the row limit, or too big for a part with the header",
        "empty-column-name": "no longer raised: an unnamed column that holds values is dropped "
        "(unnamed-column-dropped)",
        "duplicate-column": "two header cells name the same column, one that is kept",
        "missing-column": "a required column is absent from the header",
        "no-linking-id": "no ID column in the header, or a row with every ID cell empty",
        "no-chat-contact": "CHATS: no ChatUsername, ChatUserID or PhoneNumber in the header or row",
        "header-only": "a header and no data rows",
        # One row.
        "too-few-cells": "the row has fewer cells than the header",
        "too-many-cells": "the row has more cells than the header",
        "missing-value": "a required cell (DateTime, Target, ChatPlatform) is empty",
        "bad-datetime": "DateTime is neither Unix seconds nor a date and time read without a guess",
        "ambiguous-date": "DateTime is a day-month-year date (01/11/2026, 01-11-2026) and no "
        "date_order says which part is the day",
        "future-datetime": "DateTime is in the future (more than 5 minutes ahead)",
        "bad-price": "Price is not a decimal number",
        "negative-price": "Price is below zero",
        "bad-currency": "Currency is not an ISO 4217 code",
        "bad-flag": "a 1/0 column holds something else (nor yes or no in words)",
        "bad-duration": "TalkDuration or HoldDuration is not seconds, H:MM:SS, a two-part "
        "duration read by duration_format, nor spelled out (1 мин, 35 сек)",
        "tag-too-long": "Tag is over 100 characters",
        "bad-url": "URL, CallTrackerURL or MessengerTrackerURL is not an absolute http(s) URL",
        "bad-phone": "PhoneNumber is neither + and 7 to 15 digits nor a valid number of the "
        "phone region",
        "bad-chat-platform": "ChatPlatform is not whatsapp, telegram or viber (nor a name of "
        "one of them)",
        "bad-id": "ClientId or Yclid is not a number",
        "unknown-goal-rejected": "Target names no goal of the counter and unknown goals are errors",
        # Policy: why a file with some invalid rows was rejected whole.
        "too-many-invalid-rows": "the share of invalid rows is above the limit (wrong type?)",
        "strict-invalid-row": "strict mode and at least one row is invalid",
        "no-valid-rows": "nothing is left to upload",
    }
)

#: Warnings. Nothing is lost: a repair was made, a column was dropped, a row was skipped as a
#: duplicate or blank, or a value will probably not do what the user expects.
WARNING_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "windows-1251": "the file was Windows-1251 (detected, or the encoding setting) and was "
        "transcoded to UTF-8",
        "empty-column-dropped": "a column with an empty name and only empty cells was dropped",
        "index-column-dropped": "an unnamed first column of row numbers (R, pandas) was dropped",
        "unnamed-column-dropped": "a column with an empty name held values and was dropped (the "
        "message says which and how many values)",
        "duplicate-column-dropped": "a column name repeated in the header, of a column this "
        "type does not have: every cell of it was dropped",
        "header-renamed": "a header cell was renamed to its canonical spelling",
        "unknown-column": "a column this type does not have was dropped",
        "whitespace-trimmed": "spaces around a value were removed",
        "decimal-comma": "a decimal comma in Price became a full stop",
        "thousands-spaces-removed": "spaces between digit groups in Price were removed "
        "(1 500,00 became 1500.00)",
        "currency-rouble": "roubles written as руб, р., RUR or ₽ became RUB",
        "datetime-converted": "a date and time was converted to Unix seconds (the message "
        "names the time zone used)",
        "datetime-day-first": "a DD.MM.YYYY date was read day first and converted",
        "datetime-date-order": "a day-month-year date (01/11/2026, 01-11-2026) was read in the "
        "configured date_order and converted",
        "fractional-seconds": "fractions of a second in Unix seconds were dropped",
        "phone-normalized": "spaces, dashes, dots or brackets were removed from a phone number",
        "phone-national": "a number without a country code was read in the phone region "
        "(8 912 345-67-89 became +79123456789)",
        "invalid-value-blanked": "an invalid optional value was left empty and its row kept "
        "(Price and Currency together)",
        "chat-platform-lowercased": "ChatPlatform was lower-cased",
        "chat-platform-alias": "a ChatPlatform naming one of Metrica's platforms another way "
        "(tg, wa, telegrambot) became that platform",
        "flag-words": "yes and no in a flag column (да/нет, yes/no, true/false, y/n) became 1 "
        "and 0",
        "duration-converted": "a duration written H:MM:SS, as two parts read by "
        "duration_format, or spelled out (1 мин, 35 сек) became seconds",
        "id-formula-unwrapped": 'an ID written as Excel\'s text formula (="0123") became its '
        "digits",
        "currency-uppercased": "Currency was upper-cased",
        "older-than-linking-window": "DateTime is over 21 days old: the row will not link",
        "target-looks-like-name": "Target has spaces or non-Latin letters: the goal's name?",
        "unknown-goal": "Target matches no JavaScript-event goal identifier of the counter",
        "goal-condition-not-exact": "Target matches a goal only by a contain, start or regexp "
        "condition: Metrica may count it as goal not found",
        "goals-unreadable": "the counter's goals could not be read, so Target was not checked",
        "unattributed-chat": "CHATS: no ClientID, UserID, Yclid or PurchaseID to link the chat",
        "duplicate-row": "a row repeating an earlier row's key was dropped",
        "already-sent": "a row an earlier file already sent (its key is in the ledger) was dropped",
        "chat-superseded-in-file": "CHATS: a row was left out because a later row of the same "
        "chat (same DateTime, ChatPlatform and contact) has other values and is sent instead",
        "chat-update": "CHATS: a row updates a chat an earlier file sent with other values "
        "(ChatAnswered, Price...) and is sent; Metrica keeps the latest",
        "ledger-limited": "the ledger held more keys than LEDGER_MAX_KEYS: rows were compared "
        "with the newest only",
        "dedupe-stopped": "too many distinct rows to remember: later ones were only compared "
        "with the earlier",
        "blank-line": "a blank line (or a row of empty cells) was skipped",
        "repeated-header": "a row equal to the header (exports joined together) was skipped",
        "totals-row": "a totals row (its first filled cell Итого, Всего or Total, and no "
        "required value) was skipped",
    }
)

#: What to say when most invalid rows share one error: the setting that would fix them.
POLICY_HINTS: Mapping[str, str] = MappingProxyType(
    {
        "ambiguous-date": "most rows have dates like 01/11/2026 or 01-11-2026: set date_order "
        "(DMY or MDY)",
        "bad-datetime": "most rows have dates that could not be read: write them as "
        "2026-11-01 14:30 or 01.11.2026 14:30, or as Unix seconds",
        "future-datetime": "most rows are dated in the future: are the times local? set the "
        "time zone (TIMEZONE, --timezone, or timezone in the folder settings)",
        "bad-phone": "most rows have phone numbers that could not be read: set the phone "
        "region (PHONE_REGION or phone_region in the folder settings) or write + and the "
        "country code",
        "no-linking-id": "most rows have no ClientId, UserId, Yclid or PurchaseId: is the ID "
        "column named so Metrica knows it (a column_map in the folder settings can say)?",
    }
)

ERROR_CODES: tuple[str, ...] = tuple(ERROR_DESCRIPTIONS)
WARNING_CODES: tuple[str, ...] = tuple(WARNING_DESCRIPTIONS)
