"""`metrika-offline upload` and `metrika-offline status`: a local file to Metrica, and back.

`upload` checks and splits the file with the core (parts go to a temporary folder, deleted
afterwards), then uploads each part with its own marker in the comment. A part Metrica
refuses does not stop the others; a bad token, or Metrica out of reach after every retry,
stops the rest (they would fail the same way).

Exit codes: 0 every part uploaded; 1 the file was rejected or a part was not uploaded;
2 usage or configuration (no token, unreadable file, a token Metrica refuses).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.report import PartInfo
from metrika_offline.check.splitter import FolderSink
from metrika_offline.cli.process import run_file_status
from metrika_offline.config import Settings
from metrika_offline.errors import (
    ConfigError,
    MetrikaAuthError,
    MetrikaError,
    MetrikaRejectedError,
    MetrikaRetryableError,
)
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.metrika.models import Uploading
from metrika_offline.types import ConversionType

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Stands in for the bucket in a local file's markers.
LOCAL_MARKER_SCOPE = "local"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `upload` and `status` to the parser."""
    upload = sub.add_parser(
        "upload",
        help="check, split and upload a local CSV file to Metrica",
        description="Check and split FILE with the same rules as the function, then upload "
        "each part to Metrica (METRIKA_TOKEN, METRIKA_API_URL) and print the uploads.",
    )
    upload.add_argument("file", metavar="FILE", help="the CSV file")
    upload.add_argument("--counter", required=True, type=_counter_id, help="Metrica counter id")
    upload.add_argument(
        "--type", required=True, type=_conversion_type, help="BASIC, CALLS or CHATS"
    )
    upload.add_argument(
        "--comment",
        default="",
        help="comment for the uploads (kept to digits, Latin and Cyrillic letters and spaces; "
        "a marker that identifies each part is appended)",
    )
    upload.add_argument("--timezone", help="time zone of dates given without one (TIMEZONE)")
    upload.add_argument(
        "--max-part-bytes", type=_positive_int, help="largest part (MAX_PART_BYTES)"
    )
    upload.add_argument("--json", action="store_true", help="print JSON")
    upload.set_defaults(handler=run_upload)

    status = sub.add_parser(
        "status",
        help="print the status of one upload, or of a dropped file",
        description="Print Metrica's status and counters for one upload (ID --counter N), or "
        "a file's result (FILE or gs://BUCKET/OBJECT), asking Metrica again with --refresh.",
    )
    status.add_argument(
        "target", metavar="ID|FILE", help="an upload's id, a local CSV or gs://BUCKET/OBJECT"
    )
    status.add_argument("--counter", type=_counter_id, help="Metrica counter id (with an ID)")
    status.add_argument(
        "--refresh", action="store_true", help="ask Metrica now and update the file's result"
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=run_status)


# --- argument types ----------------------------------------------------------------------------


def _counter_id(value: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"a counter id is a positive number, not {value!r}")
    return int(value)


def _positive_int(value: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, not {value!r}")
    return int(value)


def _conversion_type(value: str) -> ConversionType:
    try:
        return ConversionType.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- upload ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PartOutcome:
    """One part and what Metrica made of it (an uploading, an error, or not sent)."""

    info: PartInfo
    marker: str
    comment: str
    uploading: Uploading | None = None
    error: MetrikaError | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.info.index,
            "name": self.info.name,
            "rows": self.info.rows,
            "bytes": self.info.bytes,
            "marker": self.marker,
            "comment": self.comment,
            "uploading": None if self.uploading is None else self.uploading.to_json(),
            "error": None if self.error is None else _error_json(self.error),
        }


def _error_json(error: MetrikaError) -> dict[str, Any]:
    return {
        "class": type(error).__name__,
        "http_status": error.status,
        "error_type": error.error_type,
        "message": str(error),
    }


