"""The options every command that checks a file shares, defined once.

    check       --timezone --strict --max-invalid-ratio --max-part-bytes --max-errors
                --phone-region --date-order --encoding --on-bad-optional
                --settings FILE --rejects PATH
    routing     --counter --type --comment            (upload, process)
    run         --dry-run --force                     (upload, process)
    output      --json --verbose                      (every command)

A value comes from the flag, else from `--settings FILE` (a JSON object whose keys are the
flags' names, `max-part-bytes` or `max_part_bytes`; `column_map` only there), else from the
environment, else the default. `check_values` is the one place the two sources meet. Values
`Settings` has (read from the environment too) go through it, the others straight into the
`CheckOptions` (`check_overrides`): a bare check (`check_options`) and the pipeline (built
from `settings_with` and `check_overrides`) check a file the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metrika_offline.check.checker import CheckOptions
from metrika_offline.check.choices import (
    parse_date_order,
    parse_encoding,
    parse_on_bad_optional,
    parse_phone_region,
)
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.types import ConversionType

#: The check settings, as (field, flag): the flag is `--` and the field with dashes.
CHECK_FIELDS: tuple[str, ...] = (
    "timezone",
    "strict",
    "max_invalid_ratio",
    "max_part_bytes",
    "max_errors",
    "phone_region",
    "date_order",
    "encoding",
    "on_bad_optional",
    "column_map",
)
ROUTING_FIELDS: tuple[str, ...] = ("counter", "type", "comment")


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


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


def _parsed(parse: Any) -> Any:
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
        "--settings",
        metavar="FILE",
        help="a JSON file of these settings (keys as the options' names); options win over it",
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


def add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("running")
    group.add_argument("--dry-run", action="store_true", help="check and report; send nothing")
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


def load_settings_file(name: str) -> dict[str, Any]:
    """A settings file's values by field name (`max-part-bytes` and `max_part_bytes` alike)."""
    path = Path(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--settings {name}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"--settings {name}: not a JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--settings {name}: expected a JSON object of settings")
    return {str(key).strip().replace("-", "_").lower(): value for key, value in data.items()}


_FILE_TYPES: Mapping[str, Any] = {
    "timezone": str,
    "strict": bool,
    "max_invalid_ratio": (int, float),
    "max_part_bytes": int,
    "max_errors": int,
    "phone_region": str,
    "date_order": str,
    "encoding": str,
    "on_bad_optional": str,
    "column_map": dict,
    "counter": int,
    "type": str,
    "comment": str,
}


def _from_file(args: argparse.Namespace) -> dict[str, Any]:
    name = getattr(args, "settings", None)
    if not name:
        return {}
    values = load_settings_file(name)
    unknown = sorted(set(values) - set(_FILE_TYPES))
    if unknown:
        raise ConfigError(f"--settings {name}: unknown settings {', '.join(unknown)}")
    for key, value in values.items():
        wanted = _FILE_TYPES[key]
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise ConfigError(f"--settings {name}: {key} has the wrong kind of value")
    return values


def check_values(args: argparse.Namespace) -> dict[str, Any]:
    """The check settings the user gave (flags over `--settings`), by field name."""
    values = {k: v for k, v in _from_file(args).items() if k in CHECK_FIELDS}
    for field in CHECK_FIELDS:
        value = getattr(args, field, None)
        if value is not None:
            values[field] = value
    return values


def routing_values(args: argparse.Namespace) -> dict[str, str]:
    """Counter, type and comment (flags over `--settings`) as object metadata strings."""
    values = {k: v for k, v in _from_file(args).items() if k in ROUTING_FIELDS}
    for field in ROUTING_FIELDS:
        value = getattr(args, field, None)
        if value is not None:
            values[field] = value
    out: dict[str, str] = {}
    for field, value in values.items():
        out[field] = value.value if isinstance(value, ConversionType) else str(value)
    return out


def _settings_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(Settings)}


def settings_with(args: argparse.Namespace, **fixed: Any) -> Settings:
    """The environment's settings with the user's check settings (those it has) over them."""
    fields = _settings_fields()
    given = {k: v for k, v in check_values(args).items() if k in fields}
    return Settings.from_env(**given, **fixed)


def check_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The user's check settings that `Settings` does not carry, for `CheckOptions` itself."""
    fields = _settings_fields()
    return {k: v for k, v in check_values(args).items() if k not in fields}


def check_options(args: argparse.Namespace, kind: ConversionType) -> CheckOptions:
    """Options for a bare check (validate, split): as the pipeline would check the file."""
    base = CheckOptions.from_settings(settings_with(args), type=kind)
    return dataclasses.replace(base, **check_overrides(args))
