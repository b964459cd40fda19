"""The options every command that checks a file shares, defined once.

    check       --timezone --phone-region --date-order --duration-format --encoding
                --on-bad-optional
                --strict --max-invalid-ratio --max-part-bytes --max-errors
                --settings FILE --rejects PATH
    routing     --counter --type --comment --ignore-visit-join-threshold   (upload, process)
    run         --dry-run --resend --force            (upload, process)
    output      --json --verbose                      (every command)

A value comes from the flag, else from `--settings FILE` (a folder settings file,
`metrika-offline.json`: see docs/folder-settings.md), else from the environment, else the
default: the same order the function uses, because the flags for routing and the file's
choices (`--counter`, `--type`, `--comment`, `--timezone`, `--phone-region`, `--date-order`,
`--duration-format`, `--encoding`, `--on-bad-optional`) become the object's custom metadata
(`flag_metadata`), which wins over folder settings. The limits (`--strict`,
`--max-invalid-ratio`, `--max-part-bytes`, `--max-errors`) are the process's `Settings`
(`settings_with`). Both are part of a job's identity (`flow/source/claim.py`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metrika_offline.check.checker import CheckOptions
from metrika_offline.check.choices import (
    parse_chat_same_key,
    parse_date_order,
    parse_duration_format,
    parse_encoding,
    parse_on_bad_optional,
    parse_phone_region,
)
from metrika_offline.check.codes import Code
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.flow.source.folder_settings import (
    FolderSettings,
    SettingsProblem,
    parse_settings,
)
from metrika_offline.flow.source.routing import FIELDS, PARSERS, route
from metrika_offline.types import ConversionType

# --- argument types ----------------------------------------------------------------------------


def conversion_type(value: str) -> ConversionType:
    try:
        return ConversionType.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def counter_id(value: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"a counter id is a positive number, not {value!r}")
    return int(value)


def positive(value: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, not {value!r}")
    return int(value)


def count(value: str) -> int:
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a number, not {value!r}")
    return int(value)


def ratio(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, not {value!r}")
    return number


def _parsed(parse: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse type from one of the checker's own parsers (the value stays as written)."""

    def check(value: str) -> str:
        try:
            return str(parse(value))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return check


# --- the groups --------------------------------------------------------------------------------


def add_check_options(parser: argparse.ArgumentParser) -> None:
    """The check settings, `--settings`, `--rejects`: on every command that checks a file."""
    group = parser.add_argument_group("checking")
    group.add_argument(
        "--timezone", help="time zone of dates written without one (TIMEZONE, default UTC)"
    )
    group.add_argument(
        "--strict", action="store_true", default=None, help="reject the file on any bad row"
    )
    group.add_argument(
        "--max-invalid-ratio",
        type=ratio,
        help="reject the file when more than this share of rows is bad (default 0.5)",
    )
    group.add_argument(
        "--max-part-bytes", type=positive, help="largest part, in bytes (MAX_PART_BYTES)"
    )
    group.add_argument(
        "--max-errors", type=count, help="errors listed, the counts stay exact (default 100)"
    )
    group.add_argument(
        "--phone-region",
        type=_parsed(parse_phone_region),
        help="country of phone numbers written without a country code (default RU)",
    )
    group.add_argument(
        "--date-order",
        type=_parsed(parse_date_order),
        help="how dates like 01/11/2026 are read: DMY (1 November) or MDY (default: an error)",
    )
    group.add_argument(
        "--duration-format",
        type=_parsed(parse_duration_format),
        help="what a duration like 1:35 means: ms (95 seconds) or hms (1 h 35 min) "
        "(default: left empty)",
    )
    group.add_argument(
        "--encoding",
        type=_parsed(parse_encoding),
        help="auto (default: UTF-8, else Windows-1251 by validity), utf-8 or windows-1251",
    )
    group.add_argument(
        "--on-bad-optional",
        type=_parsed(parse_on_bad_optional),
        help="an invalid optional value: blank (default: sent empty) or drop-row",
    )
    group.add_argument(
        "--chat-same-key",
        type=_parsed(parse_chat_same_key),
        help="CHATS rows of one file with the same chat key and other values: keep-last "
        "(default: the later row is sent) or keep-first",
    )
    group.add_argument(
        "--settings",
        metavar="FILE",
        help="a folder settings file (metrika-offline.json: counter_id, type, comment, timezone, "
        "phone_region, date_order, duration_format, encoding, on_bad_optional, chat_same_key, "
        "column_map); "
        "options win over it",
    )
    group.add_argument(
        "--rejects", metavar="PATH", help="write the rejected rows here, with line and codes"
    )


