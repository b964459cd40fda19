"""The public result JSON (`result.schema.json`, docs/contract.md) as typed records, both ways.

`result_of` projects a job onto a `Result`; `encode_result` writes it, `decode_result` reads it
back, checking every field's type on the way in. The function writes results, the CLI reads
them (`metrika status`, the summary, the exit code): both see the same records. The records
that the result shows as they are (`Issue`, `WarningSummary`, `RowCounts`, `LedgerSummary`,
`Problem`, `Uploading`, `MetrikaReport`) are used as they are; the ones that differ from the
job record (the source's generation as a string, the routing without its problem, a part
without its lease, times as ISO 8601) have a record of their own here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping

import msgspec

from metrika_offline.check.choices import (
    ChatSameKey,
    DateOrder,
    DurationFormat,
    Encoding,
    OnBadOptional,
)
from metrika_offline.check.report import Issue, LedgerSummary, Report, RowCounts, WarningSummary
from metrika_offline.flow.record.job import (
    Job,
    MetrikaReport,
    Part,
    PartState,
    Problem,
    Source,
    Status,
)
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.metrika.models import Uploading
from metrika_offline.types import ConversionType, UnknownGoals

SCHEMA_VERSION = 1


class ResultSource(msgspec.Struct, frozen=True):
    bucket: str
    name: str
    generation: str  # an int64: a string, as Cloud Storage itself writes it
    size: int


class ResultRouting(msgspec.Struct, frozen=True):
    """A `Route` as the result shows it: without its problem (the result's `error`)."""

    counter_id: int | None
    type: ConversionType
    comment: str
    mode: Mode
    timezone: str = "UTC"
    phone_region: str = "RU"
    date_order: DateOrder | None = None
    duration_format: DurationFormat | None = None
    encoding: Encoding = Encoding.AUTO
    on_bad_optional: OnBadOptional = OnBadOptional.BLANK
    chat_same_key: ChatSameKey = ChatSameKey.KEEP_LAST
    column_map: dict[str, str] = msgspec.field(default_factory=dict)
    settings_file: str | None = None
    ledger_window_days: float = 28.0
    unknown_goals: UnknownGoals = UnknownGoals.WARNING
    notify: str = "all"
    telegram_chat_id: str | None = None
    ignore_visit_join_threshold: bool = False
    sources: dict[str, str] = msgspec.field(default_factory=dict)


class ResultWait(msgspec.Struct, frozen=True):
    code: str
    message: str
    not_before: str  # ISO 8601, UTC


class ResultPart(msgspec.Struct, frozen=True):
    """A part as users see it: its state and Metrica's upload, not our lease."""

    index: int
    name: str
    rows: int
    bytes: int
    marker: str
    comment: str
    state: PartState
    attempts: int
    uploading: Uploading | None
    error: Problem | None
    wait: ResultWait | None = None


class ResultCheck(msgspec.Struct, frozen=True):
    """The checker's report, less what the result shows at its top (rows, errors, warnings)
    and the parts (shown with their state)."""

    valid: bool
    type: ConversionType
    encoding: str
    delimiter: str | None
    columns: tuple[str, ...]
    error_counts: dict[str, int]
    errors_truncated: bool
    rejected_reason: Issue | None
    dedupe_tracking_stopped_at_line: int | None
    bytes_read: int
    ledger: LedgerSummary | None = None


class Result(msgspec.Struct, frozen=True, kw_only=True):
    """The result JSON beside a source file (what the schema lets older results leave out
    reads as None)."""

    schema_version: int
    status: Status
    source: ResultSource
    routing: ResultRouting
    rows: RowCounts
    errors: tuple[Issue, ...]
    warnings: tuple[WarningSummary, ...]
    check: ResultCheck | None = None
    parts: tuple[ResultPart, ...]
    rejects: str | None = None
    error: Problem | None
    metrika: MetrikaReport | None = None
    created_at: str
    updated_at: str
    finished_at: str | None = None


def utc_iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="seconds")


def _source(source: Source) -> ResultSource:
    return ResultSource(source.bucket, source.name, str(source.generation), source.size)


def routing_of(route: Route) -> ResultRouting:
    """The route as the result shows it: its fields of the same names (a new route field shows
    once `ResultRouting` names it)."""
    return msgspec.convert(route, ResultRouting, from_attributes=True)


