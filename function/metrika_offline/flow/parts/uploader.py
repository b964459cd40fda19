"""The part half of the flow: upload one part exactly once, whatever an earlier attempt left.

    part task  ─► claim the part (state `sending`, with a lease, recorded *before* the POST)
               ─► if a previous attempt was `sending`, or the job was started over: look the
                  part's marker up in Metrica first, and adopt what is there
               ─► upload (the lease renewed before every attempt), record Metrica's
                  `uploading` (`uploaded`), settle the file when every part is final
               ─► index the upload under pending/ for the follow-up, tell the ledger, drop
                  the part's bytes

Metrica's refusals are recorded on the part. "Not now" waits: a counter not ready yet (the date
Metrica names) or a spent daily quota (QUOTA_RETRY_S) makes the part `waiting` with a
not-before time, and its task is put back on the queue for then (`parts/task.py`, a
`schedule_time`); nothing is retried within the invocation. A retryable error, an unfinished
marker search or the deadline makes the part `waiting` from now, with the reason, and raises
(`RetryLater`), so the next delivery of its task takes over at once. A waiting part is always
looked up by its marker before it is sent again.
"""

from __future__ import annotations

import posixpath
from typing import BinaryIO, cast

from metrika_offline.check.codes import Code, message
from metrika_offline.errors import (
    DeadlineReached,
    MetrikaAuthError,
    MetrikaError,
    MetrikaNotReady,
    MetrikaRejectedError,
    MetrikaRetryableError,
    MetrikaWait,
    NoTokenForCounter,
    ObjectNotFound,
)
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.ledger.turn import record_uploaded
from metrika_offline.flow.observe import Meter
from metrika_offline.flow.parts.settle import after_upload, finish_part, wait_part
from metrika_offline.flow.parts.wait_words import unavailable_wait, wait_for
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import (
    Job,
    Part,
    PartState,
    Problem,
    Wait,
)
from metrika_offline.flow.record.problems import (
    event_too_old,
    metrika_problem,
    too_old_problem,
)
from metrika_offline.logs import get_logger, log_context
from metrika_offline.store.streams import CountingReader

log = get_logger("pipeline")


