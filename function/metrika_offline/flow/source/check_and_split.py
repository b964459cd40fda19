"""Check and split one claimed file: turn down what must not be checked, stream the source
through the checker once (parts into the work bucket, rejected rows beside the source), review
its goals, and write the verdict into the job (`machine.record_check`)."""

from __future__ import annotations

import dataclasses
import functools

from metrika_offline.check.codes import Code, message
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.followup.news import file_final
from metrika_offline.flow.ledger.turn import Turn
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import Job, Problem, Status
from metrika_offline.flow.record.layout import rejects_name
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.flow.source.goal_check import GoalCheck
from metrika_offline.flow.source.read import run_check
from metrika_offline.flow.source.refusals import refusal
from metrika_offline.flow.source.sinks import LazyRejects
from metrika_offline.flow.source.verdict import new_part, verdict_of
from metrika_offline.logs import get_logger

log = get_logger("pipeline")


def check_and_split(
    ctx: FlowContext,
    goals: GoalCheck,
    job: Job,
    event: ObjectEvent,
    deadline: Deadline,
    *,
    owner: str,
    ledger: Turn,
) -> Job:
    """Turn down what must not be checked; else check, split, and record the verdict."""
    refused = refusal(ctx, job, event)
    if refused is not None:
        return finish(ctx, job, *refused)
    rejects = LazyRejects(ctx.store, rejects_name(event.name))
    report = run_check(ctx, job, deadline, rejects, ledger, owner=owner)
    if report is None:
        problem = Problem(Code.SOURCE_MISSING, message(Code.SOURCE_MISSING))
        return finish(ctx, job, Status.FAILED, problem)
    report = dataclasses.replace(report, ledger=ledger.summary())
    report, goal_problem = goals.review(job.routing, report)
    if goal_problem is not None:  # the parts were written before the goals said no
        prefix = ctx.layout.parts(job.source.name, job.source.generation)
        for info in report.parts:
            ctx.work.delete(prefix + info.name)
    make_part = functools.partial(new_part, ctx.layout, job)
    verdict = verdict_of(report, job.routing.mode, make_part, goal_problem)
    record = machine.record_check(
        owner,
        report,
        parts=verdict.parts,
        rejects=rejects.name if rejects.opened else None,
        status=verdict.status,
        problem=verdict.problem,
        now=ctx.clock(),
    )
    job = ctx.jobs.update(job.source.name, job.source.generation, record).after
    log.info(
        "checked: %d rows, %d valid, %d parts",
        report.rows.total,
        report.rows.valid,
        len(verdict.parts),
        extra={"rows": report.rows.total, "parts": len(verdict.parts)},
    )
    if job.is_final:
        file_final(ctx.jobs, ctx.notifier, job)
    return job


def finish(ctx: FlowContext, job: Job, status: Status, problem: Problem) -> Job:
    """The file ends before any part (`machine.finish_file`), and says so."""
    change = machine.finish_file(status, problem, ctx.clock())
    job = ctx.jobs.update(job.source.name, job.source.generation, change).after
    file_final(ctx.jobs, ctx.notifier, job)
    return job
