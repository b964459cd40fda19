"""Metrica's goals answer read into goals, the odd entries skipped."""

from __future__ import annotations

from metrika_offline.metrika.goals import parse_goals
from metrika_offline.types import GoalCondition


def test_goals_are_read_as_metrica_lists_them_and_odd_ones_skipped() -> None:
    answer = {
        "goals": [
            {"id": 1, "name": "A", "type": "action", "conditions": [{"type": "exact", "url": "a"}]},
            {"id": 2, "name": "Steps", "type": "step", "steps": [{"id": 3}]},
            {"name": "no id"},
            "not an object",
        ]
    }
    goals = parse_goals(answer)
    assert [g.id for g in goals] == [1, 2]
    assert goals[0].conditions == (GoalCondition("exact", "a"),)
    assert goals[1].conditions == ()
