"""Where job records live, and how they change without losing anyone's update.

The state lives under the work prefix (`jobs/<name>/<generation>.json`, see `layout`) of the
work bucket (`WORK_BUCKET`, no trigger on it) and is only ever changed with compare-and-swap
writes, so concurrent invocations (duplicate events and tasks, parts finishing together,
overlapping polls) never lose each other's updates. The result JSON
next to the source (`<name>.result.json`, in the input bucket) is the public projection of the
latest generation's job; an older generation's state stays findable under its own name.

Every write of the result is an event for the storage-triggered function, so the result is
written only when what it tells a person changes (`public_view`): not for a lease taken or
renewed, nor for an attempt counted.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from metrika_offline.errors import ObjectNotFound, PreconditionFailed
from metrika_offline.flow.record import codec
from metrika_offline.flow.record.job import FINAL_OUTCOMES, Job, PartState
from metrika_offline.flow.record.layout import Role, WorkLayout, marked, result_name
from metrika_offline.logs import get_logger
from metrika_offline.store.base import ObjectStore

log = get_logger("jobs")

_CAS_ATTEMPTS = 50
_SOURCE_GENERATION = "source-generation"
_REVISION = "revision"


@dataclasses.dataclass(frozen=True)
class Change:
    """One compare-and-swap update: the record it was applied to, and the record now stored.

    `after is before` when the change decided there was nothing to do.
    """

    before: Job
    after: Job

    @property
    def written(self) -> bool:
        return self.after is not self.before


def public_view(job: Job) -> tuple[object, ...]:
    """What the result JSON tells a person, less the times: a change here is worth a write
    (and the event it fires). A lease, an attempt, a part being sent, or Metrica's status
    moving on before it is final is not: those show in the next write."""
    parts = tuple(
        (
            p.index,
            PartState.PENDING if p.state is PartState.SENDING else p.state,
            p.uploading.id if p.awaits_metrika and p.uploading is not None else p.uploading,
            p.error,
            p.wait,  # why and until when it waits
        )
        for p in job.parts
    )
    metrika = job.metrika
    word = metrika if metrika is not None and metrika.outcome in FINAL_OUTCOMES else None
    return (job.status, job.check, job.rejects, job.error, word, job.restarted, parts)


class JobStore:
    """Reads and compare-and-swap updates job state, and publishes the result JSON."""

    def __init__(
        self,
        store: ObjectStore,
        work_prefix: str,
        *,
        clock: Callable[[], float] = time.time,
        results: ObjectStore | None = None,
        every_change: bool = False,
    ) -> None:
        """`store` holds the state (the work bucket); `results` the result JSON beside the
        source (the input bucket; the same store when not given). `every_change`: write the
        result for every change (the CLI, whose person watches the file), not only for news."""
        self.store = store
        self.results = results if results is not None else store
        self.every_change = every_change
        self.layout = WorkLayout(work_prefix)
        self.clock = clock

    def load(self, source_name: str, generation: int) -> tuple[Job, int] | None:
        """The job and its state object's generation; None when there is no such job."""
        found = self.store.read_bytes(self.layout.state(source_name, generation))
        if found is None:
            return None
        data, object_generation = found
        return codec.decode_state(data), object_generation

    def create(self, job: Job) -> Job:
        """Create the state; PreconditionFailed if a job for this generation already exists.

        The result is first written with the check's verdict, not for the claim."""
        now = self.clock()
        job = dataclasses.replace(job, created_at=now, updated_at=now, revision=1)
        self._write(job, if_generation_match=0)
        if self.every_change:
            self.publish(job)
        return job

    def update(
        self, source_name: str, generation: int, change: Callable[[Job], Job | None]
    ) -> Change:
        """Apply `change` with compare-and-swap until it sticks; None from `change` = no-op.

        `change` may run more than once and may raise to abort (the exception propagates and
        nothing is written). ObjectNotFound when there is no such job.
        """
        for _ in range(_CAS_ATTEMPTS):
            loaded = self.load(source_name, generation)
            if loaded is None:
                raise ObjectNotFound(f"no job state for {source_name}@{generation}")
            current, object_generation = loaded
            changed = change(current)
            if changed is None:
                return Change(current, current)
            changed = dataclasses.replace(
                changed, revision=current.revision + 1, updated_at=self.clock()
            )
            try:
                self._write(changed, if_generation_match=object_generation)
            except PreconditionFailed:
                continue
            if self.every_change or public_view(changed) != public_view(current):
                self.publish(changed)
            return Change(current, changed)
        raise PreconditionFailed(f"job state for {source_name} kept changing under us")

    def _write(self, job: Job, *, if_generation_match: int) -> None:
        self.store.write_bytes(
            self.layout.state(job.source.name, job.source.generation),
            codec.encode_state(job),
            content_type="application/json",
            metadata=marked(Role.STATE),
            if_generation_match=if_generation_match,
        )

    def publish(self, job: Job) -> None:
        """Write the result JSON unless a newer generation or revision is already there."""
        name = result_name(job.source.name)
        body = codec.encode_result(job)
        mine = (job.source.generation, job.revision)
        for _ in range(_CAS_ATTEMPTS):
            info = self.results.stat(name)
            if info is not None:
                theirs = (
                    int(info.metadata.get(_SOURCE_GENERATION, "0")),
                    int(info.metadata.get(_REVISION, "0")),
                )
                if theirs >= mine:
                    return
            try:
                self.results.write_bytes(
                    name,
                    body,
                    content_type="application/json",
                    metadata=marked(
                        Role.RESULT,
                        **{
                            _SOURCE_GENERATION: str(job.source.generation),
                            _REVISION: str(job.revision),
                        },
                    ),
                    if_generation_match=info.generation if info else 0,
                )
            except PreconditionFailed:
                continue
            return
        log.warning("result JSON kept changing; left to the next update", extra={"result": name})
