"""The invocation's deadline: the margin it leaves before the platform stops, and the instant it
is reached."""

from __future__ import annotations

import pytest

from metrika_offline.config import Settings
from metrika_offline.flow.deadline import DEADLINE_MARGIN_S, Deadline


@pytest.mark.parametrize(
    ("timeout_s", "expected_budget_s"),
    [
        (540.0, 540.0 - DEADLINE_MARGIN_S),
        (60.0, 45.0),  # a short invocation keeps a quarter of itself, not the whole margin
    ],
)
def test_the_deadline_leaves_the_margin_before_the_platform_stops(
    timeout_s: float, expected_budget_s: float
) -> None:
    settings = Settings(invocation_timeout_s=timeout_s)
    assert Deadline.for_invocation(settings, started=1000.0).at == 1000.0 + expected_budget_s


def test_a_deadline_is_reached_at_its_instant() -> None:
    assert Deadline(at=5.0, clock=lambda: 5.0).reached()
    assert not Deadline(at=5.0, clock=lambda: 4.999).reached()
    assert not Deadline(clock=lambda: 1e12).reached()
