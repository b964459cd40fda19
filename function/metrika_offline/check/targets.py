"""Does a `Target` name one of the counter's goals? Pure: the goals come in as data.

Offline conversions name a goal by its identifier: the `url` of a condition of a
JavaScript-event (`action`) goal. The documentation asks for an exact condition; a value that
matches only a `contain`, `start` or `regexp` condition is told apart (`exactly`), since
Metrica may count it as goal not found (`action` conditions are read as exact). A value that
matches no identifier is an unknown goal: Metrica accepts the file and hours later counts it in
`goal_not_found_quantity`. A value equal to a goal's display *name* (case and spaces aside)
says which identifier was probably meant.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from metrika_offline.types import Goal

__all__ = ["MAX_DISTINCT_TARGETS", "GoalMatcher", "TargetTally"]

#: Distinct Target values remembered per file.
MAX_DISTINCT_TARGETS = 10_000
_CACHE_LIMIT = 10_000


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


class GoalMatcher:
    """Answers "is this Target a goal identifier?" for one counter's goals, with memory."""

    def __init__(self, goals: Sequence[Goal]) -> None:
        self._exact: set[str] = set()
        self._contain: list[str] = []
        self._start: list[str] = []
        self._patterns: list[re.Pattern[str]] = []
        self._by_name: dict[str, str] = {}
        for goal in goals:
            if not goal.is_javascript_event:
                continue
            identifiers = [c for c in goal.conditions if c.url]
            for condition in identifiers:
                self._add(condition.type, condition.url)
            exact = [c.url for c in identifiers if c.type in {"exact", "action"}]
            if goal.name and (exact or identifiers):
                self._by_name.setdefault(_folded(goal.name), (exact or [identifiers[0].url])[0])
        self._known: dict[str, bool] = {}

    def _add(self, kind: str, url: str) -> None:
        if kind == "contain":
            self._contain.append(url)
        elif kind == "start":
            self._start.append(url)
        elif kind == "regexp":
            try:
                self._patterns.append(re.compile(url))
            except re.error:
                self._exact.add(url)  # a pattern Python cannot read: at least its own text
        else:
            self._exact.add(url)

    @property
    def has_goals(self) -> bool:
        """True when the counter has at least one JavaScript-event goal with an identifier."""
        return bool(self._exact or self._contain or self._start or self._patterns)

    def known(self, value: str) -> bool:
        """True when `value` is (or matches) a JavaScript-event goal's identifier."""
        found = self._known.get(value)
        if found is None:
            found = (
                value in self._exact
                or any(part in value for part in self._contain)
                or value.startswith(tuple(self._start))
                or any(pattern.search(value) for pattern in self._patterns)
            )
            if len(self._known) < _CACHE_LIMIT:
                self._known[value] = found
        return found

    def exactly(self, value: str) -> bool:
        """True when `value` is the identifier of an exact (or `action`) condition."""
        return value in self._exact

    def meant(self, value: str) -> str | None:
        """The identifier of the goal whose display name `value` is, if any."""
        return self._by_name.get(_folded(value))


class TargetTally:
    """The Target values of the rows kept, with their counts and first lines.

    Goal identifiers are few; past MAX_DISTINCT_TARGETS distinct values (the column holds
    something else) later new values are only counted in `untracked_rows`.
    """

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}  # value -> [rows, first line]
        self.untracked_rows = 0

    def add_batch(self, values: Sequence[str], lines: Sequence[int], left_out: set[int]) -> None:
        """Count one batch's Target cells, leaving out the rows at `left_out`."""
        batch = Counter(values)  # counted in C; the rows left out are taken back below
        for row in left_out:
            batch[values[row]] -= 1
        batch.pop("", None)
        counts = self._counts
        first: dict[str, int] | None = None
        for value, rows in batch.items():
            if rows <= 0:
                continue
            entry = counts.get(value)
            if entry is not None:
                entry[0] += rows
            elif len(counts) < MAX_DISTINCT_TARGETS:
                if first is None:  # built once per batch, only when a new value shows up
                    first = {}
                    for row, cell in enumerate(values):
                        if row not in left_out:
                            first.setdefault(cell, row)
                counts[value] = [rows, lines[first[value]]]
            else:
                self.untracked_rows += rows

    def frozen(self) -> Mapping[str, tuple[int, int]]:
        """value -> (rows, first line)."""
        return MappingProxyType({value: (e[0], e[1]) for value, e in self._counts.items()})
