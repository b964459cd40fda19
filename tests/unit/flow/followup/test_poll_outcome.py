"""A file's Metrica outcome from its parts' upload statuses, and the warnings it brings."""

from __future__ import annotations

import dataclasses

import pytest

from metrika_offline.flow.record.job import GAVE_UP, Job, MetrikaOutcome, Part, PartState, Source
from metrika_offline.flow.record.metrika_report import outcome_of
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.metrika.models import Uploading
from metrika_offline.types import ConversionType

NOW = 1_796_040_000.0  # 2026-11-30 12:00 UTC


def uploaded(
    index: int, status: str, *, sent: int = 10, accepted: int = 10, linked: int = 10
) -> Part:
    uploading = Uploading(
        index, "2026-11-30 10:00:00", sent, accepted, "c", "BASIC", None, status, 0, 0, linked
    )
    return Part(
        index, f"w/{index}", sent, 100, f"mo{index}", "c", PartState.UPLOADED, 1, None, uploading
    )


def job_of(*parts: Part) -> Job:
    return Job(
        source=Source("b", "incoming/a.csv", 1, 100),
        routing=Route(1, ConversionType.BASIC, "c", Mode.UPLOAD, {}),
        parts=parts,
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("PROCESSED", "PROCESSED"), MetrikaOutcome.PROCESSED),
        (("PROCESSED", "MATCHED"), MetrikaOutcome.PENDING),
        (("LINKAGE_FAILURE", "LINKAGE_FAILURE"), MetrikaOutcome.LINKAGE_FAILURE),
        (("PROCESSED", "LINKAGE_FAILURE"), MetrikaOutcome.PARTIALLY_PROCESSED),
        (("PROCESSED", GAVE_UP), MetrikaOutcome.STATUS_UNKNOWN),
        ((), MetrikaOutcome.STATUS_UNKNOWN),
    ],
)
def test_the_outcome_follows_the_parts(statuses: tuple[str, ...], expected: MetrikaOutcome) -> None:
    parts = tuple(uploaded(i, s) for i, s in enumerate(statuses, 1))
    assert outcome_of(job_of(*parts), NOW).outcome is expected


def test_counters_are_summed_over_uploaded_parts_only() -> None:
    failed = dataclasses.replace(uploaded(3, "PROCESSED", sent=50), state=PartState.FAILED)
    outcome = outcome_of(
        job_of(uploaded(1, "PROCESSED", linked=4), uploaded(2, "PROCESSED", accepted=8), failed),
        NOW,
    )
    assert (outcome.rows_sent, outcome.source_quantity, outcome.line_quantity) == (20, 20, 18)
    assert outcome.linked_quantity == 14
    assert outcome.checked_at == "2026-11-30T12:00:00+00:00"
    codes = {w.code: w.count for w in outcome.warnings}
    assert codes == {"rows-dropped-by-metrika": 2}


def test_no_warnings_while_metrica_works() -> None:
    outcome = outcome_of(job_of(uploaded(1, "MATCHED", accepted=1, linked=0)), NOW)
    assert outcome.outcome is MetrikaOutcome.PENDING
    assert outcome.warnings == ()


def test_few_linked_says_how_many_did_not() -> None:
    outcome = outcome_of(job_of(uploaded(1, "PROCESSED", linked=3)), NOW)
    (warning,) = outcome.warnings
    assert (warning.code, warning.count) == ("few-linked", 7)
    assert "only 3 of 10 conversions linked" in warning.message
