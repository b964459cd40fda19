"""The counters' goals for the Target check: read once, kept a few minutes, never required.

One instance handles many files; reading the goals once per counter and keeping them for
`GOALS_TTL_S` saves requests from Metrica's daily quota (5000 per user). A failure is not
kept, and it does not stop the file: the check goes on without the goals and the report says
so (`goals-unreadable`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from metrika_offline.check.codes import Code, message
from metrika_offline.check.goal_review import (
    review_conditions,
    review_targets,
    unreadable_goals,
)
from metrika_offline.check.report import Report, WarningSummary
from metrika_offline.errors import MetrikaError
from metrika_offline.flow.jobs import Problem
from metrika_offline.flow.routing import Route
from metrika_offline.logs import get_logger
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.types import Goal, UnknownGoals

__all__ = ["GOALS_TTL_S", "GoalCache", "GoalCheck"]

log = get_logger("goals")

#: How long a counter's goals are trusted once read.
GOALS_TTL_S = 300.0
#: A goal list is nice to have: two tries, then the check goes on without it.
GOALS_ATTEMPTS = 2


class GoalCache:
    """`goals(counter)` -> (goals, None) or (None, why they could not be read)."""

    def __init__(
        self,
        metrika: MetrikaAccounts,
        *,
        ttl_s: float = GOALS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrika = metrika
        self._ttl_s = ttl_s
        self._clock = clock
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
        try:
            goals = self._metrika.goals(counter_id, max_attempts=GOALS_ATTEMPTS)
        except MetrikaError as exc:
            log.warning(
                "could not read the counter's goals; checking without them",
                extra={"counter_id": counter_id, "error": str(exc)},
            )
            return None, str(exc)
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
