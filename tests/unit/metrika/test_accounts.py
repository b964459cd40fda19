"""The pure parts of accounts and the goal check: settings parsing, token names, matching."""

from __future__ import annotations

import pytest

from metrika_offline.check.target_review import MAX_LISTED_VALUES, review_targets
from metrika_offline.check.targets import GoalMatcher
from metrika_offline.config import Settings, account_token_var
from metrika_offline.errors import ConfigError, NoTokenForCounter
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.metrika.goals import parse_goals
from metrika_offline.types import Goal, GoalCondition

GOALS = (
    Goal(1, "Заявка с сайта", "action", (GoalCondition("exact", "lead_form_sent"),)),
    Goal(2, "Звонок", "action", (GoalCondition("contain", "call"),)),
    Goal(3, "Контакты", "url", (GoalCondition("exact", "contacts"),)),
    Goal(4, "Заказ", "action", (GoalCondition("regexp", "^order_[0-9]+$"),)),
    Goal(5, "Сломанный", "action", (GoalCondition("regexp", "order_(["),)),
)


@pytest.mark.parametrize(
    ("account", "variable"),
    [
        ("client-a", "METRIKA_TOKEN_CLIENT_A"),
        ("Client B", "METRIKA_TOKEN_CLIENT_B"),
        ("ООО Ромашка", "METRIKA_TOKEN____________"),
        ("acme.ru", "METRIKA_TOKEN_ACME_RU"),
    ],
)
def test_each_accounts_token_variable_is_spelled_as_the_infrastructure_spells_it(
    account: str, variable: str
) -> None:
    assert account_token_var(account) == variable


def test_accounts_are_read_with_their_tokens_and_bad_maps_refused() -> None:
    env = {
        "METRIKA_ACCOUNTS": '{"51234567": "client-a", " 0062345678 ": "client-b"}',
        "METRIKA_TOKEN_CLIENT_A": " y0_a ",
    }
    settings = Settings.from_env(env)
    assert settings.metrika_accounts == {"51234567": "client-a", "62345678": "client-b"}
    assert settings.metrika_account_tokens == {"client-a": "y0_a"}
    assert "y0_a" not in repr(settings)
    for bad in ("[1, 2]", "{not json", '{"abc": "x"}', '{"1": ""}', '{"1": 2}'):
        with pytest.raises(ConfigError, match="METRIKA_ACCOUNTS"):
            Settings.from_env({"METRIKA_ACCOUNTS": bad})
    with pytest.raises(ConfigError, match="UNKNOWN_GOALS"):
        Settings.from_env({"UNKNOWN_GOALS": "maybe"})


def test_a_counter_is_served_by_its_account_or_by_no_one() -> None:
    accounts = MetrikaAccounts({}, {7: "client-a"})
    assert accounts.account_of(7) == "client-a"
    assert accounts.account_of(8) == "default"
    assert not accounts.has_token(7)
    with pytest.raises(NoTokenForCounter, match="METRIKA_TOKEN_CLIENT_A is not set"):
        accounts.client_for(7)
    with pytest.raises(NoTokenForCounter, match="set METRIKA_TOKEN"):
        accounts.client_for(8)


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
