"""`metrika-offline validate` and `metrika-offline split`: the core on a local file.

    metrika-offline validate FILE --type T [--json] [--timezone Z] [--strict] [--settings JSON]
    metrika-offline split FILE --type T --out DIR [--max-part-bytes N] [--rejects PATH]

FILE may be `-` for standard input. Settings not given as options come from the environment
(TIMEZONE, STRICT, MAX_INVALID_RATIO, MAX_PART_BYTES), then the defaults.

Exit codes: 0 the file is clean (warnings and repairs allowed); 1 some rows or the whole file
were rejected; 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO

from metrika_offline.check.checker import CheckOptions, Report, check_file
from metrika_offline.check.splitter import FolderSink, PartWriter
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.flow.folder_settings import SettingsProblem, parse_settings
from metrika_offline.flow.routing import PARSERS
from metrika_offline.types import ConversionType

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `validate` and `split` to the parser."""
    validate = sub.add_parser(
        "validate",
        help="check a CSV file of conversions and report every problem",
        description="Check FILE as a CSV of offline conversions of the given type: encoding, "
        "header, every row. Safe repairs are counted as warnings; nothing is written.",
    )
    _common(validate)
    validate.add_argument(
        "--max-errors", type=_count, default=100, help="errors listed (counts stay exact)"
    )
    validate.set_defaults(handler=run_validate)

    split = sub.add_parser(
        "split",
        help="check, repair and split a CSV file into parts ready for upload",
        description="Check FILE like validate, then write its valid rows, normalized (UTF-8, "
        "canonical header, comma, LF), as DIR/part-00001.csv... of at most --max-part-bytes "
        "each, header included.",
    )
    _common(split)
    split.add_argument("--out", required=True, metavar="DIR", help="folder for the parts")
    split.add_argument(
        "--max-part-bytes", type=_positive, help="largest part, in bytes (MAX_PART_BYTES)"
    )
    split.add_argument(
        "--rejects",
        metavar="PATH",
        help="write the rejected rows here, with their line and error codes",
    )
    split.set_defaults(handler=run_split)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the CSV file, or - for standard input")
    parser.add_argument(
        "--type", type=_conversion_type, help="BASIC, CALLS or CHATS (or the settings file's)"
    )
    parser.add_argument(
        "--settings",
        metavar="JSON",
        help="a folder settings file (metrika-offline.json): type, time zone, phone region, "
        "date order, encoding, on_bad_optional, column map; options given here win over it",
    )
    parser.add_argument(
        "--timezone", help="time zone of dates written without one (TIMEZONE, default UTC)"
    )
    parser.add_argument(
        "--strict", action="store_true", default=None, help="reject the file on any bad row"
    )
    parser.add_argument(
        "--max-invalid-ratio",
        type=_ratio,
        help="reject the file when more than this share of rows is bad (default 0.5)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _conversion_type(value: str) -> ConversionType:
    try:
        return ConversionType.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(value: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, not {value!r}")
    return int(value)


def _count(value: str) -> int:
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a number, not {value!r}")
    return int(value)


def _ratio(value: str) -> float:
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, not {value!r}")
    return ratio


def _options(args: argparse.Namespace, **extra: Any) -> CheckOptions:
    overrides: dict[str, Any] = {}
    for option in ("timezone", "strict", "max_invalid_ratio", "max_part_bytes"):
        value = getattr(args, option, None)
        if value is not None:
            overrides[option] = value
    settings = Settings.from_env(**overrides)
    chosen, kind = _settings_file(args.settings) if args.settings else ({}, None)
    if "timezone" in overrides:  # given on the command line: it wins over the file
        chosen.pop("timezone", None)
    kind = args.type or kind
    if kind is None:
        raise ConfigError("no type: give --type BASIC, CALLS or CHATS (or type in --settings)")
    options = CheckOptions.from_settings(settings, type=kind)
    return dataclasses.replace(options, **chosen, **extra)


def _settings_file(name: str) -> tuple[dict[str, Any], ConversionType | None]:
    """The check choices and the type a folder settings file gives (ConfigError if bad)."""
    path = Path(name)
    if not path.is_file():
        raise ConfigError(f"no such settings file: {name}")
    try:
        folder = parse_settings(path.read_bytes(), name, PARSERS)
    except SettingsProblem as problem:
        raise ConfigError(f"bad-settings: {problem.message}") from None
    chosen: dict[str, Any] = {
        key: PARSERS[key](value) for key, value in folder.fields.items() if key in _CHOICES
    }
    if folder.column_map:
        chosen["column_map"] = dict(folder.column_map)
    kind = folder.fields.get("type")
    return chosen, ConversionType.parse(kind) if kind is not None else None


#: What a settings file may choose for `validate` and `split` (counter, comment and mode are
#: about uploading).
_CHOICES = frozenset({"timezone", "phone_region", "date_order", "encoding", "on_bad_optional"})


def _open_input(name: str) -> tuple[BinaryIO, int | None]:
    """The stream and its size when known (for the progress bar)."""
    if name == "-":
        return sys.stdin.buffer, None
    path = Path(name)
    if not path.is_file():
        raise ConfigError(f"no such file: {name}")
    return path.open("rb"), path.stat().st_size


def run_validate(args: argparse.Namespace) -> int:
    options = _options(args, max_errors=args.max_errors)
    stream, size = _open_input(args.file)
    with stream, _ProgressBar(size) as bar:
        report = check_file(stream, options, progress=bar.update)
    _print(args, report, None)
    return _exit_code(report)


def run_split(args: argparse.Namespace) -> int:
    options = _options(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {args.out} is not a folder")
    if out.is_dir() and any(out.glob("part-*.csv")):
        raise ConfigError(f"--out {args.out} already holds parts: choose an empty folder")
    open_rejects = _rejects_opener(args.rejects) if args.rejects else None
    stream, size = _open_input(args.file)
    with stream, _ProgressBar(size) as bar:
        report = check_file(
            stream, options, sink=FolderSink(out), rejects=open_rejects, progress=bar.update
        )
    _print(args, report, out)
    return _exit_code(report)


def _rejects_opener(name: str) -> Callable[[], PartWriter]:
    path = Path(name)
    if path.is_dir():
        raise ConfigError(f"--rejects {name} is a folder, not a file")

    def open_rejects() -> IO[bytes]:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("wb")

    return open_rejects


def _exit_code(report: Report) -> int:
    return EXIT_OK if report.valid and not report.rows.invalid else EXIT_REJECTED


# --- output ------------------------------------------------------------------------------------


def _print(args: argparse.Namespace, report: Report, out: Path | None) -> None:
    if args.json:
        json.dump(report.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    sys.stdout.write(describe(report, args.file, out))


def describe(report: Report, name: str, out: Path | None = None) -> str:
    """The report for a person: counts, the errors listed, warnings, the outcome."""
    delimiter = _DELIMITER_NAMES.get(report.delimiter or "", "no header")
    rows = report.rows
    lines = [
        f"{name}: {report.type.value}, {report.encoding}, {delimiter}",
        f"rows: {rows.total} total, {rows.valid} valid, {rows.invalid} invalid, "
        f"{rows.duplicates} duplicates",
    ]
    if report.errors:
        lines.append("errors:")
        for issue in report.errors:
            where = f"line {issue.line}" if issue.line is not None else "file"
            named = issue.column and not issue.message.startswith(issue.column)
            column = f" {issue.column}:" if named else ""
            lines.append(f"  {where:>11}  {issue.code}{column} {issue.message}")
        if report.errors_truncated:
            counts = ", ".join(f"{code} {n}" for code, n in sorted(report.error_counts.items()))
            lines.append(f"  (only the first {len(report.errors)} are listed; in all: {counts})")
    if report.warnings:
        lines.append("warnings:")
        for warning in report.warnings:
            where = f", first on line {warning.line}" if warning.line is not None else ""
            column = f" {warning.column}" if warning.column else ""
            lines.append(f"  {warning.code}{column} x{warning.count}{where}: {warning.message}")
    if report.rejected_reason is not None:
        reason = report.rejected_reason
        lines.append(f"rejected: {reason.code}: {reason.message}")
    elif out is not None:
        parts = ", ".join(f"{p.name} ({p.rows} rows, {p.bytes} bytes)" for p in report.parts)
        lines.append(f"written to {out}: {parts or 'no parts'}")
    else:
        lines.append("valid" if not rows.invalid else "valid, without the invalid rows")
    return "\n".join(lines) + "\n"


class _ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    WIDTH = 30
    EVERY_S = 0.2

    def __init__(self, total: int | None, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._shown = False

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *_: object) -> None:
        if self._shown:
            self.stream.write("\r" + " " * (self.WIDTH + 40) + "\r")
            self.stream.flush()

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < self.EVERY_S:
            return
        self._last = now
        megabytes = done / 1_000_000
        if self.total:
            share = min(done / self.total, 1.0)
            filled = int(share * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            text = f"[{bar}] {share:4.0%} {megabytes:,.0f} MB"
        else:
            text = f"{megabytes:,.0f} MB read"
        self.stream.write("\r" + text)
        self.stream.flush()
        self._shown = True
