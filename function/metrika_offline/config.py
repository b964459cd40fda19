"""Every environment variable the package reads, and the settings built from them.

An explicit argument beats the environment, which beats the default. The environment is read
here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from metrika_offline.errors import ConfigError
from metrika_offline.types import (
    DEFAULT_MAX_PART_BYTES,
    METRIKA_MAX_FILE_BYTES,
    ConversionType,
    UnknownGoals,
)

# The contract's names (docs/contract.md); more may be added, these stay.
METRIKA_TOKEN = "METRIKA_TOKEN"  # noqa: S105 (the variable's name, not a value)
METRIKA_API_URL = "METRIKA_API_URL"
INPUT_PREFIX = "INPUT_PREFIX"
DEFAULT_COUNTER_ID = "DEFAULT_COUNTER_ID"
DEFAULT_TYPE = "DEFAULT_TYPE"
MAX_PART_BYTES = "MAX_PART_BYTES"
# Ours.
WORK_PREFIX = "WORK_PREFIX"
TIMEZONE = "TIMEZONE"
PHONE_REGION = "PHONE_REGION"  # region of phone numbers written without a country code
DATE_ORDER = "DATE_ORDER"  # DMY or MDY: how 01/11/2026 and 01-11-2026 are read (unset: errors)
DURATION_FORMAT = "DURATION_FORMAT"  # ms or hms: what 1:35 means (unset: left empty)
ON_BAD_OPTIONAL = "ON_BAD_OPTIONAL"  # blank (default) or drop-row
CHAT_SAME_KEY = "CHAT_SAME_KEY"  # keep-last (default) or keep-first: CHATS rows of one file
MAX_INVALID_RATIO = "MAX_INVALID_RATIO"
MAX_ERRORS = "MAX_ERRORS"
STRICT = "STRICT"
LEASE_S = "LEASE_S"
MAX_EVENT_AGE_S = "MAX_EVENT_AGE_S"
INVOCATION_TIMEOUT_S = "INVOCATION_TIMEOUT_S"
MAX_SOURCE_BYTES = "MAX_SOURCE_BYTES"
POLL_GIVE_UP_S = "POLL_GIVE_UP_S"
LOG_LEVEL = "LOG_LEVEL"
BUCKET = "BUCKET"  # the input bucket, for poll_uploads (events name their own)
# The work bucket: job state, parts, the ledger, locks, the pending index (no trigger on it).
WORK_BUCKET = "WORK_BUCKET"
# Uploads as Cloud Tasks: the queue path (`{account}` stands for the Metrica account), the
# `upload_part` function's URL, the account whose OIDC token the tasks carry, and the local
# emulator (host:port; when set, tasks go there without credentials).
UPLOAD_QUEUE = "UPLOAD_QUEUE"
UPLOAD_URL = "UPLOAD_URL"
UPLOAD_INVOKER = "UPLOAD_INVOKER"
CLOUD_TASKS_EMULATOR_HOST = "CLOUD_TASKS_EMULATOR_HOST"
LEDGER_WINDOW_DAYS = "LEDGER_WINDOW_DAYS"
LEDGER_MAX_KEYS = "LEDGER_MAX_KEYS"
# More Yandex accounts: a JSON object counter id -> account name, and one token per account.
METRIKA_ACCOUNTS = "METRIKA_ACCOUNTS"
METRIKA_TOKEN_PREFIX = "METRIKA_TOKEN_"  # noqa: S105 (a prefix of variables' names)
# Where a file's outcome is told (the URLs and the bot token are secrets).
NOTIFY_SLACK_WEBHOOK_URL = "NOTIFY_SLACK_WEBHOOK_URL"
NOTIFY_WEBHOOK_URL = "NOTIFY_WEBHOOK_URL"
NOTIFY_TELEGRAM_BOT_TOKEN = "NOTIFY_TELEGRAM_BOT_TOKEN"  # noqa: S105 (the variable's name)
NOTIFY_TELEGRAM_CHAT_ID = "NOTIFY_TELEGRAM_CHAT_ID"
TELEGRAM_API_URL = "TELEGRAM_API_URL"
UNKNOWN_GOALS = "UNKNOWN_GOALS"
# A daily Metrica quota spent: how long a part waits before it is asked about again.
QUOTA_RETRY_S = "QUOTA_RETRY_S"
# Send to a counter that is not ready for offline conversions yet (too new).
IGNORE_VISIT_JOIN_THRESHOLD = "IGNORE_VISIT_JOIN_THRESHOLD"

DEFAULT_API_URL = "https://api-metrika.yandex.net"
#: The largest file one invocation checks and splits within its time limit, with room to spare
#: (README, "Big files": measured on one vCPU). A larger file is rejected at once (`too-large`).
DEFAULT_MAX_SOURCE_BYTES = 4_000_000_000
#: A lease must outlast the invocation holding it by this share of the invocation's time limit.
LEASE_MARGIN = 0.1
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
#: What a Target that names no goal of the counter is: a warning (rows kept) or an error.
UNKNOWN_GOALS_CHOICES = tuple(UnknownGoals)


def account_token_var(account: str) -> str:
    """`METRIKA_TOKEN_<ACCOUNT>`: the name upper-cased, anything not A-Z or 0-9 made `_`."""
    return METRIKA_TOKEN_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", account).upper()


def _parse_accounts(raw: str) -> dict[str, str]:
    """METRIKA_ACCOUNTS: a JSON object of counter id (digits) to account name."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError(
            f"{METRIKA_ACCOUNTS} must be a JSON object of counter id to account"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{METRIKA_ACCOUNTS} must be a JSON object of counter id to account")
    accounts: dict[str, str] = {}
    for counter, account in data.items():
        key = str(counter).strip()
        if not (key.isdigit() and key.isascii()) or not isinstance(account, str) or not account:
            raise ConfigError(
                f"{METRIKA_ACCOUNTS}: each key is a counter id (digits) and each value an "
                f"account name, not {counter!r}: {account!r}"
            )
        accounts[str(int(key))] = account.strip()
    return accounts


