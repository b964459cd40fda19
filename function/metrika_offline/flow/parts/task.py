"""One upload task: the part sent once (`PartUploader`), or put back on its queue with the time
it may run again."""

from __future__ import annotations

from metrika_offline.errors import MetrikaRetryableError, RetryLater
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.parts.uploader import PartUploader
from metrika_offline.flow.queue import PartTask, UploadQueue, account_of, wait_name
from metrika_offline.flow.record.job import Job
from metrika_offline.flow.record.result import utc_iso
from metrika_offline.logs import get_logger, log_context

log = get_logger("pipeline")

#: A wait shorter than this is not put back as a task of its own (a task that came a moment
#: early would find the part still waiting, and the name it would be put back under taken):
#: the task is answered "again later" and the queue's backoff brings it back.
PUT_BACK_MIN_S = 15.0


class WaitAlmostOver(RetryLater):
    """The part may be sent again in a moment: deliver this task again."""


def run_task(
    ctx: FlowContext, uploader: PartUploader, queue: UploadQueue, task: PartTask, deadline: Deadline
) -> Job | None:
    """One upload task: the part sent once, or put back with the time it may run again.

    Metrica's "not before" (a quota's `Retry-After`) becomes a task scheduled for then,
    instead of a retry at the platform's pace; any other retryable fault raises, and the
    queue's retry config brings the task back."""
    with log_context(bucket=task.bucket, object=task.source, generation=str(task.generation)):
        try:
            job = uploader.upload_part(task.source, task.generation, task.part, deadline)
        except MetrikaRetryableError as exc:
            if exc.retry_after_s is None or ctx.inline:
                raise
            put_back(ctx, queue, task, ctx.clock() + exc.retry_after_s)
            return None
        wait = job.part(task.part).wait if job is not None else None
        if wait is not None and not ctx.inline:
            _wait_for(ctx, queue, task, wait.not_before)
        return job


def _wait_for(ctx: FlowContext, queue: UploadQueue, task: PartTask, not_before: float) -> None:
    """A part that waits for a time (a new counter, a daily quota) goes back on its queue
    for then; a wait that is (nearly) over is left to the queue's own retry."""
    if not_before - ctx.clock() <= PUT_BACK_MIN_S:
        raise WaitAlmostOver(f"part {task.part} may be sent again in a moment")
    put_back(ctx, queue, task, not_before)


def put_back(ctx: FlowContext, queue: UploadQueue, task: PartTask, not_before: float) -> None:
    """Queue the part again for `not_before` (Unix seconds), under a name of its own."""
    loaded = ctx.jobs.load(task.source, task.generation)
    if loaded is None:
        return
    job = loaded[0]
    part = job.part(task.part)
    name = wait_name(part.marker, part.attempts)
    queue.enqueue(account_of(ctx.metrika, job), task, name, not_before=not_before)
    log.info(
        "part %d put back until %s",
        task.part,
        utc_iso(not_before),
        extra={"not_before": utc_iso(not_before), "task": name},
    )
