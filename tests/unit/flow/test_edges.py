"""Edges of the flow's small pieces that a mutation run found unpinned: leases at their
boundary, the invocation's deadline, and the pending index written twice or read past a bad
entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrika_offline.config import Settings
from metrika_offline.flow.deadline import DEADLINE_MARGIN_S, Deadline
from metrika_offline.flow.followup.pending import PendingUpload, add_pending, list_pending
from metrika_offline.flow.record.job import Lease
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.store.local import LocalStore

NOW = 1_795_000_000.0


def test_a_lease_is_held_only_by_another_owner_and_only_before_it_ends() -> None:
    lease = Lease("a", until=NOW + 10)
    assert lease.held_by_other("b", NOW)
    assert not lease.held_by_other("a", NOW)  # one's own live lease never blocks
    assert not lease.held_by_other("b", NOW + 10)  # at its end it may be taken over
    assert not lease.held_by_other("b", NOW + 11)


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


def _entry(uploading_id: int) -> PendingUpload:
    return PendingUpload(51234567, uploading_id, "incoming/a.csv", 7, 1, NOW)


def test_indexing_an_upload_twice_keeps_the_first_entry(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    layout = WorkLayout("work/")
    add_pending(store, layout, _entry(42))
    first = store.stat(layout.pending(51234567, 42))
    assert first is not None
    assert first.name.startswith(f"{layout.pending_prefix}51234567/")
    add_pending(store, layout, _entry(42))  # a retried part indexes the same upload again
    again = store.stat(layout.pending(51234567, 42))
    assert again is not None
    assert again.generation == first.generation
    listed = list(list_pending(store, layout))
    assert [e.upload for e in listed] == [_entry(42)]
    assert [e.object_name for e in listed] == [first.name]


def test_an_unreadable_entry_does_not_hide_the_ones_after_it(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    layout = WorkLayout("work/")
    store.write_bytes(layout.pending(1, 1), b"{}", metadata={"counter_id": "not a number"})
    add_pending(store, layout, _entry(42))
    assert [e.upload for e in list_pending(store, layout)] == [_entry(42)]
