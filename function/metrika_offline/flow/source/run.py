"""One dropped CSV, from its event to its parts: route it, key it, claim its job, and (unless
it is split or final already) check and split it while it holds its ledger's turn."""

from __future__ import annotations

import dataclasses

from metrika_offline.errors import ClaimHeld
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.ledger.turn import ledger_turn
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import Job
from metrika_offline.flow.record.route import RoutingProblem
from metrika_offline.flow.source.check_and_split import check_and_split
from metrika_offline.flow.source.claim import Restart, claim_source, job_key
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.flow.source.folder_settings import (
    BAD_SETTINGS,
    FolderSettings,
    SettingsProblem,
    find_settings,
)
from metrika_offline.flow.source.goal_check import GoalCheck
from metrika_offline.flow.source.routing import NO_COUNTER_HINT, PARSERS, route


@dataclasses.dataclass(frozen=True)
class SourceChoices:
    """What the caller chooses for its sources (the CLI's flags; the function's defaults)."""

    restart: Restart = "never"  # "on_change": a job with other settings starts over
    counter_hint: str = NO_COUNTER_HINT  # what to tell a person whose file has no counter
    folder_settings: FolderSettings | None = None  # instead of the folder's own (--settings)


def run_source(
    ctx: FlowContext,
    choices: SourceChoices,
    goals: GoalCheck,
    event: ObjectEvent,
    deadline: Deadline,
    *,
    force: bool = False,
) -> Job:
    """Claim, check and split one generation of a CSV; the job as it stands afterwards.

    `force` starts the job over even if it is done (parts look their marker up first).
    """
    found = _folder_settings(ctx, choices, event)
    routed = route(
        event.name, event.metadata, ctx.settings, found, no_counter_hint=choices.counter_hint
    )
    key = job_key(routed, routed.check_options(ctx.settings, now=ctx.clock()), ctx.settings)
    # Leases belong to one invocation, not to the instance: a duplicate delivery may run
    # in another thread of this very process.
    owner = ctx.owners.new()
    job = claim_source(ctx, event, routed, key, owner, force=force, restart=choices.restart)
    if job.is_split or job.is_final:
        return job
    try:
        with ledger_turn(
            ctx.work, ctx.jobs, ctx.settings, job, owner=owner, clock=ctx.clock
        ) as ledger:
            return check_and_split(ctx, goals, job, event, deadline, owner=owner, ledger=ledger)
    except ClaimHeld:
        # Another file holds rows or the ledger this file needs: give the claim back (a no-op
        # unless this invocation still holds it), without counting the wait as an attempt.
        ctx.jobs.update(job.source.name, job.source.generation, machine.step_back(owner))
        raise


def _folder_settings(
    ctx: FlowContext, choices: SourceChoices, event: ObjectEvent
) -> FolderSettings | RoutingProblem | None:
    """The nearest folder settings file above the object (or the one the caller chose),
    or why it cannot be used."""
    if choices.folder_settings is not None:
        return choices.folder_settings
    try:
        return find_settings(ctx.store, event.name, ctx.settings.input_prefix, PARSERS)
    except SettingsProblem as problem:
        return RoutingProblem(BAD_SETTINGS, problem.message)
