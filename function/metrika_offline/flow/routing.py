"""Where a dropped file goes and how it is read: counter, type, comment, mode, and the file's
own choices (time zone, phone region, date order, duration format, encoding, what to do with a
bad optional value, a column map).

Each value comes from the first source that has it, in the order of `PRECEDENCE`: the
object's custom metadata (`counter-id`, `type`, `timezone`, …), the nearest folder settings
file (`metrika-offline.json`, see `folder_settings.py`), the path below the input prefix (an
all-digit folder is the counter id; a folder named basic, calls or chats, any case, is the
type), then the defaults (the environment). `FIELDS` lists every value with its metadata key
and its parser; `route` runs its named steps over them. Each value remembers where it came
from (`Route.sources`), so the result JSON tells a user why their file went where it went.
"""

from __future__ import annotations

import dataclasses
import enum
import posixpath
from collections.abc import Callable, Mapping
from typing import Any, cast

from metrika_offline.check.choices import (
    parse_chat_same_key,
    parse_date_order,
    parse_duration_format,
    parse_encoding,
    parse_on_bad_optional,
    parse_phone_region,
    parse_timezone,
    zone_label,
)
from metrika_offline.config import UNKNOWN_GOALS_CHOICES, Settings
from metrika_offline.flow.folder_settings import BAD_SETTINGS, FolderSettings
from metrika_offline.types import ConversionType

META_COUNTER = "counter-id"
META_TYPE = "type"
META_COMMENT = "comment"
#: The channels a file's `notify` may name.
NOTIFY_CHANNELS = ("slack", "telegram", "webhook")
META_MODE = "mode"

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
    date_order: str | None = None
    duration_format: str | None = None
    encoding: str = "auto"
    on_bad_optional: str = "blank"
    chat_same_key: str = "keep-last"
    column_map: Mapping[str, str] = dataclasses.field(default_factory=dict)
    settings_file: str | None = None  # the folder settings object that was used
    ledger_window_days: float = 28.0  # rows sent within it are not sent again; 0 = no ledger
    unknown_goals: str = "warning"  # a Target naming no goal: "warning" or "error"
    notify: str = "all"  # the deployment's channels told of this file: all, none, or a list
    telegram_chat_id: str | None = None  # the chat a folder's news goes to, over the default
    # Send even to a counter that is not ready yet: conversions before its threshold date do
    # not link (Metrica's `ignore_visit_join_threshold`).
    ignore_visit_join_threshold: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "counter_id": self.counter_id,
            "type": self.type.value,
            "comment": self.comment,
            "mode": self.mode.value,
            **self.check_choices(),
            "settings_file": self.settings_file,
            "ledger_window_days": self.ledger_window_days,
            "unknown_goals": self.unknown_goals,
            "notify": self.notify,
            "telegram_chat_id": self.telegram_chat_id,
            "ignore_visit_join_threshold": self.ignore_visit_join_threshold,
            "sources": dict(self.sources),
        }

    def check_choices(self) -> dict[str, Any]:
        """The CheckOptions fields this route decides."""
        return {
            "timezone": self.timezone,
            "phone_region": self.phone_region,
            "date_order": self.date_order,
            "duration_format": self.duration_format,
            "encoding": self.encoding,
            "on_bad_optional": self.on_bad_optional,
            "chat_same_key": self.chat_same_key,
            "column_map": dict(self.column_map),
        }


def _counter(raw: str) -> int:
    text = raw.strip()
    if not (text.isdigit() and text.isascii()):
        raise ValueError(f"must be digits, got {raw!r}")
    return int(text)


def _mode(raw: str) -> Mode:
    try:
        return Mode(raw.strip().lower())
    except ValueError:
        raise ValueError(f"must be one of {', '.join(m.value for m in Mode)}") from None


def _window_days(raw: str) -> float:
    try:
        days = float(raw.strip())
    except ValueError:
        raise ValueError(f"must be a number of days, got {raw!r}") from None
    if not 0 <= days <= 3650:
        raise ValueError(f"must be between 0 (no ledger) and 3650 days, got {raw!r}")
    return days


def _unknown_goals(raw: str) -> str:
    value = raw.strip().lower()
    if value not in UNKNOWN_GOALS_CHOICES:
        raise ValueError(f"must be warning or error, got {raw!r}")
    return value