class PartUploader:
    """Uploads the parts of the jobs in one store: the pipeline's part half."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        # (counter, type) -> the wait Metrica asked for: the parts after it wait without a call.
        self._held: dict[tuple[int, str], Wait] = {}

    def upload_part(
        self,
        name: str,
        generation: int,
        index: int,
        deadline: Deadline,
        *,
        event_time: float | None = None,
    ) -> Job | None:
        """Upload one part exactly once, resuming whatever an earlier attempt left."""
        with log_context(object=name, generation=str(generation), part=index):
            now = self.ctx.clock()
            owner = self.ctx.owners.new()  # this invocation's, as for the source

            claim = machine.claim_part(index, owner, now, now + self.ctx.settings.lease_s)
            try:
                claimed = self.ctx.jobs.update(name, generation, claim)
            except ObjectNotFound:
                log.warning("no job state for this part; it was cleaned up")
                return None
            job = claimed.after
            if not claimed.written:
                part = job.part(index)
                if part.waits and part.wait is not None:
                    self.ctx.observer.note(f"part {index}: waiting: {part.wait.message}")
                    return job
                counter = job.routing.counter_id
                if part.awaits_metrika and part.uploading is not None and counter is not None:
                    # A worker killed after recording the upload may not have indexed it, nor
                    # told the ledger.
                    after_upload(self.ctx, job, part, counter, part.uploading.id)
                else:
                    record_uploaded(self.ctx.work, self.ctx.settings, job, index, self.ctx.clock())
                return job  # final already
            if event_too_old(event_time, self.ctx.clock(), self.ctx.settings.max_event_age_s):
                return finish_part(
                    self.ctx, job, index, None, too_old_problem(self.ctx.settings.max_event_age_s)
                )
            before = claimed.before.part(index)
            # A part that was being sent or waited may be in Metrica; so may a part of a job
            # started over, from the old job: look first.
            resume = before.state in (PartState.SENDING, PartState.WAITING) or (
                job.restarted > 0 and before.attempts == 0
            )
            label = f"uploading part {index}/{len(job.parts)}"
            meter = self.ctx.observer.phase(label, before.bytes, rows=before.rows)
            try:
                return self._send(
                    job, job.part(index), resume=resume, deadline=deadline, owner=owner, meter=meter
                )
            finally:
                meter.close()

    def _send(
        self,
        job: Job,
        part: Part,
        *,
        resume: bool,
        deadline: Deadline,
        owner: str,
        meter: Meter,
    ) -> Job:
        counter = job.routing.counter_id
        if counter is None:
            return finish_part(
                self.ctx,
                job,
                part.index,
                None,
                Problem(Code.NO_COUNTER, message(Code.NO_COUNTER, hint="the job has none")),
            )
        kind = job.routing.type
        index = part.index
        # The search may stop early only for a job whose parts were all first sent after it
        # was created (a job started over may find the old job's uploads).
        since = job.created_at if job.restarted == 0 else None
        ignore_threshold = job.routing.ignore_visit_join_threshold
        held = self._held.get((counter, kind.value))
        skips_threshold = (
            held is not None and held.code == MetrikaNotReady.code and ignore_threshold
        )
        if held is not None and not held.due(self.ctx.clock()) and not skips_threshold:
            return wait_part(self.ctx, job, index, owner, held, indexed=True, again=True)

        def open_part() -> BinaryIO:  # called before every attempt to send, retries included
            self._renew_lease(job, index, owner)
            return cast(BinaryIO, CountingReader(self.ctx.work.open_read(part.name), meter.update))

        searching = resume
        try:
            found = (
                self.ctx.metrika.find_by_marker(
                    counter, part.marker, type=kind, since=since, deadline=deadline.at
                )
                if resume
                else None
            )
            searching = False
            if found is not None:
                log.info("adopting upload %d found by its marker", found.id)
                self.ctx.observer.note(
                    f"part {index}: Metrica already has it (upload {found.id}, found by "
                    "its marker): not sent again"
                )
                uploading = found
            else:
                uploading = self.ctx.metrika.upload(
                    counter,
                    kind,
                    part.comment,
                    open_part,
                    part.bytes,
                    marker=part.marker,
                    filename=posixpath.basename(job.source.name),
                    deadline=deadline.at,
                    since=since,
                    ignore_visit_join_threshold=ignore_threshold,
                )
        except MetrikaWait as exc:
            wait = wait_for(exc, counter, kind, self.ctx.clock(), self.ctx.settings)
            self._held[(counter, kind.value)] = wait
            return wait_part(self.ctx, job, index, owner, wait, indexed=True)
        except MetrikaAuthError as exc:
            if self.ctx.inline:
                # A person is there to fix the token: the part waits for the next run.
                self._release_part(job, index, owner)
                raise
            return finish_part(self.ctx, job, index, None, metrika_problem(refusal_code(exc), exc))
        except MetrikaRejectedError as exc:
            return finish_part(
                self.ctx, job, index, None, metrika_problem(Code.METRIKA_REJECTED, exc)
            )
        except (MetrikaRetryableError, DeadlineReached) as exc:
            # Never a blind resend: the part waits, says why, and is looked up first next time.
            wait_part(
                self.ctx,
                job,
                index,
                owner,
                unavailable_wait(exc, self.ctx.clock(), searching=searching),
            )
            raise
        job = finish_part(self.ctx, job, index, uploading, None)
        after_upload(self.ctx, job, part, counter, uploading.id)
        return job

    def _renew_lease(self, job: Job, index: int, owner: str) -> None:
        """Still ours? Hold it another LEASE_S. Taken over? Stop: the new owner sends it."""
        until = self.ctx.clock() + self.ctx.settings.lease_s
        self.ctx.jobs.update(
            job.source.name, job.source.generation, machine.renew_part(index, owner, until)
        )

    def _release_part(self, job: Job, index: int, owner: str) -> None:
        """Let the next delivery take the part over at once; it stays `sending`."""
        self.ctx.jobs.update(
            job.source.name, job.source.generation, machine.release_part(index, owner)
        )


def refusal_code(exc: MetrikaError) -> Code:
    """The part's error code for a refusal: no token, bad token or access, or Metrica's no."""
    if isinstance(exc, NoTokenForCounter):
        return Code.NO_TOKEN_FOR_COUNTER
    return Code.METRIKA_AUTH if isinstance(exc, MetrikaAuthError) else Code.METRIKA_REJECTED
