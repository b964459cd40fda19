"""What a user should hear about Metrica's outcome for a file: a warning per kind of loss.

Each warning is a rule: when it applies, how many rows it concerns, and what to do about it.
The codes are part of the contract (docs/contract.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from metrika_offline.check.report import WarningSummary
from metrika_offline.flow.jobs import MetrikaOutcome, Outcome

#: Below this share of accepted rows linked, a warning says what usually causes it.
FEW_LINKED_RATIO = 0.5


@dataclasses.dataclass(frozen=True)
class _Rule:
    code: str
    count: Callable[[MetrikaOutcome], int]  # rows concerned; 0 = the rule does not apply
    message: Callable[[MetrikaOutcome], str]


def _unknown(o: MetrikaOutcome) -> int:
    return 1 if o.outcome is Outcome.STATUS_UNKNOWN else 0


def _dropped(o: MetrikaOutcome) -> int:
    accepted, sent = o.line_quantity, o.rows_sent
    if 0 < accepted < sent or (o.outcome is not Outcome.STATUS_UNKNOWN and not accepted):
        return sent - accepted
    return 0


def _few_linked(o: MetrikaOutcome) -> int:
    accepted, linked = o.line_quantity, o.linked_quantity
    if o.outcome is Outcome.STATUS_UNKNOWN or not accepted:
        return 0
    return accepted - linked if linked / accepted < FEW_LINKED_RATIO else 0


RULES: tuple[_Rule, ...] = (
    _Rule(
        "status-unknown",
        _unknown,
        lambda _: (
            "Metrica did not report a final status in time; check the "
            "upload in Metrica's interface before sending the file again"
        ),
    ),
    _Rule(
        "rows-dropped-by-metrika",
        _dropped,
        lambda o: (
            f"Metrica accepted {o.line_quantity} of {o.rows_sent} rows sent; the rest failed its "
            "own validation (usually an ID of the wrong kind or a date it does not accept)"
        ),
    ),
    _Rule(
        "few-linked",
        _few_linked,
        lambda o: (
            f"only {o.linked_quantity} of {o.line_quantity} conversions linked to a visit: "
            "usually the conversions are older than the linking window (21 days with the "
            "extended window, otherwise less), or the IDs belong to another counter or are of "
            "the wrong type"
        ),
    ),
    _Rule(
        "goal-not-found",
        lambda o: o.goal_not_found_quantity,
        lambda _: (
            "Metrica found no goal for some Target values: Target must be the goal's "
            "identifier from the goal settings, not its display name"
        ),
    ),
    _Rule(
        "user-not-found",
        lambda o: o.user_not_found_quantity,
        lambda _: (
            "Metrica found no user for some IDs: check that ClientId/UserId/Yclid come from "
            "this counter"
        ),
    ),
)


def outcome_warnings(outcome: MetrikaOutcome) -> tuple[WarningSummary, ...]:
    """The warnings that apply to a file's outcome; none while Metrica is still working."""
    if outcome.outcome is Outcome.PENDING:
        return ()
    return tuple(
        WarningSummary(rule.code, count, None, None, rule.message(outcome))
        for rule in RULES
        if (count := rule.count(outcome)) > 0
    )
