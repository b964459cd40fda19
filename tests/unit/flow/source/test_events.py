"""Event decoding and the filter that keeps the function away from its own writes."""

from __future__ import annotations

import pytest

from metrika_offline.config import Settings
from metrika_offline.flow.record.layout import ROLE_KEY
from metrika_offline.flow.source.events import EventKind, ObjectEvent, classify

SETTINGS = Settings()


def event(name: str, **metadata: str) -> ObjectEvent:
    return ObjectEvent("b", name, 1, 10, metadata)


def test_decodes_the_gcs_object_resource() -> None:
    decoded = ObjectEvent.from_cloud_event(
        {"id": "e1", "time": "2026-11-24T10:00:00Z"},
        {
            "bucket": "b",
            "name": "incoming/a.csv",
            "generation": "1732442400123456",
            "size": "2048",
            "metadata": {"counter-id": "5"},
        },
    )
    assert decoded.generation == 1732442400123456
    assert decoded.size == 2048
    assert decoded.metadata == {"counter-id": "5"}
    assert decoded.event_time == 1795514400.0


@pytest.mark.parametrize("name", ["incoming/a.csv", "incoming/x/B.CSV", "incoming/1/calls/c.Csv"])
def test_user_csvs_are_sources(name: str) -> None:
    assert classify(event(name), SETTINGS).kind is EventKind.SOURCE


@pytest.mark.parametrize(
    ("name", "metadata", "reason"),
    [
        ("incoming/a.csv.result.json", {}, "own output"),
        ("incoming/a.csv.rejected.csv", {}, "own output"),
        ("incoming/renamed.csv", {ROLE_KEY: "rejects"}, "own output"),
        ("metrika-offline/parts/incoming/a.csv/1/part-00001.csv", {}, "own working"),
        ("metrika-offline/jobs/incoming/a.csv/1.json", {ROLE_KEY: "state"}, "own"),
        ("elsewhere/a.csv", {}, "outside the input prefix"),
        ("incoming/a.xlsx", {}, "not a .csv"),
    ],
)
def test_everything_else_is_skipped_with_a_reason(
    name: str, metadata: dict[str, str], reason: str
) -> None:
    decision = classify(event(name, **metadata), SETTINGS)
    assert decision.kind is EventKind.SKIP
    assert reason in decision.reason


def test_no_object_of_ours_is_work_to_do() -> None:
    """Uploads are tasks now: an old dispatch object left in a bucket is skipped."""
    name = "metrika-offline/dispatch/incoming/a.csv/1/part-00001.json"
    assert classify(event(name, **{ROLE_KEY: "dispatch"}), SETTINGS).kind is EventKind.SKIP
    assert classify(event(name), SETTINGS).kind is EventKind.SKIP
