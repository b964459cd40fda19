"""The client's values: the `uploading` object, markers and comments."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrika_offline.metrika.marker import (
    COMMENT_MAX_CHARS,
    clean_comment,
    comment_has_marker,
    make_comment,
    make_marker,
)
from metrika_offline.metrika.models import FINAL_STATUSES, STATUSES, Uploading
from tests.fakes.metrika import comment_problem

SAMPLE = {
    "id": 17,
    "create_time": "2025-01-01T00:00:00Z",
    "source_quantity": 10,
    "line_quantity": 8,
    "comment": "October batch mo0123456789ab",
    "type": "CHATS",
    "client_id_type": "USER_ID",
    "status": "MATCHED",
    "goal_not_found_quantity": 1,
    "user_not_found_quantity": 2,
    "linked_quantity": 5,
}


def test_uploading_round_trips_metrica_json() -> None:
    uploading = Uploading.from_json(SAMPLE)
    assert uploading.id == 17
    assert uploading.type == "CHATS"
    assert uploading.dropped_quantity == 2
    assert dataclasses.asdict(uploading) == SAMPLE


def test_uploading_reads_missing_counters_as_zero_and_missing_client_id_type_as_none() -> None:
    uploading = Uploading.from_json({"id": "5", "status": "PREPARED"})
    assert uploading.id == 5
    assert uploading.linked_quantity == 0
    assert uploading.client_id_type is None
    assert not uploading.is_final


@pytest.mark.parametrize("status", STATUSES)
def test_only_processed_and_linkage_failure_are_final(status: str) -> None:
    uploading = Uploading.from_json({**SAMPLE, "status": status})
    assert uploading.is_final is (status in {"PROCESSED", "LINKAGE_FAILURE"})
    assert (status in FINAL_STATUSES) is uploading.is_final


@pytest.mark.parametrize(
    "bad", [{}, {"id": None}, {"id": "x"}, {"id": 1, "linked_quantity": True}, {"id": []}]
)
def test_uploading_refuses_what_is_not_one(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a Metrica uploading object"):
        Uploading.from_json(bad)


def test_marker_is_short_lowercase_and_deterministic() -> None:
    marker = make_marker("bucket", "incoming/leads.csv", 1712345678901234, 0)
    assert re.fullmatch(r"mo[0-9a-z]{12}", marker)
    assert marker == make_marker("bucket", "incoming/leads.csv", 1712345678901234, 0)


def test_marker_changes_with_each_input() -> None:
    base = ("bucket", "incoming/leads.csv", 7, 0)
    variants = [
        ("other", "incoming/leads.csv", 7, 0),
        ("bucket", "incoming/leads2.csv", 7, 0),
        ("bucket", "incoming/leads.csv", 8, 0),
        ("bucket", "incoming/leads.csv", 7, 1),
        # the separator keeps ("ab", "c") and ("a", "bc") apart
        ("bucke", "tincoming/leads.csv", 7, 0),
    ]
    markers = {make_marker(*base)} | {make_marker(*v) for v in variants}
    assert len(markers) == len(variants) + 1


@pytest.mark.parametrize(
    ("given_text", "cleaned"),
    [
        ("October batch", "October batch"),
        ("leads-2026_11 #3 (CRM)", "leads 2026 11 3 CRM"),
        ("Звонки за ноябрь, часть 2!", "Звонки за ноябрь часть 2"),
        ("Ёлка ёж", "Ёлка ёж"),
        ("tab\tnew\nline", "tab new line"),
        ("emoji 🚀 and 中文", "emoji and"),
        ("superscript ² digit", "superscript digit"),
        ("Kelvin \u212a, dotted \u0130, digraph \u01c5", "Kelvin dotted digraph"),
        ("", ""),
    ],
)
def test_clean_comment_keeps_digits_latin_cyrillic_and_single_spaces(
    given_text: str, cleaned: str
) -> None:
    assert clean_comment(given_text) == cleaned


def test_comment_is_cut_to_fit_the_marker_within_255() -> None:
    marker = make_marker("b", "n", 1, 2)
    comment = make_comment("x" * 1000, marker)
    assert len(comment) == COMMENT_MAX_CHARS
    assert comment.endswith(" " + marker)


def test_empty_comment_is_the_marker_alone() -> None:
    marker = make_marker("b", "n", 1, 2)
    assert make_comment("  ## ", marker) == marker


@pytest.mark.parametrize("marker", ["", "MO12", "mo-12", "mo 12", "x" * 255])
def test_make_comment_refuses_markers_metrica_would_mangle(marker: str) -> None:
    with pytest.raises(ValueError, match="marker"):
        make_comment("ok", marker)


@given(text=st.text(max_size=400), part=st.integers(min_value=0, max_value=10_000))
def test_every_comment_passes_the_fakes_independent_rules(text: str, part: int) -> None:
    marker = make_marker("bucket", "name", 1, part)
    comment = make_comment(text, marker)
    assert len(comment) <= COMMENT_MAX_CHARS
    assert comment_problem(comment) is None
    assert comment_has_marker(comment, marker)


@pytest.mark.parametrize("text", ["a#b", "\u212a", "\u0130", "ok\u0483", "x" * 256])
def test_the_fake_refuses_what_metrica_refuses(text: str) -> None:
    assert comment_problem(text) is not None


def test_marker_is_found_as_a_word_not_as_a_substring() -> None:
    assert comment_has_marker("batch mo123", "mo123")
    assert not comment_has_marker("batch mo1234", "mo123")
    assert not comment_has_marker("batch xmo123", "mo123")
