"""What a finished check means for the job: its status, its parts and its error."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from metrika_offline.check.codes import Code, message
from metrika_offline.check.report import PartInfo, Report
from metrika_offline.flow.record.job import Job, Part, Problem, Status
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.flow.record.route import Mode
from metrika_offline.metrika.marker import make_comment, make_marker

__all__ = ["FileVerdict", "new_part", "verdict_of"]


@dataclasses.dataclass(frozen=True)
class FileVerdict:
    status: Status
    parts: tuple[Part, ...]
    problem: Problem | None


def verdict_of(
    report: Report,
    mode: Mode,
    new_part: Callable[[PartInfo], Part],
    goal_problem: Problem | None = None,
) -> FileVerdict:
    """Rejected (the check's reason, or the goal check's in error mode), validated (a dry
    run) or processing (parts to send)."""
    if goal_problem is not None:
        return FileVerdict(Status.REJECTED, (), goal_problem)
    if report.rejected_reason is None and not report.parts and report.rows.already_sent:
        # Every valid row was sent before: nothing to send, and nothing wrong.
        if mode is Mode.DRY_RUN:
            return FileVerdict(Status.VALIDATED, (), None)
        done = Status.PARTIALLY_UPLOADED if report.rows.invalid else Status.UPLOADED
        return FileVerdict(done, (), None)
    if not report.valid:
        reason = report.rejected_reason
        problem = (
            Problem(reason.code, reason.message)
            if reason is not None
            else Problem(Code.NOTHING_TO_UPLOAD, message(Code.NOTHING_TO_UPLOAD))
        )
        return FileVerdict(Status.REJECTED, (), problem)
    parts = tuple(new_part(info) for info in report.parts)
    if mode is Mode.DRY_RUN:
        return FileVerdict(Status.VALIDATED, parts, None)
    return FileVerdict(Status.PROCESSING, parts, None)


def new_part(layout: WorkLayout, job: Job, info: PartInfo) -> Part:
    """The job's record of one part the checker wrote: its object, its marker and comment."""
    source = job.source
    marker = make_marker(source.bucket, source.name, source.generation, info.index, job.key)
    return Part(
        index=info.index,
        name=layout.parts(source.name, source.generation) + info.name,
        rows=info.rows,
        bytes=info.bytes,
        marker=marker,
        comment=make_comment(job.routing.comment, marker),
    )
