"""The pending index: an upload indexed twice keeps its first entry, and a bad entry does not
hide the ones after it."""

from __future__ import annotations

from pathlib import Path

from metrika_offline.flow.followup.pending import PendingUpload, add_pending, list_pending
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.store.local import LocalStore

NOW = 1_795_000_000.0


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
