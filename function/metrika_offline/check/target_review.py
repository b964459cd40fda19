"""The `unknown-goal` warning: the Target values of a checked file against the counter's goals.

Runs after the check, on the values the checker tallied and the goals the caller read, so a
file rejected on its own never costs a request to Metrica. The warning lists the values (goal
identifiers, not personal data; each cut to 100 characters) with their row counts, most
frequent first, and for a value that is a goal's display name, the identifier it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from metrika_offline.check.report import UnknownTarget, WarningSummary
from metrika_offline.check.targets import GoalMatcher
from metrika_offline.types import Goal

__all__ = ["MAX_LISTED_VALUES", "review_conditions", "review_targets", "unreadable_goals"]

#: Unknown values listed in the warning (the row count stays exact).
MAX_LISTED_VALUES = 20
_VALUE_CHARS = 100


def review_targets(
    targets: Mapping[str, tuple[int, int]], goals: Sequence[Goal]
) -> WarningSummary | None:
    """`unknown-goal` for the values that match no JavaScript-event goal, or None."""
    matcher = GoalMatcher(goals)
    unknown = [
        (value, rows, line) for value, (rows, line) in targets.items() if not matcher.known(value)
    ]
    if not unknown:
        return None
    unknown.sort(key=lambda item: (-item[1], item[2]))
    listed: list[UnknownTarget] = []
    hints: list[str] = []
    for value, rows, _ in unknown[:MAX_LISTED_VALUES]:
        meant = matcher.meant(value)
        listed.append(UnknownTarget(value[:_VALUE_CHARS], rows, meant))
        if meant is not None:
            hints.append(f'"{value[:_VALUE_CHARS]}" → "{meant}"')
    total = sum(rows for _, rows, _ in unknown)
    message = (
        f"{total} rows have a Target that matches no JavaScript-event goal of the counter "
        f"({len(unknown)} distinct values, in `values`): Metrica would count them as goal not "
        "found. Target must be the goal's identifier, not its name"
    )
    if hints:
        message += "; these are goal names, use the identifier: " + ", ".join(hints)
    first_line = min(line for _, _, line in unknown)
    return WarningSummary("unknown-goal", total, first_line, "Target", message, tuple(listed))


def review_conditions(
    targets: Mapping[str, tuple[int, int]], goals: Sequence[Goal]
) -> WarningSummary | None:
    """`goal-condition-not-exact` for the values that match a JavaScript-event goal only by a
    `contain`, `start` or `regexp` condition, or None."""
    matcher = GoalMatcher(goals)
    loose = [
        (value, rows, line)
        for value, (rows, line) in targets.items()
        if matcher.known(value) and not matcher.exactly(value)
    ]
    if not loose:
        return None
    loose.sort(key=lambda item: (-item[1], item[2]))
    listed = tuple(UnknownTarget(v[:_VALUE_CHARS], rows, None) for v, rows, _ in loose)
    total = sum(rows for _, rows, _ in loose)
    message = (
        f"{total} rows have a Target that matches a JavaScript-event goal only by a contain, "
        f"start or regexp condition ({len(loose)} distinct values, in `values`): Metrica's "
        "documentation asks for a goal whose condition is exactly the identifier, and may count "
        "these as goal not found. The rows are sent; give the goal an exact condition with the "
        "identifier to be sure"
    )
    first_line = min(line for _, _, line in loose)
    return WarningSummary(
        "goal-condition-not-exact", total, first_line, "Target", message,
        listed[:MAX_LISTED_VALUES],
    )  # fmt: skip


def unreadable_goals(reason: str) -> WarningSummary:
    """`goals-unreadable`: the check went on without the goals."""
    return WarningSummary(
        "goals-unreadable",
        1,
        None,
        None,
        f"the counter's goals could not be read ({reason}): Target was not checked against them",
    )