def _notify(raw: str) -> str:
    """`all`, `none`, or channel names separated by commas (slack, telegram, webhook)."""
    names = sorted({part.strip().lower() for part in raw.split(",") if part.strip()})
    if names in (["all"], ["none"]):
        return names[0]
    unknown = [name for name in names if name not in NOTIFY_CHANNELS]
    if not names or unknown:
        raise ValueError(f"must be all, none, or some of {', '.join(NOTIFY_CHANNELS)}, got {raw!r}")
    return ",".join(names)


def _chat_id(raw: str) -> str:
    value = raw.strip()
    if not value.lstrip("-").isdigit() and not value.startswith("@"):
        raise ValueError(
            f"must be a Telegram chat id (digits, maybe a minus) or @channel, got {raw!r}"
        )
    return value


def _switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def _timezone(raw: str) -> str:
    parse_timezone(raw)
    return zone_label(raw)


@dataclasses.dataclass(frozen=True)
class Field:
    """One routed value: its name (a Route field, a settings key), its metadata key, its
    parser (raises ValueError), and the code of a bad value in metadata."""

    name: str
    meta_key: str
    parse: Callable[[str], object]
    bad_code: str = BAD_SETTINGS


FIELDS: tuple[Field, ...] = (
    Field("counter_id", META_COUNTER, _counter, "bad-counter-id"),
    Field("type", META_TYPE, ConversionType.parse, "bad-type"),
    Field("comment", META_COMMENT, str.strip),
    Field("mode", META_MODE, _mode, "bad-mode"),
    Field("timezone", "timezone", _timezone),
    Field("phone_region", "phone-region", parse_phone_region),
    Field("date_order", "date-order", lambda raw: parse_date_order(raw).value),
    Field("duration_format", "duration-format", lambda raw: parse_duration_format(raw).value),
    Field("encoding", "encoding", lambda raw: parse_encoding(raw).value),
    Field("on_bad_optional", "on-bad-optional", lambda raw: parse_on_bad_optional(raw).value),
    Field("chat_same_key", "chat-same-key", lambda raw: parse_chat_same_key(raw).value),
    Field("ledger_window_days", "ledger-window-days", _window_days),
    Field("unknown_goals", "unknown-goals", _unknown_goals),
    Field("notify", "notify", _notify),
    Field("telegram_chat_id", "telegram-chat-id", _chat_id),
    Field("ignore_visit_join_threshold", "ignore-visit-join-threshold", _switch),
)

#: The parser of every field, by its settings key (what folder settings are checked with).
PARSERS: Mapping[str, Callable[[str], object]] = {f.name: f.parse for f in FIELDS}


@dataclasses.dataclass(frozen=True)
class _Layer:
    """The raw values one source offers, by field name."""

    source: str
    raw: Mapping[str, str]
    label: str  # how a message names this source


def default_comment(name: str) -> str:
    """The file's base name without extension: how a person finds the upload in Metrica."""
    stem, _ = posixpath.splitext(posixpath.basename(name))
    return stem


# --- the steps, one per source ------------------------------------------------------------------


def _from_metadata(metadata: Mapping[str, str]) -> _Layer:
    meta = {key.strip().lower(): value.strip() for key, value in metadata.items()}
    raw = {}
    for field in FIELDS:
        value = meta.get(field.meta_key)
        # An empty comment is a choice; an empty anything else is no value.
        if value is not None and (value or field.name == "comment"):
            raw[field.name] = value
    return _Layer("metadata", raw, "metadata")


def _from_folder(folder: FolderSettings | None) -> _Layer:
    if folder is None:
        return _Layer("folder", {}, "folder settings")
    return _Layer("folder", dict(folder.fields), folder.name)


def _from_path(name: str, input_prefix: str) -> _Layer:
    relative = name[len(input_prefix) :] if name.startswith(input_prefix) else name
    raw: dict[str, str] = {}
    for folder in relative.split("/")[:-1]:
        if folder.isdigit() and folder.isascii() and "counter_id" not in raw:
            raw["counter_id"] = folder
        elif "type" not in raw and folder.upper() in ConversionType.__members__:
            raw["type"] = folder
    return _Layer("path", raw, "path")


