"""Why a claimed file is not checked at all: too old an event, a routing problem, too large, no
token for its counter, or too many attempts at checking it already.

A file whose counter has no token (`METRIKA_ACCOUNTS`, `METRIKA_TOKEN_<ACCOUNT>`,
`METRIKA_TOKEN`) is rejected before it is checked, with `no-token-for-counter`: nothing is
sent under another account's token.
"""

from __future__ import annotations

from metrika_offline.check.codes import Code, message
from metrika_offline.errors import NoTokenForCounter
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.record.job import Job, Problem, Status
from metrika_offline.flow.record.problems import event_too_old, too_large_problem, too_old_problem
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.accounts import MetrikaAccounts

#: A file whose check and split died or ran out of time this often is given up on.
MAX_SPLIT_ATTEMPTS = 3


def refusal(ctx: FlowContext, job: Job, event: ObjectEvent) -> tuple[Status, Problem] | None:
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


def no_token_problem(metrika: MetrikaAccounts, routing: Route) -> Problem | None:
    """Why a file to upload cannot be sent: no token for its counter (None if there is one)."""
    if routing.mode is not Mode.UPLOAD or routing.counter_id is None:
        return None
    try:
        metrika.client_for(routing.counter_id)
    except NoTokenForCounter as exc:
        return Problem(Code.NO_TOKEN_FOR_COUNTER, str(exc))
    return None