def parse_bool(value: str, *, name: str) -> bool:
    """Strict: only true/false, 1/0, yes/no (any case)."""
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes"}:
        return True
    if lowered in {"0", "false", "no", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _switches_from_env(env: Mapping[str, str]) -> dict[str, bool]:
    """The true/false settings that are set."""
    switches = ((STRICT, "strict"), (IGNORE_VISIT_JOIN_THRESHOLD, "ignore_visit_join_threshold"))
    return {field: parse_bool(env[var], name=var) for var, field in switches if var in env}


def _parse_number(raw: str, name: str, kind: type[Any]) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


class Secret(str):
    """A string that never shows itself in `repr` or formatted logs of containers."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"


def _notify_from_env(env: Mapping[str, str]) -> dict[str, Secret]:
    values: dict[str, Secret] = {}
    for var, field in (
        (NOTIFY_SLACK_WEBHOOK_URL, "notify_slack_webhook_url"),
        (NOTIFY_WEBHOOK_URL, "notify_webhook_url"),
        (NOTIFY_TELEGRAM_BOT_TOKEN, "notify_telegram_bot_token"),
    ):
        if env.get(var, "").strip():
            values[field] = Secret(env[var].strip())
    return values


def _accounts_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    raw = env.get(METRIKA_ACCOUNTS, "").strip()
    if not raw:
        return {}
    accounts = _parse_accounts(raw)
    tokens: dict[str, Secret] = {}
    for account in sorted(set(accounts.values())):
        token = env.get(account_token_var(account), "").strip()
        if token:
            tokens[account] = Secret(token)
    return {"metrika_accounts": accounts, "metrika_account_tokens": tokens}


@dataclasses.dataclass(frozen=True)
class Settings:
    """What one process runs with. Build with `Settings.from_env()`."""

    metrika_token: Secret = dataclasses.field(default=Secret(""), repr=False)
    metrika_api_url: str = DEFAULT_API_URL
    input_prefix: str = "incoming/"
    work_prefix: str = "metrika-offline/"
    default_counter_id: int | None = None
    default_type: ConversionType = ConversionType.BASIC
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES
    timezone: str = "UTC"
    phone_region: str = "RU"
    date_order: str = ""  # empty: slash dates are errors
    duration_format: str = ""  # empty: two-part durations (1:35) are left empty
    on_bad_optional: str = "blank"
    chat_same_key: str = "keep-last"
    max_invalid_ratio: float = 0.5
    max_errors: int = 100  # errors listed in a report; the counts stay exact
    strict: bool = False
    lease_s: float = 600.0
    max_event_age_s: float = 24 * 3600.0
    invocation_timeout_s: float = 540.0
    max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES  # 0: no limit
    poll_give_up_s: float = 48 * 3600.0
    log_level: str = "INFO"
    bucket: str = ""
    work_bucket: str = ""  # empty: the work state lives in the input bucket (the CLI)
    upload_queue: str = ""  # projects/P/locations/L/queues/NAME-{account}
    upload_url: str = ""
    upload_invoker: str = ""  # service account e-mail for the tasks' OIDC token
    cloud_tasks_emulator_host: str = ""
    # Rows sent within this many days are not sent again (0: no ledger). Metrica links
    # conversions to visits of the last 21 days; a week more covers late re-exports.
    ledger_window_days: float = 28.0
    ledger_max_keys: int = 20_000_000  # 160 MB: older sent rows beyond it are not compared
    #: Counter id (as a string) -> account name, from METRIKA_ACCOUNTS.
    metrika_accounts: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Account name -> its token, from METRIKA_TOKEN_<ACCOUNT> (accounts without one absent).
    metrika_account_tokens: Mapping[str, Secret] = dataclasses.field(
        default_factory=dict, repr=False
    )
    notify_slack_webhook_url: Secret = dataclasses.field(default=Secret(""), repr=False)
    notify_webhook_url: Secret = dataclasses.field(default=Secret(""), repr=False)
    notify_telegram_bot_token: Secret = dataclasses.field(default=Secret(""), repr=False)
    notify_telegram_chat_id: str = ""
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    unknown_goals: str = "warning"
    quota_retry_s: float = 3600.0
    ignore_visit_join_threshold: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.max_part_bytes <= METRIKA_MAX_FILE_BYTES:
            raise ConfigError(
                f"{MAX_PART_BYTES} must be between 1 and {METRIKA_MAX_FILE_BYTES} bytes"
            )
        if not 0.0 <= self.max_invalid_ratio <= 1.0:
            raise ConfigError(f"{MAX_INVALID_RATIO} must be between 0 and 1")
        if self.max_errors < 0:
            raise ConfigError(f"{MAX_ERRORS} must not be negative")
        if self.max_source_bytes < 0:
            raise ConfigError(f"{MAX_SOURCE_BYTES} must not be negative")
        if self.work_prefix.startswith(self.input_prefix) and self.input_prefix:
            raise ConfigError(f"{WORK_PREFIX} must not lie under {INPUT_PREFIX}")
        if self.ledger_window_days < 0 or self.ledger_max_keys < 0:
            raise ConfigError(f"{LEDGER_WINDOW_DAYS} and {LEDGER_MAX_KEYS} must not be negative")
        if self.upload_queue and "{account}" not in self.upload_queue:
            raise ConfigError(f"{UPLOAD_QUEUE} must contain {{account}}: one queue per account")
        if self.unknown_goals not in UNKNOWN_GOALS_CHOICES:
            raise ConfigError(f"{UNKNOWN_GOALS} must be warning or error")
        if self.quota_retry_s <= 0:
            raise ConfigError(f"{QUOTA_RETRY_S} must be a positive number of seconds")

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret value these settings hold, for the log redactor."""
        held = (
            self.metrika_token,
            *self.metrika_account_tokens.values(),
            self.notify_slack_webhook_url,
            self.notify_webhook_url,
            self.notify_telegram_bot_token,
        )
        return tuple(secret for secret in held if secret)

    def check_lease(self) -> None:
        """ConfigError unless LEASE_S is comfortably above INVOCATION_TIMEOUT_S.

        A worker still running when its lease ends is taken over by the next delivery of
        its event, and a part it was sending could be sent twice. Checked where leases are
        taken (the worker function and `process`), not for every command.
        """
        needed = round(self.invocation_timeout_s * (1 + LEASE_MARGIN), 3)
        if self.lease_s < needed:
            raise ConfigError(
                f"{LEASE_S} ({self.lease_s:g} s) must be at least {needed:g} s, "
                f"{LEASE_MARGIN:.0%} above {INVOCATION_TIMEOUT_S} "
                f"({self.invocation_timeout_s:g} s): a worker still running when its lease "
                "ends would be taken over, and a part could be sent twice"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment; keyword arguments win over it."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if METRIKA_TOKEN in env:
            values["metrika_token"] = Secret(env[METRIKA_TOKEN].strip())
        for var, field, kind in (
            (METRIKA_API_URL, "metrika_api_url", str),
            (INPUT_PREFIX, "input_prefix", str),
            (WORK_PREFIX, "work_prefix", str),
            (TIMEZONE, "timezone", str),
            (PHONE_REGION, "phone_region", str),
            (DATE_ORDER, "date_order", str),
            (DURATION_FORMAT, "duration_format", str),
            (ON_BAD_OPTIONAL, "on_bad_optional", str),
            (CHAT_SAME_KEY, "chat_same_key", str),
            (LOG_LEVEL, "log_level", str),
            (BUCKET, "bucket", str),
            (WORK_BUCKET, "work_bucket", str),
            (UPLOAD_QUEUE, "upload_queue", str),
            (UPLOAD_URL, "upload_url", str),
            (UPLOAD_INVOKER, "upload_invoker", str),
            (CLOUD_TASKS_EMULATOR_HOST, "cloud_tasks_emulator_host", str),
            (NOTIFY_TELEGRAM_CHAT_ID, "notify_telegram_chat_id", str),
            (TELEGRAM_API_URL, "telegram_api_url", str),
            (MAX_PART_BYTES, "max_part_bytes", int),
            (MAX_SOURCE_BYTES, "max_source_bytes", int),
            (MAX_INVALID_RATIO, "max_invalid_ratio", float),
            (MAX_ERRORS, "max_errors", int),
            (LEASE_S, "lease_s", float),
            (MAX_EVENT_AGE_S, "max_event_age_s", float),
            (INVOCATION_TIMEOUT_S, "invocation_timeout_s", float),
            (POLL_GIVE_UP_S, "poll_give_up_s", float),
            (QUOTA_RETRY_S, "quota_retry_s", float),
            (LEDGER_WINDOW_DAYS, "ledger_window_days", float),
            (LEDGER_MAX_KEYS, "ledger_max_keys", int),
        ):
            raw = env.get(var, "").strip()
            if raw:
                values[field] = raw if kind is str else _parse_number(raw, var, kind)
        counter = env.get(DEFAULT_COUNTER_ID, "").strip()
        if counter:
            if not counter.isdigit():
                raise ConfigError(f"{DEFAULT_COUNTER_ID} must be digits, not {counter!r}")
            values["default_counter_id"] = int(counter)
        kind_raw = env.get(DEFAULT_TYPE, "").strip()
        if kind_raw:
            try:
                values["default_type"] = ConversionType.parse(kind_raw)
            except ValueError as exc:
                raise ConfigError(f"{DEFAULT_TYPE}: {exc}") from None
        values.update(_switches_from_env(env))
        unknown_goals = env.get(UNKNOWN_GOALS, "").strip().lower()
        if unknown_goals:
            values["unknown_goals"] = unknown_goals
        values.update(_notify_from_env(env))
        values.update(_accounts_from_env(env))
        for prefix_field in ("input_prefix", "work_prefix"):
            if (
                prefix_field in values
                and values[prefix_field]
                and not values[prefix_field].endswith("/")
            ):
                values[prefix_field] += "/"
        values.update(overrides)
        return cls(**values)
