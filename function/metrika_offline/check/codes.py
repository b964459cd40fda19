"""The stable vocabulary of the result: every error and warning code, with what it means.

One registry for the checker's codes (`ERROR_DESCRIPTIONS`, `WARNING_DESCRIPTIONS`) and the
flow's (`Code`, `FLOW_CODES`: a file's or a part's error, a part's wait, Metrica's outcome),
with the message templates of the flow's codes. `CODES` holds them all with their level.

Codes are kebab-case and never change meaning once published: users filter on them, and the
README lists them with these same descriptions (a test keeps the two in step, both ways).
"""

from __future__ import annotations

import dataclasses
import enum
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


class Level(enum.StrEnum):
    """Where a code appears in the result, and what it means for the rows."""

    ERROR = "error"  # the checker's: the row is left out (a file-level one rejects the file)
    WARNING = "warning"  # nothing lost: a repair, a dropped column or row, a part that waits
    RESULT_ERROR = "result-error"  # the file's or a part's `error`, set by the flow
    OUTCOME_WARNING = "outcome-warning"  # what Metrica made of the uploads (`metrika.warnings`)


class Code(enum.StrEnum):
    """The codes the flow writes (the checker's own are the keys of the descriptions above)."""

    # A file's or a part's error.
    NO_COUNTER = "no-counter"
    BAD_COUNTER_ID = "bad-counter-id"
    BAD_TYPE = "bad-type"
    BAD_MODE = "bad-mode"
    BAD_SETTINGS = "bad-settings"
    NO_TOKEN_FOR_COUNTER = "no-token-for-counter"  # noqa: S105 (a result code)
    METRIKA_AUTH = "metrika-auth"
    METRIKA_REJECTED = "metrika-rejected"
    EVENT_TOO_OLD = "event-too-old"
    TOO_LARGE = "too-large"
    SOURCE_MISSING = "source-missing"
    SPLIT_GAVE_UP = "split-gave-up"
    NOTHING_TO_UPLOAD = "nothing-to-upload"
    UNKNOWN_GOAL_REJECTED = "unknown-goal-rejected"  # also the checker's (ERROR_DESCRIPTIONS)
    # A part that waits (shown as a warning at the top of the result).
    METRIKA_NOT_READY = "metrika-not-ready"
    METRIKA_DAILY_QUOTA = "metrika-daily-quota"
    MARKER_SEARCH_UNFINISHED = "marker-search-unfinished"
    METRIKA_UNAVAILABLE = "metrika-unavailable"
    # Metrica's outcome.
    STATUS_UNKNOWN = "status-unknown"
    ROWS_DROPPED_BY_METRIKA = "rows-dropped-by-metrika"
    FEW_LINKED = "few-linked"
    GOAL_NOT_FOUND = "goal-not-found"
    USER_NOT_FOUND = "user-not-found"


@dataclasses.dataclass(frozen=True)
class CodeInfo:
    """A code's level, what it means (the README's words), and the message the flow writes
    with it (`str.format` fields; empty where the message is built elsewhere)."""

    level: Level
    description: str
    template: str = ""


_ERR, _WARN, _OUT = Level.RESULT_ERROR, Level.WARNING, Level.OUTCOME_WARNING

