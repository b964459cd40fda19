"""The local folder store: what only a folder has (files dropped by hand, edits behind the
store's back, names a filesystem cannot hold). The shared contract is in
tests/integration/store/test_contract.py, run against this store and Cloud Storage."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from metrika_offline.errors import ObjectNotFound, PreconditionFailed, StoreError
from metrika_offline.store.base import ObjectStore
from metrika_offline.store.local import META_DIR, LocalStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "bucket"
    folder.mkdir()
    return folder


def test_it_is_an_object_store(root: Path) -> None:
    store: ObjectStore = LocalStore(root, bucket="my-bucket")
    assert store.bucket == "my-bucket"
    assert LocalStore(root).bucket == "local"


def test_a_file_dropped_by_hand_is_an_object_with_its_mtime_as_generation(root: Path) -> None:
    (root / "incoming").mkdir()
    dropped = root / "incoming" / "leads.csv"
    dropped.write_bytes(b"a,b\n")
    os.utime(dropped, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    store = LocalStore(root)
    info = store.stat("incoming/leads.csv")
    assert info is not None
    assert (info.generation, info.size, dict(info.metadata)) == (1_700_000_000_000_000_000, 4, {})
    assert store.read_bytes("incoming/leads.csv") == (b"a,b\n", 1_700_000_000_000_000_000)
    # Compare-and-swap works against that generation too.
    with pytest.raises(PreconditionFailed):
        store.write_bytes("incoming/leads.csv", b"x", if_generation_match=0)
    after = store.write_bytes(
        "incoming/leads.csv", b"x", if_generation_match=1_700_000_000_000_000_000
    )
    assert after > 1_700_000_000_000_000_000


def test_an_edit_behind_the_stores_back_is_a_new_generation_without_metadata(root: Path) -> None:
    store = LocalStore(root)
    written = store.write_bytes("a.csv", b"one", metadata={"counter-id": "1"})
    (root / "a.csv").write_bytes(b"edited by hand")
    info = store.stat("a.csv")
    assert info is not None
    assert info.generation != written
    assert dict(info.metadata) == {}
    with pytest.raises(PreconditionFailed):
        store.write_bytes("a.csv", b"stale", if_generation_match=written)


def test_the_bookkeeping_folder_is_hidden_and_cleaned_up(root: Path) -> None:
    store = LocalStore(root)
    store.write_bytes("deep/er/x.csv", b"x", metadata={"k": "v"})
    store.write_bytes("top.csv", b"t")
    assert [i.name for i in store.list("")] == ["deep/er/x.csv", "top.csv"]
    assert (root / META_DIR).is_dir()
    store.delete("deep/er/x.csv")
    assert not (root / "deep").exists()
    assert [i.name for i in store.list("")] == ["top.csv"]
    assert not list((root / META_DIR / "tmp").iterdir())


@pytest.mark.parametrize(
    "name", ["", "/abs.csv", "../escape.csv", "a/../b.csv", "a//b.csv", "dir/", f"{META_DIR}/x"]
)
def test_names_a_folder_cannot_hold_safely_are_refused(root: Path, name: str) -> None:
    store = LocalStore(root)
    with pytest.raises(StoreError):
        store.write_bytes(name, b"x")
    with pytest.raises(StoreError):
        store.open_write(name)


def test_a_reader_keeps_its_version_across_a_replace(root: Path) -> None:
    store = LocalStore(root)
    first = store.write_bytes("v.csv", b"first")
    with store.open_read("v.csv", first) as reader:
        store.write_bytes("v.csv", b"second")
        assert reader.read() == b"first"
    with pytest.raises(ObjectNotFound):
        store.open_read("v.csv", first)


def test_stores_on_one_folder_share_the_lock(root: Path) -> None:
    stores = [LocalStore(root) for _ in range(6)]
    start = threading.Barrier(len(stores))
    won: list[int] = []

    def race(index: int) -> None:
        start.wait(timeout=10)
        try:
            stores[index].write_bytes("claim", str(index).encode(), if_generation_match=0)
        except PreconditionFailed:
            return
        won.append(index)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(won) == 1
    assert stores[0].read_bytes("claim") is not None


def test_a_folder_object_and_a_deeper_object_cannot_share_a_name(root: Path) -> None:
    # Cloud Storage allows both `a` and `a/b`; a filesystem does not. Say so clearly.
    store = LocalStore(root)
    store.write_bytes("a", b"file")
    with pytest.raises(StoreError):
        store.write_bytes("a/b", b"below a file")
    assert store.read_bytes("a") is not None
