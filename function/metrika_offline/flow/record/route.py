"""Where a file goes and how it is read, as the job record keeps it: the `Route` that
`source/routing.py` resolves (each value with the layer it came from), its `Mode`, and why a
file could not be routed."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from metrika_offline.check.checker import CheckOptions
from metrika_offline.check.choices import (
    ChatSameKey,
    DateOrder,
    DurationFormat,
    Encoding,
    OnBadOptional,
)
from metrika_offline.config import Settings
from metrika_offline.types import ConversionType, UnknownGoals

#: Where values come from, the first that has one winning.
PRECEDENCE = ("metadata", "folder", "path", "default")


class Mode(enum.StrEnum):
    UPLOAD = "upload"
    DRY_RUN = "dry-run"
    RESEND = "resend"  # upload, without dropping the rows the ledger says were sent


@dataclasses.dataclass(frozen=True)
class RoutingProblem:
    """Why a file cannot be routed; becomes the result's error."""

    code: str
    message: str


@dataclasses.dataclass(frozen=True)
class Route:
    counter_id: int | None
    type: ConversionType
    comment: str
    mode: Mode
    sources: Mapping[str, str]  # field -> one of PRECEDENCE
    problem: RoutingProblem | None = None
    timezone: str = "UTC"
    phone_region: str = "RU"
    date_order: DateOrder | None = None
    duration_format: DurationFormat | None = None
    encoding: Encoding = Encoding.AUTO
    on_bad_optional: OnBadOptional = OnBadOptional.BLANK
    chat_same_key: ChatSameKey = ChatSameKey.KEEP_LAST
    column_map: Mapping[str, str] = dataclasses.field(default_factory=dict)
    settings_file: str | None = None  # the folder settings object that was used
    ledger_window_days: float = 28.0  # rows sent within it are not sent again; 0 = no ledger
    unknown_goals: UnknownGoals = UnknownGoals.WARNING  # a Target naming no goal
    notify: str = "all"  # the deployment's channels told of this file: all, none, or a list
    telegram_chat_id: str | None = None  # the chat a folder's news goes to, over the default
    # Send even to a counter that is not ready yet: conversions before its threshold date do
    # not link (Metrica's `ignore_visit_join_threshold`).
    ignore_visit_join_threshold: bool = False

    def check_options(self, settings: Settings, *, now: float | None = None) -> CheckOptions:
        """The options this file is checked with: the process's settings, this route's choices
        over them (the one place they are turned into CheckOptions)."""
        options = CheckOptions.from_settings(settings, type=self.type, now=now)
        return dataclasses.replace(
            options,
            timezone=self.timezone,
            phone_region=self.phone_region,
            date_order=self.date_order,
            duration_format=self.duration_format,
            encoding=self.encoding,
            on_bad_optional=self.on_bad_optional,
            chat_same_key=self.chat_same_key,
            column_map=dict(self.column_map),
        )