def part_of(part: Part) -> ResultPart:
    wait = part.wait
    shown = None if wait is None else ResultWait(wait.code, wait.message, utc_iso(wait.not_before))
    return ResultPart(
        index=part.index,
        name=part.name,
        rows=part.rows,
        bytes=part.bytes,
        marker=part.marker,
        comment=part.comment,
        state=part.state,
        attempts=part.attempts,
        uploading=part.uploading,
        error=part.error,
        wait=shown,
    )


def _check(report: Report) -> ResultCheck:
    return ResultCheck(
        valid=report.valid,
        type=report.type,
        encoding=report.encoding,
        delimiter=report.delimiter,
        columns=report.columns,
        error_counts=dict(report.error_counts),
        errors_truncated=report.errors_truncated,
        rejected_reason=report.rejected_reason,
        dedupe_tracking_stopped_at_line=report.dedupe_tracking_stopped_at_line,
        bytes_read=report.bytes_read,
        ledger=report.ledger,
    )


def wait_warnings(job: Job) -> list[WarningSummary]:
    """One warning per kind of wait among the parts: a file that waits says so at the top."""
    waits: dict[str, list[Part]] = {}
    for part in job.parts:
        if part.waits and part.wait is not None:
            waits.setdefault(part.wait.code, []).append(part)
    warnings: list[WarningSummary] = []
    for code, parts in waits.items():
        first = parts[0].wait
        assert first is not None
        warnings.append(WarningSummary(code, len(parts), None, None, first.message))
    return warnings


def result_of(job: Job) -> Result:
    """The public result of a job (`result.schema.json`)."""
    report = job.check
    errors = report.errors if report is not None else ()
    if job.error is not None and not errors:
        errors = (Issue(job.error.code, None, None, job.error.message),)
    listed = report.warnings if report is not None else ()
    return Result(
        schema_version=SCHEMA_VERSION,
        status=job.status,
        source=_source(job.source),
        routing=routing_of(job.routing),
        rows=report.rows if report is not None else RowCounts(),
        errors=errors,
        warnings=(*listed, *wait_warnings(job)),
        check=None if report is None else _check(report),
        parts=tuple(part_of(p) for p in job.parts),
        rejects=job.rejects,
        error=job.error,
        metrika=job.metrika,
        created_at=utc_iso(job.created_at),
        updated_at=utc_iso(job.updated_at),
        finished_at=utc_iso(job.finished_at) if job.finished_at else None,
    )


_DECODER = msgspec.json.Decoder(Result)

#: How a routing choice is spelt canonically. Before the routing parsed a file's choices into
#: enums, a default one was kept as the environment spelt it (DATE_ORDER=dmy); records of then
#: (states of jobs in flight, results) are read with it spelt canonically.
_CANONICAL: Mapping[str, Callable[[str], str]] = {
    "date_order": str.upper,
    "duration_format": str.lower,
    "on_bad_optional": str.lower,
    "chat_same_key": str.lower,
}


def earlier_record(document: object) -> object:
    """A record's JSON (a state object or a result) as an earlier version wrote it, as this one
    reads it: the routing's choices spelt canonically, and an upload we gave up on, written
    then as just its id and status, with its other fields empty."""
    if not isinstance(document, dict):
        return document
    if isinstance(routing := document.get("routing"), dict):
        for field, canonical in _CANONICAL.items():
            if isinstance(value := routing.get(field), str):
                routing[field] = canonical(value.strip())
    if isinstance(parts := document.get("parts"), list):
        document["parts"] = [_with_whole_uploading(part) for part in parts]
    return document


def _with_whole_uploading(part: object) -> object:
    if not isinstance(part, dict) or not isinstance(uploading := part.get("uploading"), dict):
        return part
    known: dict[str, object] = {field.name: None for field in dataclasses.fields(Uploading)}
    known.update(create_time="", comment="", type="", source_quantity=0, line_quantity=0)
    known.update(goal_not_found_quantity=0, user_not_found_quantity=0, linked_quantity=0)
    return {**part, "uploading": {**known, **uploading}}


def encode_result(result: Result) -> bytes:
    """The result JSON as it is written beside the source file (indented, UTF-8)."""
    return msgspec.json.format(msgspec.json.encode(result), indent=2)


def decode_result(data: bytes) -> Result:
    """A result JSON read back; msgspec.ValidationError if it is not one."""
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError:
        return msgspec.convert(earlier_record(msgspec.json.decode(data)), Result)


def result_builtins(result: Result) -> dict[str, object]:
    """The result as plain JSON values (what `--json` prints)."""
    data = msgspec.json.decode(msgspec.json.encode(result))
    assert isinstance(data, dict)
    return data
