"""Metrica's final word on a file, from its parts' uploads (`outcome_of`), and what a user
should hear about it: a warning per kind of loss.

Each warning is a rule: when it applies and how many rows it concerns; what to do about it is
the code's message in the registry (`check/codes.py`).
The codes are part of the contract (docs/contract.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from metrika_offline.check.codes import Code, message
from metrika_offline.check.report import WarningSummary
from metrika_offline.flow.record.job import (
    GAVE_UP,
    Job,
    MetrikaOutcome,
    MetrikaReport,
    Part,
    PartState,
)
from metrika_offline.flow.record.result import utc_iso
from metrika_offline.metrika.models import FINAL_STATUSES, Uploading

#: Below this share of accepted rows linked, a warning says what usually causes it.
FEW_LINKED_RATIO = 0.5


@dataclasses.dataclass(frozen=True)
class _Rule:
    code: Code  # its message is the registry's template, filled from the outcome's counts
    count: Callable[[MetrikaReport], int]  # rows concerned; 0 = the rule does not apply


def _unknown(o: MetrikaReport) -> int:
    return 1 if o.outcome is MetrikaOutcome.STATUS_UNKNOWN else 0


def _dropped(o: MetrikaReport) -> int:
    accepted, sent = o.line_quantity, o.rows_sent
    if 0 < accepted < sent or (o.outcome is not MetrikaOutcome.STATUS_UNKNOWN and not accepted):
        return sent - accepted
    return 0


def _few_linked(o: MetrikaReport) -> int:
    accepted, linked = o.line_quantity, o.linked_quantity
    if o.outcome is MetrikaOutcome.STATUS_UNKNOWN or not accepted:
        return 0
    return accepted - linked if linked / accepted < FEW_LINKED_RATIO else 0


RULES: tuple[_Rule, ...] = (
    _Rule(Code.STATUS_UNKNOWN, _unknown),
    _Rule(Code.ROWS_DROPPED_BY_METRIKA, _dropped),
    _Rule(Code.FEW_LINKED, _few_linked),
    _Rule(Code.GOAL_NOT_FOUND, lambda o: o.goal_not_found_quantity),
    _Rule(Code.USER_NOT_FOUND, lambda o: o.user_not_found_quantity),
)


def _counts(outcome: MetrikaReport) -> dict[str, object]:
    return {f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome)}


def outcome_warnings(outcome: MetrikaReport) -> tuple[WarningSummary, ...]:
    """The warnings that apply to a file's outcome; none while Metrica is still working."""
    if outcome.outcome is MetrikaOutcome.PENDING:
        return ()
    return tuple(
        WarningSummary(rule.code, count, None, None, message(rule.code, **_counts(outcome)))
        for rule in RULES
        if (count := rule.count(outcome)) > 0
    )


# ------------------------------------------------------------------------ the file's outcome


def _sent(job: Job) -> list[tuple[Part, Uploading]]:
    return [
        (p, p.uploading)
        for p in job.parts
        if p.state is PartState.UPLOADED and p.uploading is not None
    ]


def _classify(statuses: Iterable[str]) -> MetrikaOutcome:
    """One outcome for the file from its uploads' statuses (none sent: unknown)."""
    seen = list(statuses)
    if not seen:
        return MetrikaOutcome.STATUS_UNKNOWN
    if any(s != GAVE_UP and s not in FINAL_STATUSES for s in seen):
        return MetrikaOutcome.PENDING
    if GAVE_UP in seen:
        return MetrikaOutcome.STATUS_UNKNOWN
    if all(s == "PROCESSED" for s in seen):
        return MetrikaOutcome.PROCESSED
    if all(s == "LINKAGE_FAILURE" for s in seen):
        return MetrikaOutcome.LINKAGE_FAILURE
    return MetrikaOutcome.PARTIALLY_PROCESSED


def outcome_of(job: Job, now: float) -> MetrikaReport:
    """The file-level outcome from its uploaded parts' Metrica statuses."""
    sent = _sent(job)
    totals = MetrikaReport(
        outcome=_classify(u.status for _, u in sent),
        checked_at=utc_iso(now),
        rows_sent=sum(p.rows for p, _ in sent),
        source_quantity=sum(u.source_quantity for _, u in sent),
        line_quantity=sum(u.line_quantity for _, u in sent),
        linked_quantity=sum(u.linked_quantity for _, u in sent),
        user_not_found_quantity=sum(u.user_not_found_quantity for _, u in sent),
        goal_not_found_quantity=sum(u.goal_not_found_quantity for _, u in sent),
    )
    return dataclasses.replace(totals, warnings=outcome_warnings(totals))
