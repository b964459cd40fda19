"""The object store contract, run against both stores: Cloud Storage through the real client
and the precondition proxy, and the local folder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from metrika_offline.errors import ObjectNotFound, PreconditionFailed
from metrika_offline.storage import ObjectStore
from metrika_offline.storage_local import LocalStore


@pytest.fixture(params=["gcs", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "gcs":
        yield request.getfixturevalue("gcs_stack").store
    else:
        yield LocalStore(tmp_path / "bucket")


def test_write_then_stat_and_read(store: ObjectStore) -> None:
    generation = store.write_bytes(
        "incoming/a b#1.csv", b"x,y\n", content_type="text/csv", metadata={"counter-id": "42"}
    )
    info = store.stat("incoming/a b#1.csv")
    assert info is not None
    assert (info.name, info.generation, info.size) == ("incoming/a b#1.csv", generation, 4)
    assert dict(info.metadata) == {"counter-id": "42"}
    assert info.content_type == "text/csv"
    assert info.bucket == store.bucket
    assert store.read_bytes("incoming/a b#1.csv") == (b"x,y\n", generation)


def test_missing_objects(store: ObjectStore) -> None:
    assert store.stat("nope") is None
    assert store.read_bytes("nope") is None
    with pytest.raises(ObjectNotFound):
        store.open_read("nope")
    store.delete("nope")  # absent is not an error


def test_create_only_refuses_a_second_create(store: ObjectStore) -> None:
    first = store.write_bytes("claim", b"mine", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        store.write_bytes("claim", b"theirs", if_generation_match=0)
    assert store.read_bytes("claim") == (b"mine", first)
