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
import posixpath
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from metrika_offline import config
from metrika_offline.check.choices import (
    DateOrder,
    DurationFormat,
    Encoding,
    parse_chat_same_key,
    parse_date_order,
    parse_duration_format,
    parse_encoding,
    parse_on_bad_optional,
    parse_phone_region,
    parse_timezone,
    zone_label,
)
from metrika_offline.check.codes import Code, message
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.flow.record.route import Mode, Route, RoutingProblem
from metrika_offline.flow.source.folder_settings import BAD_SETTINGS, FolderSettings
from metrika_offline.notify.message import ChannelName
from metrika_offline.types import ConversionType, UnknownGoals

META_COUNTER = "counter-id"
META_TYPE = "type"
META_COMMENT = "comment"
META_MODE = "mode"


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


def _unknown_goals(raw: str) -> UnknownGoals:
    try:
        return UnknownGoals(raw.strip().lower())
    except ValueError:
        raise ValueError(f"must be warning or error, got {raw!r}") from None


def _notify(raw: str) -> str:
    """`all`, `none`, or channel names separated by commas (slack, telegram, webhook)."""
    names = sorted({part.strip().lower() for part in raw.split(",") if part.strip()})
    if names in (["all"], ["none"]):
        return names[0]
    unknown = [name for name in names if name not in ChannelName.__members__.values()]
    if not names or unknown:
        channels = ", ".join(ChannelName)
        raise ValueError(f"must be all, none, or some of {channels}, got {raw!r}")
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


_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


@dataclasses.dataclass(frozen=True)
class Field(Generic[_T_co]):
    """One routed value: its name (a Route field, a settings key), its metadata key, its
    parser (raises ValueError), its default (from the settings and the file's name), what it
    takes when its value is bad (the default, unless said), and the code of a bad value in
    metadata."""

    name: str
    meta_key: str
    parse: Callable[[str], _T_co]
    default: Callable[[Settings, str], _T_co]
    bad_code: str = BAD_SETTINGS
    if_bad: Callable[[Settings, str], _T_co] | None = None


def _from_env(parse: Callable[[str], _T], raw: str, variable: str) -> _T:
    """A default from the environment, parsed: a bad one is the deployment's error, not the
    file's (ConfigError naming the variable)."""
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{variable}: {exc}") from None


def _unset_or(parse: Callable[[str], _T], raw: str, variable: str) -> _T | None:
    """A default from the environment that may be unset (empty: None)."""
    return _from_env(parse, raw, variable) if raw else None


COUNTER: Field[int | None] = Field(
    "counter_id", META_COUNTER, _counter, lambda s, _: s.default_counter_id, Code.BAD_COUNTER_ID,
    if_bad=lambda _s, _n: None,
)  # fmt: skip
TYPE = Field("type", META_TYPE, ConversionType.parse, lambda s, _: s.default_type, Code.BAD_TYPE)
COMMENT = Field("comment", META_COMMENT, str.strip, lambda _, name: default_comment(name))
MODE = Field("mode", META_MODE, _mode, lambda _s, _n: Mode.UPLOAD, Code.BAD_MODE)
TIMEZONE = Field("timezone", "timezone", _timezone, lambda s, _: zone_label(s.timezone))
PHONE_REGION = Field(
    "phone_region", "phone-region", parse_phone_region, lambda s, _: s.phone_region
)
DATE_ORDER: Field[DateOrder | None] = Field(
    "date_order", "date-order", parse_date_order,
    lambda s, _: _unset_or(parse_date_order, s.date_order, config.DATE_ORDER),
)  # fmt: skip
DURATION_FORMAT: Field[DurationFormat | None] = Field(
    "duration_format", "duration-format", parse_duration_format,
    lambda s, _: _unset_or(parse_duration_format, s.duration_format, config.DURATION_FORMAT),
)  # fmt: skip
ENCODING = Field("encoding", "encoding", parse_encoding, lambda _s, _n: Encoding.AUTO)
ON_BAD_OPTIONAL = Field(
    "on_bad_optional", "on-bad-optional", parse_on_bad_optional,
    lambda s, _: _from_env(parse_on_bad_optional, s.on_bad_optional, config.ON_BAD_OPTIONAL),
)  # fmt: skip
CHAT_SAME_KEY = Field(
    "chat_same_key", "chat-same-key", parse_chat_same_key,
    lambda s, _: _from_env(parse_chat_same_key, s.chat_same_key, config.CHAT_SAME_KEY),
)  # fmt: skip
LEDGER_WINDOW_DAYS = Field(
    "ledger_window_days", "ledger-window-days", _window_days, lambda s, _: s.ledger_window_days
)
UNKNOWN_GOALS = Field(
    "unknown_goals", "unknown-goals", _unknown_goals,
    lambda s, _: _from_env(_unknown_goals, s.unknown_goals, config.UNKNOWN_GOALS),
)  # fmt: skip
NOTIFY = Field("notify", "notify", _notify, lambda _s, _n: "all")
TELEGRAM_CHAT_ID: Field[str | None] = Field(
    "telegram_chat_id", "telegram-chat-id", _chat_id,
    lambda s, _: s.notify_telegram_chat_id or None,
)  # fmt: skip
IGNORE_VISIT_JOIN_THRESHOLD = Field(
    "ignore_visit_join_threshold", "ignore-visit-join-threshold", _switch,
    lambda s, _: s.ignore_visit_join_threshold,
)  # fmt: skip

