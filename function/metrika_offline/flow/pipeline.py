"""The pipeline: claim a dropped file, check and split it, queue its parts, upload each once.

    source event ─► claim (create-only job state; a live lease elsewhere = ClaimHeld, retry)
                 ─► check + split (stream once; parts in the work bucket; rejects beside it)
                 ─► record parts, with their markers, in the job state
                 ─► queue: one upload task per part (`flow/source/queue.py`), named from its marker,
                    on its Metrica account's queue; the checker never uploads
    part task    ─► upload that part exactly once (`uploads.PartUploader`); a part that must
                    wait is put back with the time it may run again

Return or raise: data problems and Metrica's refusals are written into the result and the
invocation returns; transient faults, a held claim and a near deadline raise (`RetryLater`),
so the platform delivers the event (or the task) again and the job state says where to
resume. The names of everything written are in `layout`; docs/architecture.md draws the path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
import uuid
from collections.abc import Callable
from typing import BinaryIO, Literal, cast

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.codes import Code, message
from metrika_offline.check.report import PartInfo, Report
from metrika_offline.config import Settings
from metrika_offline.errors import (
    ClaimHeld,
    DeadlineReached,
    MetrikaRetryableError,
    ObjectNotFound,
    PreconditionFailed,
    RetryLater,
)
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.followup.news import file_final, tell_once
from metrika_offline.flow.ledger.book import Turn, ledger_turn
from metrika_offline.flow.observe import QUIET, Observer
from metrika_offline.flow.parts.upload import PartUploader
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import (
    FINAL_PART_STATES,
    Job,
    Lease,
    Part,
    Problem,
    Source,
    Status,
)
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout, rejects_name
from metrika_offline.flow.record.problems import (
    event_too_old,
    too_large_problem,
    too_old_problem,
)
from metrika_offline.flow.record.refusals import no_token_problem
from metrika_offline.flow.record.result import utc_iso
from metrika_offline.flow.record.route import Mode, Route, RoutingProblem
from metrika_offline.flow.source.claim import Restart, job_key, started_over_note
from metrika_offline.flow.source.events import Decision, Kind, ObjectEvent, classify
from metrika_offline.flow.source.folder_settings import (
    BAD_SETTINGS,
    FolderSettings,
    SettingsProblem,
    find_settings,
)
from metrika_offline.flow.source.goal_check import GoalCache, GoalCheck, SharedGoals
from metrika_offline.flow.source.queue import (
    HeldTasks,
    InProcessQueue,
    PartTask,
    UploadQueue,
    task_name,
    wait_name,
)
from metrika_offline.flow.source.routing import NO_COUNTER_HINT, PARSERS, route
from metrika_offline.flow.source.sinks import LazyRejects, StorePartSink
from metrika_offline.flow.source.verdict import Verdict, verdict_of
from metrika_offline.logs import get_logger, log_context
from metrika_offline.metrika.accounts import DEFAULT_ACCOUNT, MetrikaAccounts
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.notify.notifier import Notifier
from metrika_offline.store.base import ObjectStore
from metrika_offline.store.streams import ReadAhead

log = get_logger("pipeline")


def _now() -> float:
    return time.time()


#: A file whose check and split died or ran out of time this often is given up on.
MAX_SPLIT_ATTEMPTS = 3
#: A wait shorter than this is not put back as a task of its own (a task that came a moment
#: early would find the part still waiting, and the name it would be put back under taken):
#: the task is answered "again later" and the queue's backoff brings it back.
PUT_BACK_MIN_S = 15.0


class WaitAlmostOver(RetryLater):
    """The part may be sent again in a moment: deliver this task again."""


class Pipeline:
    """Everything between a storage event and Metrica. Built once per process."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        settings: Settings,
        metrika: MetrikaAccounts | MetrikaClient | None,
        work: ObjectStore | None = None,
        dispatch: Literal["tasks", "inline"] = "tasks",
        queue: UploadQueue | None = None,
        clock: Callable[[], float] | None = None,
        observer: Observer = QUIET,
        restart: Restart = "never",
        counter_hint: str | None = None,
        folder_settings: FolderSettings | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.store = store  # the input bucket: the sources, the results and rejects beside them
        # The work bucket (WORK_BUCKET): job state, parts, the ledger, the pending index.
        self.work = work if work is not None else store
        self.settings = settings
        self.metrika = MetrikaAccounts.of(metrika)
        shared = SharedGoals(self.work, WorkLayout(settings.work_prefix))
        self.goals = GoalCheck(GoalCache(self.metrika, shared=shared))
        self.notifier = notifier if notifier is not None else Notifier.from_settings(settings)
        self.dispatch_mode = dispatch
        # The CLI runs each task at once, here; the function queues it (Cloud Tasks); without
        # a queue the tasks are held for whoever runs them (`run_task`).
        self.queue: UploadQueue = (
            InProcessQueue(lambda task: self.run_task(task, Deadline()))
            if dispatch == "inline"
            else queue
            if queue is not None
            else HeldTasks()
        )
        # Looked up when called (not bound here): `time.time` as it is then.
        self.clock: Callable[[], float] = clock if clock is not None else _now
        self.observer = observer
        self.restart = restart
        self.counter_hint = counter_hint or NO_COUNTER_HINT
        # A settings file the caller chose (the CLI's --settings), instead of the folder's.
        self.folder_settings = folder_settings
        # The CLI's person watches the result: every change is written there. The function
        # writes news only, each write being an event of its trigger (`jobstore`).
        self.jobs = JobStore(
            self.work,
            settings.work_prefix,
            clock=self.clock,
            results=store,
            every_change=dispatch == "inline",
        )
        self.layout = self.jobs.layout
        self.file_final = functools.partial(file_final, self.jobs, self.notifier)
        # Every lease owner this process made, so `release` can hand them all back.
        self._owners: set[str] = set()
        self.uploader = PartUploader(
            store=self.work,
            settings=settings,
            metrika=self.metrika,
            jobs=self.jobs,
            observer=observer,
            new_owner=self._new_owner,
            dispatch_mode=dispatch,
            file_final=self.file_final,
            tell=functools.partial(tell_once, self.jobs, self.notifier),
            clock=self.clock,
        )

    # ----------------------------------------------------------------------------- events

    def handle(self, event: ObjectEvent, deadline: Deadline | None = None) -> Decision:
        """Handle one finalize event. Returns what was decided; raises to be retried."""
        deadline = deadline or Deadline()
        decision = classify(event, self.settings)
        with log_context(bucket=event.bucket, object=event.name, generation=str(event.generation)):
            if decision.kind is Kind.SKIP:
                log.debug("skipped: %s", decision.reason, extra={"reason": decision.reason})
            else:
                self.process_source(event, deadline)
        return decision

    # ----------------------------------------------------------------------------- source

    def _folder_settings(self, event: ObjectEvent) -> FolderSettings | RoutingProblem | None:
        """The nearest folder settings file above the object (or the one the caller chose),
        or why it cannot be used."""
        if self.folder_settings is not None:
            return self.folder_settings
        try:
            return find_settings(self.store, event.name, self.settings.input_prefix, PARSERS)
        except SettingsProblem as problem:
            return RoutingProblem(BAD_SETTINGS, problem.message)

    def process_source(self, event: ObjectEvent, deadline: Deadline, *, force: bool = False) -> Job:
        """Claim, check and split one generation of a CSV, then dispatch its parts.

        `force` starts the job over even if it is done (parts look their marker up first).
        """
        routed = route(
            event.name,
            event.metadata,
            self.settings,
            self._folder_settings(event),
            no_counter_hint=self.counter_hint,
        )
        key = job_key(routed, self._check_options(routed), self.settings)
        # Leases belong to one invocation, not to the instance: a duplicate delivery may run
        # in another thread of this very process.
        owner = self._new_owner()
        job = self._claim_source(event, routed, key, owner, force=force)
        if not job.is_split and not job.is_final:
            try:
                with ledger_turn(
                    self.work, self.jobs, self.settings, job, owner=owner, clock=self.clock
                ) as ledger:
                    job = self._check_and_split(job, event, deadline, owner, ledger=ledger)
            except ClaimHeld:
                self._wait(job, owner)  # a no-op unless this invocation still holds the claim
                raise
        if job.status is Status.PROCESSING:
            job = self._dispatch(job)
        return job

    def _new_owner(self) -> str:
        owner = uuid.uuid4().hex
        self._owners.add(owner)
        return owner

    def _check_options(self, routed: Route) -> CheckOptions:
        return routed.check_options(self.settings, now=self.clock())

    def find_job(self, event: ObjectEvent) -> Job | None:
        """The job state of this event's generation, as it stands."""
        return loaded[0] if (loaded := self.jobs.load(event.name, event.generation)) else None

    def release(self, event: ObjectEvent) -> None:
        """Hand back every claim this process holds on the event's job (after Ctrl-C).

        A part that was being sent stays `sending`: the next attempt looks its marker up.
        """
        with contextlib.suppress(ObjectNotFound):
            self.jobs.update(event.name, event.generation, machine.release_all(self._owners))

    def _claim_source(
        self, event: ObjectEvent, routed: Route, key: str, owner: str, *, force: bool
    ) -> Job:
        now = self.clock()
        fresh = Job(
            source=Source(event.bucket, event.name, event.generation, event.size),
            routing=routed,
            lease=Lease(owner, now + self.settings.lease_s),
            split_attempts=1,
            key=key,
        )
        try:
            return self.jobs.create(fresh)
        except PreconditionFailed:
            pass

        def start_over(current: Job) -> bool:
            return force or (self.restart == "on_change" and current.key != key)

        until = now + self.settings.lease_s
        claim = machine.claim_check(fresh, owner, now, until, start_over=start_over)
        change = self.jobs.update(event.name, event.generation, claim)
        if change.written and change.after.restarted > change.before.restarted:
            self.observer.note(started_over_note(change.before, change.after, force=force))
            log.info("job started over", extra={"key": key, "old_key": change.before.key})
        elif change.written:
            log.info("taking over an abandoned check (attempt %d)", change.after.split_attempts)
        return change.after

    def _wait(self, job: Job, owner: str) -> None:
        """Another file holds rows or the ledger this file needs: give the claim back, and
        do not count the wait as an attempt at checking."""
        self.jobs.update(job.source.name, job.source.generation, machine.step_back(owner))

    def _check_and_split(
        self, job: Job, event: ObjectEvent, deadline: Deadline, owner: str, *, ledger: Turn
    ) -> Job:
        """Turn down what must not be checked; else check, split, and record the verdict."""
        refusal = self._refusal(job, event)
        if refusal is not None:
            return self._finish(job, *refusal)
        rejects = LazyRejects(self.store, rejects_name(event.name))
        report = self._run_check(job, deadline, rejects, ledger)
        if report is None:
            return self._finish(
                job,
                Status.FAILED,
                Problem(Code.SOURCE_MISSING, message(Code.SOURCE_MISSING)),
            )
        report = dataclasses.replace(report, ledger=ledger.summary())
        report, goal_problem = self.goals.review(job.routing, report)
        if goal_problem is not None:  # the parts were written before the goals said no
            prefix = self.layout.parts(job.source.name, job.source.generation)
            for info in report.parts:
                self.work.delete(prefix + info.name)
        new_part = functools.partial(self._new_part, job)
        verdict = verdict_of(report, job.routing.mode, new_part, goal_problem)
        job = self._record_check(job, report, verdict, rejects, owner)
        log.info(
            "checked: %d rows, %d valid, %d parts",
            report.rows.total,
            report.rows.valid,
            len(verdict.parts),
            extra={"rows": report.rows.total, "parts": len(verdict.parts)},
        )
        if job.is_final:
            self.file_final(job)
        return job

    def _refusal(self, job: Job, event: ObjectEvent) -> tuple[Status, Problem] | None:
        """Why this file is not to be checked at all, if it is not."""
        if event_too_old(event.event_time, self.clock(), self.settings.max_event_age_s):
            return Status.FAILED, too_old_problem(self.settings.max_event_age_s)
        problem = job.routing.problem
        if problem is not None:
            return Status.REJECTED, Problem(problem.code, problem.message)
        limit = self.settings.max_source_bytes
        if limit and job.source.size > limit:
            return Status.REJECTED, too_large_problem(job.source.size, limit)
        no_token = no_token_problem(self.metrika, job.routing)
        if no_token is not None:
            return Status.REJECTED, no_token
        if job.split_attempts > MAX_SPLIT_ATTEMPTS:
            code = Code.SPLIT_GAVE_UP
            return Status.FAILED, Problem(code, message(code, attempts=MAX_SPLIT_ATTEMPTS))
        return None

    def _run_check(
        self, job: Job, deadline: Deadline, rejects: LazyRejects, ledger: Turn
    ) -> Report | None:
        """Stream the source through the checker once; None when the source is gone.

        Running out of time releases the claim (so the next delivery starts at once) and
        raises DeadlineReached.
        """
        source, routed = job.source, job.routing
        options = self._check_options(routed)
        sink = (
            None
            if routed.mode is Mode.DRY_RUN
            else StorePartSink(
                self.work, self.layout.parts(source.name, source.generation), ledger.staged
            )
        )

        def reopen() -> BinaryIO:  # CHATS may need a second pass (see check/chats.py)
            return cast(BinaryIO, ReadAhead(self.store.open_read(source.name, source.generation)))

        try:
            # The next blocks download while this one is checked.
            reader = ReadAhead(self.store.open_read(source.name, source.generation))
        except ObjectNotFound:
            return None
        meter = self.observer.phase(
            "checking" if sink is None else "checking and splitting", source.size
        )
        try:
            return check_file(
                cast(BinaryIO, reader),
                options,
                sink=sink,
                rejects=rejects,
                should_stop=deadline.reached,
                progress=meter.update,
                on_rows=lambda rows: meter.update(rows=rows),
                sent=ledger.view,
                part_keys=ledger.staged,
                reopen=reopen,
            )
        except DeadlineReached:
            self.jobs.update(source.name, source.generation, machine.check_ran_out())
            raise
        finally:
            meter.close()
            reader.close()

    def _record_check(
        self, job: Job, report: Report, verdict: Verdict, rejects: LazyRejects, owner: str
    ) -> Job:
        """Write the check's outcome into the job, if this invocation still holds the claim."""
        record = machine.record_check(
            owner,
            report,
            parts=verdict.parts,
            rejects=rejects.name if rejects.opened else None,
            status=verdict.status,
            problem=verdict.problem,
            now=self.clock(),
        )
        return self.jobs.update(job.source.name, job.source.generation, record).after

    def _new_part(self, job: Job, info: PartInfo) -> Part:
        source = job.source
        marker = make_marker(source.bucket, source.name, source.generation, info.index, job.key)
        return Part(
            index=info.index,
            name=self.layout.parts(source.name, source.generation) + info.name,
            rows=info.rows,
            bytes=info.bytes,
            marker=marker,
            comment=make_comment(job.routing.comment, marker),
        )

    def _finish(self, job: Job, status: Status, problem: Problem) -> Job:
        change = machine.finish_file(status, problem, self.clock())
        job = self.jobs.update(job.source.name, job.source.generation, change).after
        self.file_final(job)
        return job

    def _dispatch(self, job: Job) -> Job:
        """Queue every unfinished part on its account's queue; the job as it stands afterwards.

        A task queued before (this is a redelivered event) is refused by its name: done."""
        name, generation = job.source.name, job.source.generation
        account = self._account(job)
        for part in job.parts:
            if part.state in FINAL_PART_STATES:
                continue
            task = PartTask(job.source.bucket, name, generation, part.index)
            if not self.queue.enqueue(account, task, task_name(part.marker)):
                log.info("part %d was queued before", part.index)
        if self.dispatch_mode == "inline":  # the parts were sent meanwhile
            return loaded[0] if (loaded := self.jobs.load(name, generation)) else job
        return job

    def _account(self, job: Job) -> str:
        counter = job.routing.counter_id
        return self.metrika.account_of(counter) if counter is not None else DEFAULT_ACCOUNT

    # ----------------------------------------------------------------------------- parts

    def upload_part(
        self,
        name: str,
        generation: int,
        index: int,
        deadline: Deadline,
        *,
        event_time: float | None = None,
    ) -> Job | None:
        """Upload one part exactly once (`uploads.PartUploader`); None when its job is gone."""
        return self.uploader.upload_part(name, generation, index, deadline, event_time=event_time)

    def run_task(self, task: PartTask, deadline: Deadline) -> Job | None:
        """One upload task: the part sent once, or put back with the time it may run again.

        Metrica's "not before" (a quota's `Retry-After`) becomes a task scheduled for then,
        instead of a retry at the platform's pace; any other retryable fault raises, and the
        queue's retry config brings the task back."""
        with log_context(bucket=task.bucket, object=task.source, generation=str(task.generation)):
            try:
                job = self.upload_part(task.source, task.generation, task.part, deadline)
            except MetrikaRetryableError as exc:
                if exc.retry_after_s is None or self.dispatch_mode == "inline":
                    raise
                self.put_back(task, self.clock() + exc.retry_after_s)
                return None
            wait = job.part(task.part).wait if job is not None else None
            if wait is not None and self.dispatch_mode != "inline":
                self._wait_for(task, wait.not_before)
            return job

    def _wait_for(self, task: PartTask, not_before: float) -> None:
        """A part that waits for a time (a new counter, a daily quota) goes back on its queue
        for then; a wait that is (nearly) over is left to the queue's own retry."""
        if not_before - self.clock() <= PUT_BACK_MIN_S:
            raise WaitAlmostOver(f"part {task.part} may be sent again in a moment")
        self.put_back(task, not_before)

    def put_back(self, task: PartTask, not_before: float) -> None:
        """Queue the part again for `not_before` (Unix seconds), under a name of its own."""
        loaded = self.jobs.load(task.source, task.generation)
        if loaded is None:
            return
        job = loaded[0]
        part = job.part(task.part)
        name = wait_name(part.marker, part.attempts)
        self.queue.enqueue(self._account(job), task, name, not_before=not_before)
        log.info(
            "part %d put back until %s",
            task.part,
            utc_iso(not_before),
            extra={"not_before": utc_iso(not_before), "task": name},
        )