def run_upload(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.timezone:
        overrides["timezone"] = args.timezone
    if args.max_part_bytes:
        overrides["max_part_bytes"] = args.max_part_bytes
    settings = Settings.from_env(**overrides)
    path = Path(args.file)
    if not path.is_file():
        raise ConfigError(f"no such file: {args.file}")
    kind: ConversionType = args.type
    # Built before the check so that a missing token fails fast, not after a gigabyte.
    with (
        MetrikaClient.from_settings(settings) as client,
        tempfile.TemporaryDirectory(prefix="metrika-offline-parts-") as folder,
    ):
        options = CheckOptions.from_settings(settings, type=kind)
        with path.open("rb") as stream:
            report = check_file(stream, options, sink=FolderSink(Path(folder)))
        check = report.to_json()
        if not report.valid:
            _print_upload(args, path, check, [], "rejected")
            return EXIT_FAILED
        outcomes = _upload_parts(args, client, path, Path(folder), list(report.parts))
    status = _overall(outcomes)
    _print_upload(args, path, check, outcomes, status)
    if any(isinstance(o.error, MetrikaAuthError) for o in outcomes):
        return EXIT_USAGE
    return EXIT_OK if status == "uploaded" else EXIT_FAILED


def _upload_parts(
    args: argparse.Namespace,
    client: MetrikaClient,
    path: Path,
    folder: Path,
    parts: list[PartInfo],
) -> list[PartOutcome]:
    # The source's modification time stands in for a generation: an edited file gets new
    # markers, a retried one keeps them.
    generation = path.stat().st_mtime_ns
    outcomes: list[PartOutcome] = []
    stop: MetrikaError | None = None
    for number, info in enumerate(parts, start=1):
        marker = make_marker(LOCAL_MARKER_SCOPE, str(path.resolve()), generation, info.index)
        outcome = PartOutcome(info, marker, make_comment(args.comment, marker))
        if stop is not None:
            outcomes.append(outcome)
            continue
        part_path = folder / Path(info.name).name
        _progress(f"uploading part {number}/{len(parts)} ({info.bytes:,} bytes)")
        try:
            uploading = client.upload(
                args.counter,
                args.type,
                outcome.comment,
                _opener(part_path),
                part_path.stat().st_size,
                marker=marker,
                filename=Path(info.name).name,
            )
        except (MetrikaAuthError, MetrikaRetryableError) as exc:
            stop = exc
            outcome = dataclasses.replace(outcome, error=exc)
        except MetrikaRejectedError as exc:
            outcome = dataclasses.replace(outcome, error=exc)
        else:
            outcome = dataclasses.replace(outcome, uploading=uploading)
        outcomes.append(outcome)
    return outcomes


def _opener(path: Path) -> Callable[[], BinaryIO]:
    """A fresh stream of the part for each attempt."""
    return lambda: path.open("rb")


def _overall(outcomes: list[PartOutcome]) -> str:
    sent = sum(1 for o in outcomes if o.uploading is not None)
    if outcomes and sent == len(outcomes):
        return "uploaded"
    return "partially_uploaded" if sent else "failed"


def _print_upload(
    args: argparse.Namespace,
    path: Path,
    check: dict[str, Any],
    outcomes: list[PartOutcome],
    status: str,
) -> None:
    if args.json:
        document = {
            "file": str(path),
            "counter_id": args.counter,
            "type": args.type.value,
            "status": status,
            "check": check,
            "parts": [o.to_json() for o in outcomes],
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return
    if status == "rejected":
        reason = check.get("rejected_reason") or {}
        message = reason.get("message") if isinstance(reason, dict) else None
        print(f"{path.name}: rejected, nothing uploaded: {message or 'no valid rows'}")
        return
    rows = check.get("rows") or {}
    print(
        f"{path.name}: {status}, {rows.get('valid', 0)} of {rows.get('total', 0)} rows in "
        f"{len(outcomes)} part(s) to counter {args.counter}"
    )
    left_out = [
        f"{rows[key]} {label}"
        for key, label in (("invalid", "invalid rows"), ("duplicates", "duplicates"))
        if rows.get(key)
    ]
    if left_out:
        print(f"  left out: {', '.join(left_out)} (see --json for the first errors)")
    for number, outcome in enumerate(outcomes, start=1):
        print(f"  part {number}: {outcome.info.rows} rows, {_part_line(outcome)}")


def _part_line(outcome: PartOutcome) -> str:
    if outcome.uploading is not None:
        return _uploading_line(outcome.uploading)
    if outcome.error is not None:
        return f"not uploaded: {outcome.error}"
    return "not sent (stopped after an earlier part failed)"


def _uploading_line(uploading: Uploading) -> str:
    line = (
        f"upload {uploading.id} {uploading.status}: {uploading.line_quantity} of "
        f"{uploading.source_quantity} rows accepted"
    )
    if uploading.is_final:
        line += (
            f", {uploading.linked_quantity} linked, {uploading.user_not_found_quantity} "
            f"users not found, {uploading.goal_not_found_quantity} goals not found"
        )
    return line


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"metrika-offline: {message}\n")


# --- status ------------------------------------------------------------------------------------


def run_status(args: argparse.Namespace) -> int:
    target: str = args.target.strip()
    if target.isdigit():
        if args.counter is None:
            raise ConfigError("an upload id needs --counter")
        return _status_of_uploading(args, int(target))
    return run_file_status(target, refresh=args.refresh, as_json=args.json)


def _status_of_uploading(args: argparse.Namespace, uploading_id: int) -> int:
    settings = Settings.from_env()
    with MetrikaClient.from_settings(settings) as client:
        try:
            uploading = client.get_uploading(args.counter, uploading_id)
        except MetrikaError as exc:
            if args.json:
                print(json.dumps({"uploading": None, "error": _error_json(exc)}, indent=2))
            else:
                sys.stderr.write(f"metrika-offline: {exc}\n")
            return EXIT_USAGE if isinstance(exc, MetrikaAuthError) else EXIT_FAILED
    if args.json:
        print(json.dumps({"uploading": uploading.to_json(), "error": None}, indent=2))
    else:
        print(_uploading_line(uploading))
        if uploading.dropped_quantity:
            print(f"  Metrica dropped {uploading.dropped_quantity} rows in its own validation")
    return EXIT_OK