FIELDS: tuple[Field[object], ...] = (
    COUNTER,
    TYPE,
    COMMENT,
    MODE,
    TIMEZONE,
    PHONE_REGION,
    DATE_ORDER,
    DURATION_FORMAT,
    ENCODING,
    ON_BAD_OPTIONAL,
    CHAT_SAME_KEY,
    LEDGER_WINDOW_DAYS,
    UNKNOWN_GOALS,
    NOTIFY,
    TELEGRAM_CHAT_ID,
    IGNORE_VISIT_JOIN_THRESHOLD,
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


class _Resolver:
    """Each field's value from the first layer that has it (else its default), where it came
    from, and the first bad value's problem (that field then takes its value for a bad one)."""

    def __init__(self, layers: list[_Layer], settings: Settings, name: str) -> None:
        self._layers = layers
        self._settings = settings
        self._name = name
        self.sources: dict[str, str] = {}
        self.problem: RoutingProblem | None = None

    def pick(self, field: Field[_T]) -> _T:
        layer = next((layer for layer in self._layers if field.name in layer.raw), None)
        if layer is None:
            self.sources[field.name] = "default"
            return field.default(self._settings, self._name)
        self.sources[field.name] = layer.source
        try:
            return field.parse(layer.raw[field.name])
        except ValueError as exc:
            code = field.bad_code if layer.source == "metadata" else BAD_SETTINGS
            key = field.meta_key if layer.source == "metadata" else field.name
            self.problem = self.problem or RoutingProblem(code, f"{layer.label} {key}: {exc}")
            return (field.if_bad or field.default)(self._settings, self._name)


NO_COUNTER_HINT = (
    "set metadata counter-id, counter_id in the folder's metrika-offline.json, put the file "
    "under a folder named by the counter id (incoming/51234567/…), or set DEFAULT_COUNTER_ID"
)


def _no_counter(counter: int | None, mode: Mode, hint: str) -> RoutingProblem | None:
    if counter is None and mode is not Mode.DRY_RUN:
        return RoutingProblem(Code.NO_COUNTER, message(Code.NO_COUNTER, hint=hint))
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
    file (or why it could not be used). A problem of the file's is returned in
    `Route.problem`; a bad choice in the environment raises ConfigError. `no_counter_hint`
    says how to give a counter where the bucket's ways do not apply (a local file)."""
    settings_problem = folder if isinstance(folder, RoutingProblem) else None
    found = folder if isinstance(folder, FolderSettings) else None
    layers = [
        _from_metadata(metadata),
        _from_folder(found),
        _from_path(name, settings.input_prefix),
    ]
    r = _Resolver(layers, settings, name)
    counter_id, mode = r.pick(COUNTER), r.pick(MODE)
    routed = Route(
        counter_id=counter_id,
        type=r.pick(TYPE),
        comment=r.pick(COMMENT),
        mode=mode,
        sources=r.sources,
        timezone=r.pick(TIMEZONE),
        phone_region=r.pick(PHONE_REGION),
        date_order=r.pick(DATE_ORDER),
        duration_format=r.pick(DURATION_FORMAT),
        encoding=r.pick(ENCODING),
        on_bad_optional=r.pick(ON_BAD_OPTIONAL),
        chat_same_key=r.pick(CHAT_SAME_KEY),
        column_map=dict(found.column_map) if found is not None else {},
        settings_file=found.name if found is not None else None,
        ledger_window_days=r.pick(LEDGER_WINDOW_DAYS),
        unknown_goals=r.pick(UNKNOWN_GOALS),
        notify=r.pick(NOTIFY),
        telegram_chat_id=r.pick(TELEGRAM_CHAT_ID),
        ignore_visit_join_threshold=r.pick(IGNORE_VISIT_JOIN_THRESHOLD),
    )
    if routed.column_map:
        r.sources["column_map"] = "folder"
    problem = settings_problem or r.problem or _no_counter(counter_id, mode, no_counter_hint)
    return dataclasses.replace(routed, sources=dict(r.sources), problem=problem)