def _defaults(name: str, settings: Settings) -> dict[str, object]:
    return {
        "counter_id": settings.default_counter_id,
        "type": settings.default_type,
        "comment": default_comment(name),
        "mode": Mode.UPLOAD,
        "timezone": zone_label(settings.timezone),
        "phone_region": settings.phone_region,
        "date_order": settings.date_order or None,
        "duration_format": settings.duration_format or None,
        "encoding": "auto",
        "on_bad_optional": settings.on_bad_optional,
        "chat_same_key": settings.chat_same_key,
        "ledger_window_days": settings.ledger_window_days,
        "unknown_goals": settings.unknown_goals,
        "notify": "all",
        "telegram_chat_id": settings.notify_telegram_chat_id or None,
        "ignore_visit_join_threshold": settings.ignore_visit_join_threshold,
    }


def _resolve(
    layers: list[_Layer], defaults: Mapping[str, object]
) -> tuple[dict[str, object], dict[str, str], RoutingProblem | None]:
    """Each field's value from the first layer that has it (else the default), where it came
    from, and the first bad value's problem (that field then takes no value)."""
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    problem: RoutingProblem | None = None
    for field in FIELDS:
        layer = next((layer for layer in layers if field.name in layer.raw), None)
        if layer is None:
            values[field.name], sources[field.name] = defaults[field.name], "default"
            continue
        sources[field.name] = layer.source
        try:
            values[field.name] = field.parse(layer.raw[field.name])
        except ValueError as exc:
            values[field.name] = None if field.name == "counter_id" else defaults[field.name]
            code = field.bad_code if layer.source == "metadata" else BAD_SETTINGS
            key = field.meta_key if layer.source == "metadata" else field.name
            problem = problem or RoutingProblem(code, f"{layer.label} {key}: {exc}")
    return values, sources, problem


NO_COUNTER_HINT = (
    "set metadata counter-id, counter_id in the folder's metrika-offline.json, put the file "
    "under a folder named by the counter id (incoming/51234567/…), or set DEFAULT_COUNTER_ID"
)


def _no_counter(counter: object, mode: object, hint: str) -> RoutingProblem | None:
    if counter is None and mode is not Mode.DRY_RUN:
        return RoutingProblem("no-counter", f"no counter id: {hint}")
    return None


def route(
    name: str,
    metadata: Mapping[str, str],
    settings: Settings,
    folder: FolderSettings | RoutingProblem | None = None,
    *,
    no_counter_hint: str = NO_COUNTER_HINT,
) -> Route:
    """Work out where `name` goes and how it is read. `folder` is the nearest folder settings
    file (or why it could not be used). Never raises: a problem is returned in
    `Route.problem`. `no_counter_hint` says how to give a counter where the bucket's ways do
    not apply (a local file)."""
    settings_problem = folder if isinstance(folder, RoutingProblem) else None
    found = folder if isinstance(folder, FolderSettings) else None
    layers = [
        _from_metadata(metadata),
        _from_folder(found),
        _from_path(name, settings.input_prefix),
    ]
    values, sources, problem = _resolve(layers, _defaults(name, settings))
    problem = (
        settings_problem
        or problem
        or _no_counter(values["counter_id"], values["mode"], no_counter_hint)
    )
    column_map: Mapping[str, str] = found.column_map if found is not None else {}
    if column_map:
        sources["column_map"] = "folder"
    return Route(
        counter_id=cast(int | None, values["counter_id"]),
        type=cast(ConversionType, values["type"]),
        comment=cast(str, values["comment"]),
        mode=cast(Mode, values["mode"]),
        sources=sources,
        problem=problem,
        timezone=cast(str, values["timezone"]),
        phone_region=cast(str, values["phone_region"]),
        date_order=cast(str | None, values["date_order"]),
        duration_format=cast(str | None, values["duration_format"]),
        encoding=cast(str, values["encoding"]),
        on_bad_optional=cast(str, values["on_bad_optional"]),
        chat_same_key=cast(str, values["chat_same_key"]),
        column_map=dict(column_map),
        settings_file=found.name if found is not None else None,
        ledger_window_days=cast(float, values["ledger_window_days"]),
        unknown_goals=cast(str, values["unknown_goals"]),
        notify=cast(str, values["notify"]),
        telegram_chat_id=cast(str | None, values["telegram_chat_id"]),
        ignore_visit_join_threshold=cast(bool, values["ignore_visit_join_threshold"]),
    )
