"""The goal check: each goal's conditions matched as Metrica means them, and the review of the
values that match no goal."""

from __future__ import annotations

from metrika_offline.check.target_review import MAX_LISTED_VALUES, review_targets
from metrika_offline.check.targets import GoalMatcher
from metrika_offline.types import Goal, GoalCondition

GOALS = (
    Goal(1, "Заявка с сайта", "action", (GoalCondition("exact", "lead_form_sent"),)),
    Goal(2, "Звонок", "action", (GoalCondition("contain", "call"),)),
    Goal(3, "Контакты", "url", (GoalCondition("exact", "contacts"),)),
    Goal(4, "Заказ", "action", (GoalCondition("regexp", "^order_[0-9]+$"),)),
    Goal(5, "Сломанный", "action", (GoalCondition("regexp", "order_(["),)),
)


def test_goal_conditions_are_matched_as_each_says() -> None:
    matcher = GoalMatcher(GOALS)
    assert matcher.known("lead_form_sent")
    assert not matcher.known("lead_form_sent ")  # exact is exact
    assert matcher.known("callback")
    assert matcher.known("missed_call")
    assert matcher.known("order_42")
    assert not matcher.known("order_x")
    assert not matcher.known("contacts")  # a page-view goal names no Target
    assert matcher.known("order_([")  # an unreadable pattern matches its own text only
    assert matcher.meant("  заявка   С сайта ") == "lead_form_sent"
    assert matcher.meant("Контакты") is None


def test_the_review_lists_the_most_frequent_values_with_their_meaning() -> None:
    targets = {"Заявка с сайта": (5, 2), "lead_form_sent": (9, 3), "purchase": (1, 7)}
    targets |= {f"junk{i}": (1, 10 + i) for i in range(30)}
    summary = review_targets(targets, GOALS)
    assert summary is not None
    assert (summary.code, summary.count, summary.line, summary.column) == (
        "unknown-goal",
        36,
        2,
        "Target",
    )
    assert len(summary.values) == MAX_LISTED_VALUES
    first = summary.values[0]
    assert (first.value, first.rows, first.did_you_mean) == ("Заявка с сайта", 5, "lead_form_sent")
    assert "32 distinct values" in summary.message
    assert review_targets({"lead_form_sent": (3, 2)}, GOALS) is None
