"""A counter's goals: `GET /management/v1/counter/{counterId}/goals` read into `types.Goal`.

The answer is `{"goals": [{"id", "name", "type", "conditions": [{"type", "url"}], …}]}`; a
JavaScript-event goal has `"type": "action"` and its identifier in `conditions[].url`. Fields
the Target check does not need are ignored, and so is a goal this code cannot read (a newer
goal type may carry `steps` instead of `conditions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metrika_offline.errors import MetrikaTransientError
from metrika_offline.metrika.models import as_int
from metrika_offline.types import Goal, GoalCondition

__all__ = ["parse_goals"]


def parse_goals(answer: Mapping[str, Any]) -> tuple[Goal, ...]:
    """The goals of a `goals` answer; MetrikaTransientError if it holds no list of them."""
    items = answer.get("goals")
    if not isinstance(items, list):
        raise MetrikaTransientError("Metrica's goals answer has no list")
    goals = []
    for item in items:
        goal = _goal(item)
        if goal is not None:
            goals.append(goal)
    return tuple(goals)


def _goal(item: Any) -> Goal | None:
    if not isinstance(item, Mapping):
        return None
    try:
        goal_id = as_int(item.get("id"))
    except (TypeError, ValueError):
        return None
    conditions = item.get("conditions")
    return Goal(
        id=goal_id,
        name=str(item.get("name") or ""),
        type=str(item.get("type") or ""),
        conditions=tuple(
            GoalCondition(type=str(c.get("type") or ""), url=str(c.get("url") or ""))
            for c in (conditions if isinstance(conditions, list) else [])
            if isinstance(c, Mapping)
        ),
    )