def add_routing_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_argument_group("where it goes")
    group.add_argument("--counter", type=counter_id, required=required, help="Metrica counter id")
    group.add_argument(
        "--type", type=conversion_type, required=required, help="BASIC, CALLS or CHATS"
    )
    group.add_argument(
        "--comment",
        help="comment for the uploads (kept to digits, Latin and Cyrillic letters and spaces; "
        "a marker that identifies each part is appended; default: the file's name)",
    )
    group.add_argument(
        "--ignore-visit-join-threshold",
        action="store_true",
        default=None,
        help="send to a counter that does not take offline conversions yet (a new one) now "
        "instead of waiting for the date Metrica names: conversions before that date do not "
        "link (IGNORE_VISIT_JOIN_THRESHOLD, metadata ignore-visit-join-threshold)",
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("running")
    group.add_argument("--dry-run", action="store_true", help="check and report; send nothing")
    group.add_argument(
        "--resend",
        action="store_true",
        help="send rows again that the ledger says were sent before (metadata mode=resend)",
    )
    group.add_argument(
        "--force",
        action="store_true",
        help="start over even if this file was done with these settings (parts Metrica "
        "already has are found by their marker, not sent again)",
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="print machine-readable JSON")
    group.add_argument(
        "--verbose", action="store_true", help="also print the log lines (JSON) on stderr"
    )


# --- values ------------------------------------------------------------------------------------

#: The file's own choices (a `Route`'s check choices): flags for them act as object metadata,
#: so they win over a settings file as metadata does.
CHOICE_FIELDS: tuple[str, ...] = (
    "timezone",
    "phone_region",
    "date_order",
    "duration_format",
    "encoding",
    "on_bad_optional",
    "chat_same_key",
)
#: The process's own limits (`Settings` fields, also read from the environment).
LIMIT_FIELDS: tuple[str, ...] = ("strict", "max_invalid_ratio", "max_part_bytes", "max_errors")
_META_KEYS = {field.name: field.meta_key for field in FIELDS}
_FLAG_FIELDS = {
    "counter": "counter_id",
    "type": "type",
    "comment": "comment",
    "ignore_visit_join_threshold": "ignore_visit_join_threshold",
}


def settings_file(args: argparse.Namespace) -> FolderSettings | None:
    """`--settings FILE`: a folder settings file (metrika-offline.json), checked whole."""
    name = getattr(args, "settings", None)
    if not name:
        return None
    path = Path(name)
    if not path.is_file():
        raise ConfigError(f"--settings {name}: no such file")
    try:
        return parse_settings(path.read_bytes(), name, PARSERS)
    except SettingsProblem as problem:
        raise ConfigError(f"bad-settings: {problem.message}") from None


def flag_metadata(args: argparse.Namespace) -> dict[str, str]:
    """The routing and choice flags given, as the object custom metadata they stand for."""
    given: dict[str, object] = {
        field: getattr(args, flag) for flag, field in _FLAG_FIELDS.items() if hasattr(args, flag)
    }
    given |= {field: getattr(args, field, None) for field in CHOICE_FIELDS}
    return {
        _META_KEYS[field]: value.value if isinstance(value, ConversionType) else str(value)
        for field, value in given.items()
        if value is not None
    }


def settings_with(args: argparse.Namespace, **fixed: Any) -> Settings:
    """The environment's settings with the user's limits (`--strict`…) over them."""
    given = {field: getattr(args, field) for field in LIMIT_FIELDS if hasattr(args, field)}
    return Settings.from_env(**{k: v for k, v in given.items() if v is not None}, **fixed)


def check_options(args: argparse.Namespace) -> CheckOptions:
    """Options for a bare check (validate, split), decided as the pipeline decides them:
    flags over `--settings` over the environment."""
    folder = settings_file(args)
    routed = route("-", flag_metadata(args), settings_with(args), folder)
    if routed.problem is not None and routed.problem.code != Code.NO_COUNTER:
        raise ConfigError(f"{routed.problem.code}: {routed.problem.message}")
    if args.type is None and routed.sources.get("type") != "folder":
        raise ConfigError("no type: give --type BASIC, CALLS or CHATS (or type in --settings)")
    return routed.check_options(settings_with(args))
