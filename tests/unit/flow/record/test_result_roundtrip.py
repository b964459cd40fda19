"""The result JSON reads back as the records it was written from, for jobs of every shape:
result_of(job) encoded, decoded and encoded again gives the same records and the same bytes,
and every encoded result is valid against the published schema."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from metrika_offline.check.choices import DateOrder, DurationFormat, Encoding, OnBadOptional
from metrika_offline.check.report import (
    Issue,
    LedgerSummary,
    Report,
    RowCounts,
    UnknownTarget,
    WarningSummary,
)
from metrika_offline.flow.record.job import (
    GAVE_UP,
    Job,
    MetrikaOutcome,
    MetrikaReport,
    Part,
    PartState,
    Problem,
    Source,
    Status,
    Wait,
)
from metrika_offline.flow.record.result import decode_result, encode_result, result_of
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.metrika.models import Uploading
from metrika_offline.types import ConversionType, UnknownGoals
from tests.schema import check_result

NOW = 1_796_560_000.0  # 2026-12-06 12:26:40 UTC
CODES = st.sampled_from(["bad-datetime", "metrika-rejected", "unknown-goal", "few-linked"])
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
LINES = st.none() | st.integers(1, 10**6)
COUNTS = st.integers(0, 10**6)

issues = st.builds(Issue, CODES, LINES, st.none() | TEXT, TEXT)
targets = st.builds(UnknownTarget, TEXT, st.integers(1, 99), st.none() | TEXT)
warnings = st.builds(
    WarningSummary,
    CODES,
    st.integers(1, 10**6),
    LINES,
    st.none() | TEXT,
    TEXT,
    st.lists(targets, max_size=2).map(tuple),
)
problems = st.builds(
    Problem, CODES, TEXT, st.none() | st.integers(400, 599), st.none() | TEXT, st.none() | TEXT
)
uploadings = st.builds(
    Uploading,
    id=st.integers(1, 10**9),
    create_time=st.just("2026-12-06 12:00:00"),
    source_quantity=COUNTS,
    line_quantity=COUNTS,
    comment=TEXT,
    type=st.sampled_from(["BASIC", "CALLS", "CHATS"]),
    client_id_type=st.none() | st.just("CLIENT_ID"),
    status=st.sampled_from(["UPLOADED", "PROCESSED", "LINKAGE_FAILURE", GAVE_UP]),
    goal_not_found_quantity=COUNTS,
    user_not_found_quantity=COUNTS,
    linked_quantity=COUNTS,
)
parts = st.builds(
    Part,
    index=st.integers(1, 99),
    name=st.just("work/part-00001.csv"),
    rows=COUNTS,
    bytes=st.integers(1, 10**9),
    marker=st.from_regex(r"[0-9a-z]{4,12}", fullmatch=True),
    comment=TEXT,
    state=st.sampled_from(PartState),
    attempts=st.integers(0, 5),
    uploading=st.none() | uploadings,
    error=st.none() | problems,
    wait=st.none()
    | st.builds(Wait, st.just("metrika-not-ready"), TEXT, st.floats(NOW, NOW + 86_400 * 30)),
)
routes = st.builds(
    Route,
    counter_id=st.none() | st.integers(1, 10**9),
    type=st.sampled_from(ConversionType),
    comment=TEXT,
    mode=st.sampled_from(Mode),
    sources=st.just({"counter_id": "path", "type": "metadata"}),
    date_order=st.none() | st.sampled_from(DateOrder),
    duration_format=st.none() | st.sampled_from(DurationFormat),
    encoding=st.sampled_from(Encoding),
    on_bad_optional=st.sampled_from(OnBadOptional),
    column_map=st.dictionaries(TEXT, st.just("PhoneNumber"), max_size=2),
    ledger_window_days=st.sampled_from([0.0, 7.0, 28.0, 3.5]),
    unknown_goals=st.sampled_from(UnknownGoals),
    notify=st.sampled_from(["all", "none", "slack,telegram"]),
)
reports = st.builds(
    Report,
    valid=st.booleans(),
    rejected_reason=st.none() | issues,
    type=st.sampled_from(ConversionType),
    encoding=st.sampled_from(["utf-8", "windows-1251"]),
    delimiter=st.sampled_from([",", ";", "\t", None]),
    columns=st.lists(TEXT, max_size=3).map(tuple),
    rows=st.builds(RowCounts, COUNTS, COUNTS, COUNTS, COUNTS, COUNTS),
    errors=st.lists(issues, max_size=3).map(tuple),
    error_counts=st.dictionaries(CODES, st.integers(1, 99), max_size=2),
    errors_truncated=st.booleans(),
    warnings=st.lists(warnings, max_size=3).map(tuple),
    parts=st.just(()),
    dedupe_tracking_stopped_at_line=LINES,
    bytes_read=COUNTS,
    ledger=st.none() | st.builds(LedgerSummary, st.sampled_from(["on", "off"]), st.just(28.0)),
)
outcomes = st.builds(
    MetrikaReport,
    outcome=st.sampled_from(MetrikaOutcome),
    checked_at=st.just("2026-12-06T12:26:40+00:00"),
    rows_sent=COUNTS,
    linked_quantity=COUNTS,
    warnings=st.lists(warnings, max_size=2).map(tuple),
)
jobs = st.builds(
    Job,
    source=st.builds(
        Source, st.just("drop"), st.just("incoming/leads.csv"), st.integers(1, 2**62), COUNTS
    ),
    routing=routes,
    status=st.sampled_from(Status),
    created_at=st.floats(NOW - 86_400, NOW),
    updated_at=st.floats(NOW, NOW + 3_600),
    finished_at=st.none() | st.floats(NOW, NOW + 3_600),
    check=st.none() | reports,
    parts=st.lists(parts, max_size=3).map(tuple),
    rejects=st.none() | st.just("incoming/leads.csv.rejected.csv"),
    error=st.none() | problems,
    metrika=st.none() | outcomes,
)


@settings(max_examples=150, deadline=None)
@given(jobs)
def test_every_result_reads_back_as_the_records_it_was_written_from(job: Job) -> None:
    result = result_of(job)
    written = encode_result(result)
    assert decode_result(written) == result
    assert encode_result(decode_result(written)) == written
    check_result(json.loads(written))
