"""The pipeline: claim a dropped file, check and split it, queue its parts, upload each once.

    source event ─► claim (create-only job state; a live lease elsewhere = ClaimHeld, retry)
                 ─► check + split (stream once; parts in the work bucket; rejects beside it)
                 ─► record parts, with their markers, in the job state
                 ─► queue: one upload task per part (`flow/queue.py`), named from its marker,
                    on its Metrica account's queue; the checker never uploads
    part task    ─► upload that part exactly once (`parts.uploader.PartUploader`); a part that
                    must wait is put back with the time it may run again (`parts.task`)

Return or raise: data problems and Metrica's refusals are written into the result and the
invocation returns; transient faults, a held claim and a near deadline raise (`RetryLater`),
so the platform delivers the event (or the task) again and the job state says where to
resume. The names of everything written are in `record/layout.py`; docs/architecture.md draws
the path. This module is the router only: each stage is a package of its own (`source/`,
`parts/`, `followup/`, `ledger/`, `record/`), and every stage works with one `FlowContext`.
"""

from __future__ import annotations

import contextlib

from metrika_offline.errors import ObjectNotFound
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.parts.task import run_task
from metrika_offline.flow.parts.uploader import PartUploader
from metrika_offline.flow.queue import HeldTasks, InProcessQueue, PartTask, UploadQueue
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import Job, Status
from metrika_offline.flow.source.dispatch import queue_parts
from metrika_offline.flow.source.events import Decision, EventKind, ObjectEvent, classify
from metrika_offline.flow.source.goal_check import GoalCache, GoalCheck, SharedGoals
from metrika_offline.flow.source.run import SourceChoices, run_source
from metrika_offline.logs import get_logger, log_context

__all__ = ["Deadline", "Pipeline"]

log = get_logger("pipeline")


class Pipeline:
    """Everything between a storage event (or an upload task) and Metrica, for one bucket.
    Built once per bucket and process."""

    def __init__(
        self,
        ctx: FlowContext,
        *,
        queue: UploadQueue | None = None,
        choices: SourceChoices | None = None,
    ) -> None:
        self.ctx = ctx
        self.choices = choices if choices is not None else SourceChoices()
        shared = SharedGoals(ctx.work, ctx.layout)
        self.goals = GoalCheck(GoalCache(ctx.metrika, shared=shared))
        self.uploader = PartUploader(ctx)
        # The CLI runs each task at once, here; the function queues it (Cloud Tasks); without
        # a queue the tasks are held for whoever runs them (`run_task`).
        self.queue: UploadQueue = (
            InProcessQueue(self._run_at_once)
            if ctx.inline
            else queue
            if queue is not None
            else HeldTasks()
        )

    def handle(self, event: ObjectEvent, deadline: Deadline | None = None) -> Decision:
        """Handle one finalize event. Returns what was decided; raises to be retried."""
        deadline = deadline or Deadline()
        decision = classify(event, self.ctx.settings)
        with log_context(bucket=event.bucket, object=event.name, generation=str(event.generation)):
            if decision.kind is EventKind.SKIP:
                log.debug("skipped: %s", decision.reason, extra={"reason": decision.reason})
            else:
                self.process_source(event, deadline)
        return decision

    def process_source(self, event: ObjectEvent, deadline: Deadline, *, force: bool = False) -> Job:
        """Claim, check and split one generation of a CSV (`source.run`), then queue its parts.

        `force` starts the job over even if it is done (parts look their marker up first).
        """
        job = run_source(self.ctx, self.choices, self.goals, event, deadline, force=force)
        if job.status is Status.PROCESSING:
            job = queue_parts(self.ctx, self.queue, job)
        return job

    def run_task(self, task: PartTask, deadline: Deadline) -> Job | None:
        """One upload task (`parts.task.run_task`) on this bucket's queue."""
        return run_task(self.ctx, self.uploader, self.queue, task, deadline)

    def _run_at_once(self, task: PartTask) -> None:
        """The CLI's queue: a task runs as it is queued, in this process, with no deadline."""
        self.run_task(task, Deadline())

    def find_job(self, event: ObjectEvent) -> Job | None:
        """The job state of this event's generation, as it stands."""
        return loaded[0] if (loaded := self.ctx.jobs.load(event.name, event.generation)) else None

    def release(self, event: ObjectEvent) -> None:
        """Hand back every claim this process holds on the event's job (after Ctrl-C).

        A part that was being sent stays `sending`: the next attempt looks its marker up.
        """
        release = machine.release_all(self.ctx.owners.all())
        with contextlib.suppress(ObjectNotFound):
            self.ctx.jobs.update(event.name, event.generation, release)