#: The flow's codes.
FLOW_CODES: Mapping[Code, CodeInfo] = MappingProxyType(
    {
        Code.NO_COUNTER: CodeInfo(
            _ERR, "no counter id for the file, nor a default", "no counter id: {hint}"
        ),
        Code.BAD_COUNTER_ID: CodeInfo(_ERR, "the metadata counter-id is not a number"),
        Code.BAD_TYPE: CodeInfo(_ERR, "the metadata type is not BASIC, CALLS or CHATS"),
        Code.BAD_MODE: CodeInfo(_ERR, "the metadata mode is not upload, dry-run or resend"),
        Code.BAD_SETTINGS: CodeInfo(
            _ERR, "a folder settings file, or a metadata choice, that cannot be used"
        ),
        Code.NO_TOKEN_FOR_COUNTER: CodeInfo(
            _ERR, "the counter belongs to no account with a token (METRIKA_ACCOUNTS)"
        ),
        Code.METRIKA_AUTH: CodeInfo(
            _ERR, "Metrica refused the token, or the token has no access to the counter"
        ),
        Code.METRIKA_REJECTED: CodeInfo(_ERR, "Metrica refused the upload (its words are kept)"),
        Code.EVENT_TOO_OLD: CodeInfo(
            _ERR,
            "the event was retried for longer than MAX_EVENT_AGE_S: drop the file again",
            "the event is older than {hours:g} h (MAX_EVENT_AGE_S), so retries stopped; drop "
            "the file again to process it",
        ),
        Code.TOO_LARGE: CodeInfo(
            _ERR,
            "the file is over MAX_SOURCE_BYTES: split it into smaller files",
            "the file is {size_gb:.2f} GB: one invocation checks at most {limit_gb:.2f} GB "
            "(MAX_SOURCE_BYTES) in its time limit; split it into smaller files and drop them "
            "again",
        ),
        Code.SOURCE_MISSING: CodeInfo(
            _ERR,
            "the file was deleted before it could be read",
            "the file (this generation of it) was deleted before it could be read; drop it again",
        ),
        Code.SPLIT_GAVE_UP: CodeInfo(
            _ERR,
            "checking and splitting did not finish in a few invocations",
            "checking and splitting did not finish in {attempts} invocations; split the file "
            "into smaller files and drop them again",
        ),
        Code.NOTHING_TO_UPLOAD: CodeInfo(
            _ERR, "the file holds no valid rows", "the file holds no valid rows"
        ),
        Code.UNKNOWN_GOAL_REJECTED: CodeInfo(
            Level.ERROR,
            ERROR_DESCRIPTIONS["unknown-goal-rejected"],
            "{summary} (unknown goals are errors here: fix Target and drop the file again)",
        ),
        Code.METRIKA_NOT_READY: CodeInfo(
            _WARN,
            "the counter takes no offline conversions yet (a new one): parts wait for the date "
            "Metrica named (the message says it, and how to send now)",
        ),
        Code.METRIKA_DAILY_QUOTA: CodeInfo(
            _WARN, "a daily Metrica request quota is spent: parts wait `QUOTA_RETRY_S`, then go"
        ),
        Code.MARKER_SEARCH_UNFINISHED: CodeInfo(
            _WARN,
            "looking a part up in Metrica did not finish: it is looked up again before it is sent",
            "could not finish looking for an earlier upload of this part ({error}); it is "
            "looked up again before it is sent, never sent blind",
        ),
        Code.METRIKA_UNAVAILABLE: CodeInfo(
            _WARN,
            "an upload failed or ran out of time: the part is looked up before it is sent again",
            "the upload {what}; the part is looked up by its marker before it is sent again",
        ),
        Code.STATUS_UNKNOWN: CodeInfo(
            _OUT,
            "Metrica gave no final status within POLL_GIVE_UP_S",
            "Metrica did not report a final status in time; check the upload in Metrica's "
            "interface before sending the file again",
        ),
        Code.ROWS_DROPPED_BY_METRIKA: CodeInfo(
            _OUT,
            "Metrica accepted fewer rows than were sent",
            "Metrica accepted {line_quantity} of {rows_sent} rows sent; the rest failed its "
            "own validation (usually an ID of the wrong kind or a date it does not accept)",
        ),
        Code.FEW_LINKED: CodeInfo(
            _OUT,
            "under half of the accepted conversions linked to a visit",
            "only {linked_quantity} of {line_quantity} conversions linked to a visit: usually "
            "the conversions are older than the linking window (21 days with the extended "
            "window, otherwise less), or the IDs belong to another counter or are of the "
            "wrong type",
        ),
        Code.GOAL_NOT_FOUND: CodeInfo(
            _OUT,
            "Metrica found no goal for some Target values",
            "Metrica found no goal for some Target values: Target must be the goal's "
            "identifier from the goal settings, not its display name",
        ),
        Code.USER_NOT_FOUND: CodeInfo(
            _OUT,
            "Metrica found no user for some IDs",
            "Metrica found no user for some IDs: check that ClientId/UserId/Yclid come from "
            "this counter",
        ),
    }
)

#: Every code, the checker's and the flow's, with its level and meaning.
CODES: Mapping[str, CodeInfo] = MappingProxyType(
    {
        **{code: CodeInfo(Level.ERROR, text) for code, text in ERROR_DESCRIPTIONS.items()},
        **{code: CodeInfo(Level.WARNING, text) for code, text in WARNING_DESCRIPTIONS.items()},
        **{code.value: info for code, info in FLOW_CODES.items()},
    }
)


def message(code: Code, **fields: object) -> str:
    """The flow's message for `code`, its template filled with `fields`."""
    template = FLOW_CODES[code].template
    if not template:
        raise ValueError(f"{code} has no message template")
    return template.format(**fields)
