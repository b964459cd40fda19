"""`metrika-offline validate` and `metrika-offline split`: the core on a local file.

    metrika-offline validate FILE --type T [check options] [--json]
    metrika-offline split FILE --type T --out DIR [check options] [--json]

FILE may be `-` for standard input. The check options are every checking command's
(`options.py`); settings not given come from `--settings FILE`, the environment, the defaults.

Exit codes: 0 the file is clean (warnings and repairs allowed); 1 some rows or the whole file
were rejected; 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from metrika_offline.check.checker import Report, check_file
from metrika_offline.check.report import PART_GLOB
from metrika_offline.check.splitter import FolderSink, PartWriter
from metrika_offline.cli import options
from metrika_offline.cli.display import Display
from metrika_offline.errors import ConfigError

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `validate` and `split` to the parser."""
    validate = sub.add_parser(
        "validate",
        help="check a CSV file of conversions and report every problem",
        description="Check FILE as a CSV of offline conversions of the given type: encoding, "
        "header, every row. Safe repairs are counted as warnings; nothing is written but the "
        "rejected rows, with --rejects.",
    )
    _common(validate)
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
    split.set_defaults(handler=run_split)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the CSV file, or - for standard input")
    parser.add_argument(
        "--type", type=options.conversion_type, help="BASIC, CALLS or CHATS (or --settings' type)"
    )
    options.add_check_options(parser)
    options.add_output_options(parser)


def _open_input(name: str) -> tuple[BinaryIO, int | None]:
    """The stream and its size when known (for the progress bar)."""
    if name == "-":
        return sys.stdin.buffer, None
    path = Path(name)
    if not path.is_file():
        raise ConfigError(f"no such file: {name}")
    return path.open("rb"), path.stat().st_size


def run_validate(args: argparse.Namespace) -> int:
    return _run(args, None)


def run_split(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {args.out} is not a folder")
    if out.is_dir() and any(out.glob(PART_GLOB)):
        raise ConfigError(f"--out {args.out} already holds parts: choose an empty folder")
    return _run(args, out)


def _run(args: argparse.Namespace, out: Path | None) -> int:
    check = options.check_options(args)
    display: Display = args.display
    open_rejects = _rejects_opener(args.rejects) if args.rejects else None
    stream, size = _open_input(args.file)
    meter = display.phase("checking" if out is None else "checking and splitting", size)
    try:
        with stream:
            report = check_file(
                stream,
                check,
                sink=FolderSink(out) if out is not None else None,
                rejects=open_rejects,
                progress=meter.update,
                on_rows=lambda rows: meter.update(rows=rows),
            )
    finally:
        meter.close()
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
