"""The counters' goals for the Target check: read once, kept a few minutes, never required.

Many checker instances handle many files; reading the goals once per counter and keeping them
for `GOALS_TTL_S` saves requests from Metrica's daily quota (5000 per user) and its 3 parallel
requests per user, which the upload queues count on. Kept twice: in the instance, and in the
work bucket (`SharedGoals`, `goals/<counter>.json`), where one instance at a time reads them
from Metrica (a create-only `goals/<counter>.lock`) while the others wait a little for its
answer. A failure (a 429 included) is not kept and never stops the file: the last goals read
are used however old, else the check goes on without them and the report says so
(`goals-unreadable`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable

import msgspec

from metrika_offline.check.codes import Code, message
from metrika_offline.check.report import Report, WarningSummary
from metrika_offline.check.target_review import (
    review_conditions,
    review_targets,
    unreadable_goals,
)
from metrika_offline.errors import MetrikaError, ObjectNotFound, PreconditionFailed, StoreError
from metrika_offline.flow.record import codec
from metrika_offline.flow.record.job import Problem
from metrika_offline.flow.record.layout import Role, WorkLayout, marked
from metrika_offline.flow.record.route import Route
from metrika_offline.logs import get_logger
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.store.base import ObjectStore
from metrika_offline.types import Goal, UnknownGoals

__all__ = ["GOALS_TTL_S", "GoalCache", "GoalCheck", "SharedGoals"]

log = get_logger("goals")

#: How long a counter's goals are trusted once read.
GOALS_TTL_S = 300.0
#: A goal list is nice to have: two tries, then the check goes on without it.
GOALS_ATTEMPTS = 2
#: How long another instance's read of the goals is waited for, and how long it may take.
GOALS_WAIT_S = 20.0
GOALS_LOCK_S = 60.0
_WAIT_STEP_S = 0.25


@dataclasses.dataclass(frozen=True)
class KeptGoals:
    """A counter's goals as read from Metrica at `read_at` (Unix seconds)."""

    read_at: float
    goals: tuple[Goal, ...]


@dataclasses.dataclass(frozen=True)
class _Lock:
    until: float


