"""How one part's attempt ends in its job: sent (indexed for the follow-up, told to the ledger,
its bytes dropped), refused, or waiting; and the file's end once every part is final."""

from __future__ import annotations

from metrika_offline.errors import MetrikaNotReady
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.followup.news import file_final, tell_once
from metrika_offline.flow.followup.pending import PendingUpload, add_pending
from metrika_offline.flow.ledger.turn import record_uploaded
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import Job, Part, Problem, Status, Wait
from metrika_offline.logs import get_logger
from metrika_offline.metrika.models import Uploading
from metrika_offline.notify.message import NewsKind

log = get_logger("pipeline")


def finish_part(
    ctx: FlowContext, job: Job, index: int, uploading: Uploading | None, problem: Problem | None
) -> Job:
    """The part is uploaded, or refused with `problem` (`machine.finish_part`); a file whose
    every part is final says so."""
    record = machine.finish_part(index, uploading, problem, ctx.clock())
    job = ctx.jobs.update(job.source.name, job.source.generation, record).after
    if problem is not None:
        log.warning("part %d refused: %s", index, problem.message, extra={"code": problem.code})
    if job.status is not Status.PROCESSING:
        file_final(ctx.jobs, ctx.notifier, job)
    return job


def after_upload(ctx: FlowContext, job: Job, part: Part, counter: int, uploading_id: int) -> None:
    """Index the upload for the status follow-up, tell the ledger; drop the part's bytes."""
    entry = PendingUpload(
        counter, uploading_id, job.source.name, job.source.generation, part.index,
        job.updated_at, job.routing.type.value,
    )  # fmt: skip
    add_pending(ctx.work, ctx.layout, entry)
    record_uploaded(ctx.work, ctx.settings, job, part.index, ctx.clock())
    ctx.work.delete(part.name)


def wait_part(
    ctx: FlowContext,
    job: Job,
    index: int,
    owner: str,
    wait: Wait,
    *,
    indexed: bool = False,
    again: bool = False,
) -> Job:
    """The part waits (its lease handed back); `indexed`: until a time its task is put
    back for (`parts.task`), and a person is told once when the counter is not ready.
    `again`: for a reason an earlier part already gave (said in short)."""
    change = ctx.jobs.update(
        job.source.name, job.source.generation, machine.wait_part(index, owner, wait)
    )
    job = change.after
    if not change.written:
        return job
    log.warning("part %d waits: %s", index, wait.message, extra={"code": wait.code, "part": index})
    said = f"waits too ({wait.code})" if again else f"waiting: {wait.message}"
    ctx.observer.note(f"part {index}: {said}")
    if indexed and wait.code == MetrikaNotReady.code:
        tell_once(ctx.jobs, ctx.notifier, job, NewsKind.WAIT)
    return job
