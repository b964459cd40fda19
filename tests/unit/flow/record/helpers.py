"""The records the job record's and the job store's tests build: a checker's report, a job, a
part."""

from __future__ import annotations

import dataclasses

from metrika_offline.check.report import Report, RowCounts
from metrika_offline.flow.record.job import Job, Part, PartState, Source
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.types import ConversionType

ROUTING = Route(1, ConversionType.BASIC, "c", Mode.UPLOAD, {})
ROWS = RowCounts(total=4, valid=4, invalid=0, duplicates=0)


def report(rows: RowCounts = ROWS) -> Report:
    """A checker's report, without parts, as a job keeps it."""
    return Report(
        valid=True,
        rejected_reason=None,
        type=ConversionType.BASIC,
        encoding="utf-8",
        delimiter=",",
        columns=("ClientId", "Target", "DateTime"),
        rows=rows,
        errors=(),
        error_counts={},
        errors_truncated=False,
        warnings=(),
        parts=(),
        dedupe_tracking_stopped_at_line=None,
        bytes_read=100,
    )


def job(generation: int = 5, **changes: object) -> Job:
    base = Job(source=Source("b", "incoming/a.csv", generation, 10), routing=ROUTING)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def part(index: int, state: PartState = PartState.PENDING, **changes: object) -> Part:
    base = Part(index, f"w/p{index}", 2, 20, f"mo{index}", f"c mo{index}", state)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