class SharedGoals:
    """The goals in the work bucket: every instance reads them there; one at a time asks."""

    def __init__(
        self,
        store: ObjectStore,
        layout: WorkLayout,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        wait_s: float = GOALS_WAIT_S,
    ) -> None:
        self.store = store
        self.layout = layout
        self.clock = clock
        self.sleep = sleep
        self.wait_s = wait_s

    def read(self, counter_id: int) -> KeptGoals | None:
        try:
            found = self.store.read_bytes(self.layout.goals(counter_id))
            return None if found is None else codec.from_json(found[0], KeptGoals)
        except (StoreError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.warning("the kept goals are unreadable", extra={"error": str(exc)})
            return None

    def write(self, counter_id: int, goals: tuple[Goal, ...]) -> None:
        kept = KeptGoals(self.clock(), goals)
        with contextlib.suppress(StoreError):  # the next reader asks Metrica again
            self.store.write_bytes(
                self.layout.goals(counter_id),
                codec.encode_json(kept),
                content_type="application/json",
                metadata=marked(Role.GOALS),
            )

    def claim(self, counter_id: int) -> bool:
        """True when this caller is to ask Metrica: nobody else is, or their claim ran out."""
        name = self.layout.goals_lock(counter_id)
        body = codec.encode_json(_Lock(self.clock() + GOALS_LOCK_S))
        for _ in range(2):
            try:
                self.store.write_bytes(
                    name, body, content_type="application/json",
                    metadata=marked(Role.GOALS_LOCK), if_generation_match=0,
                )  # fmt: skip
                return True
            except PreconditionFailed:
                found = self.store.read_bytes(name)
                if found is None:
                    continue
                if codec.from_json(found[0], _Lock).until > self.clock():
                    return False
                with contextlib.suppress(PreconditionFailed, ObjectNotFound):
                    self.store.delete(name, if_generation_match=found[1])  # ran out: take it
            except StoreError:
                return True  # the bucket is unwell: asking is better than waiting
        return False

    def release(self, counter_id: int) -> None:
        with contextlib.suppress(StoreError):
            self.store.delete(self.layout.goals_lock(counter_id))

    def wait_for(self, counter_id: int, newer_than: float) -> KeptGoals | None:
        """The goals once another instance has written them (newer than `newer_than`)."""
        waited = 0.0
        while waited < self.wait_s:
            self.sleep(_WAIT_STEP_S)  # another instance asks Metrica: poll for its answer
            waited += _WAIT_STEP_S
            kept = self.read(counter_id)
            if kept is not None and kept.read_at > newer_than:
                return kept
        return None


class GoalCache:
    """`goals(counter)` -> (goals, None) or (None, why they could not be read)."""

    def __init__(
        self,
        metrika: MetrikaAccounts,
        *,
        ttl_s: float = GOALS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedGoals | None = None,
    ) -> None:
        self._metrika = metrika
        self._ttl_s = ttl_s
        self._clock = clock
        self._shared = shared
        self._lock = threading.Lock()
        self._kept: dict[int, tuple[float, tuple[Goal, ...]]] = {}

    def goals(self, counter_id: int) -> tuple[tuple[Goal, ...] | None, str | None]:
        now = self._clock()
        with self._lock:
            kept = self._kept.get(counter_id)
        if kept is not None and now - kept[0] < self._ttl_s:
            return kept[1], None
        if not self._metrika.has_token(counter_id):
            return None, "no Metrica token for the counter"
        if self._shared is None:
            return self._ask(counter_id, now, None)
        stored = self._shared.read(counter_id)
        fresh_since = self._shared.clock() - self._ttl_s
        if stored is not None and stored.read_at > fresh_since:
            return self._keep(counter_id, now, stored.goals)
        if not self._shared.claim(counter_id):
            answered = self._shared.wait_for(counter_id, fresh_since)
            if answered is not None:
                return self._keep(counter_id, now, answered.goals)
            if stored is not None:
                return stored.goals, None  # old goals beat none; not kept, asked again soon
            return self._ask(counter_id, now, None)  # the asker is stuck: ask ourselves
        try:
            # Another instance may have asked and released between our read and our claim.
            again = self._shared.read(counter_id)
            if again is not None and again.read_at > fresh_since:
                return self._keep(counter_id, now, again.goals)
            return self._ask(counter_id, now, again or stored)
        finally:
            self._shared.release(counter_id)

    def _ask(
        self, counter_id: int, now: float, stored: KeptGoals | None
    ) -> tuple[tuple[Goal, ...] | None, str | None]:
        try:
            goals = self._metrika.goals(counter_id, max_attempts=GOALS_ATTEMPTS)
        except MetrikaError as exc:
            if stored is not None:
                log.warning(
                    "could not read the counter's goals; using those read before",
                    extra={"counter_id": counter_id, "error": str(exc)},
                )
                return stored.goals, None
            log.warning(
                "could not read the counter's goals; checking without them",
                extra={"counter_id": counter_id, "error": str(exc)},
            )
            return None, str(exc)
        if self._shared is not None:
            self._shared.write(counter_id, goals)
        return self._keep(counter_id, now, goals)

    def _keep(
        self, counter_id: int, now: float, goals: tuple[Goal, ...]
    ) -> tuple[tuple[Goal, ...] | None, str | None]:
        with self._lock:
            self._kept[counter_id] = (now, goals)
        return goals, None


class GoalCheck:
    """Checks a BASIC file's Target values against its counter's goals, once it is checked.

    Only a file with rows to send is looked at, so a file rejected on its own costs Metrica
    nothing. The route's `unknown_goals` (UNKNOWN_GOALS, a folder's settings or the file's
    metadata) is `warning` (the rows go; the warning lists the unknown values) or `error`
    (the file is rejected with `unknown-goal-rejected`).
    """

    def __init__(self, cache: GoalCache) -> None:
        self.cache = cache

    def review(self, routing: Route, report: Report) -> tuple[Report, Problem | None]:
        """The report with the goal warnings added (and its Target tally dropped: the job
        keeps only the warnings), and the problem that rejects the file, if any."""
        warnings, problem = self._findings(routing, report)
        report = dataclasses.replace(report, warnings=report.warnings + warnings, targets=None)
        return report, problem

    def _findings(
        self, routing: Route, report: Report
    ) -> tuple[tuple[WarningSummary, ...], Problem | None]:
        if not report.valid or report.targets is None or routing.counter_id is None:
            return (), None
        goals, unreadable = self.cache.goals(routing.counter_id)
        if goals is None:
            return (unreadable_goals(unreadable or "unknown reason"),), None
        loose = review_conditions(report.targets, goals)
        also = (loose,) if loose is not None else ()
        summary = review_targets(report.targets, goals)
        if summary is None:
            return also, None
        if routing.unknown_goals is not UnknownGoals.ERROR:
            return (summary, *also), None
        code = Code.UNKNOWN_GOAL_REJECTED
        problem = Problem(code, message(code, summary=summary.message))
        return (summary, *also), problem
