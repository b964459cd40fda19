"""Why a claimed file is not checked at all: too old an event, a routing problem, too large, no
token for its counter, or too many attempts at checking it already."""

from __future__ import annotations

from metrika_offline.check.codes import Code, message
from metrika_offline.flow.context import Context
from metrika_offline.flow.record.job import Job, Problem, Status
from metrika_offline.flow.record.problems import event_too_old, too_large_problem, too_old_problem
from metrika_offline.flow.record.refusals import no_token_problem
from metrika_offline.flow.source.events import ObjectEvent

#: A file whose check and split died or ran out of time this often is given up on.
MAX_SPLIT_ATTEMPTS = 3


def refusal(ctx: Context, job: Job, event: ObjectEvent) -> tuple[Status, Problem] | None:
    """Why this file is not to be checked at all, if it is not."""
    settings = ctx.settings
    if event_too_old(event.event_time, ctx.clock(), settings.max_event_age_s):
        return Status.FAILED, too_old_problem(settings.max_event_age_s)
    problem = job.routing.problem
    if problem is not None:
        return Status.REJECTED, Problem(problem.code, problem.message)
    limit = settings.max_source_bytes
    if limit and job.source.size > limit:
        return Status.REJECTED, too_large_problem(job.source.size, limit)
    no_token = no_token_problem(ctx.metrika, job.routing)
    if no_token is not None:
        return Status.REJECTED, no_token
    if job.split_attempts > MAX_SPLIT_ATTEMPTS:
        code = Code.SPLIT_GAVE_UP
        return Status.FAILED, Problem(code, message(code, attempts=MAX_SPLIT_ATTEMPTS))
    return None
