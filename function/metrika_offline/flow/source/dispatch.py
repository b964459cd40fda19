"""Queue a checked file's parts: one upload task per unfinished part, on its account's queue."""

from __future__ import annotations

from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.queue import PartTask, UploadQueue, account_of, task_name
from metrika_offline.flow.record.job import FINAL_PART_STATES, Job
from metrika_offline.logs import get_logger

log = get_logger("pipeline")


def queue_parts(ctx: FlowContext, queue: UploadQueue, job: Job) -> Job:
    """Queue every unfinished part; the job as it stands afterwards.

    A task queued before (this is a redelivered event) is refused by its name: done."""
    name, generation = job.source.name, job.source.generation
    account = account_of(ctx.metrika, job)
    for part in job.parts:
        if part.state in FINAL_PART_STATES:
            continue
        task = PartTask(job.source.bucket, name, generation, part.index)
        if not queue.enqueue(account, task, task_name(part.marker)):
            log.info("part %d was queued before", part.index)
    if ctx.inline:  # the parts were sent meanwhile
        return loaded[0] if (loaded := ctx.jobs.load(name, generation)) else job
    return job
