"""The object store contract, run against both stores: Cloud Storage (the real client, through
the tap, on fake-gcs-server) and the local folder.

Preconditions on streamed writes and on deletes are checked on the local folder only:
fake-gcs-server ignores them (test_gcs.py beside it shows it), and the flow never relies on
them. Its claims stand on one-request writes, whose preconditions the emulator enforces."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from metrika_offline.errors import ObjectNotFound, PreconditionFailed
from metrika_offline.store.base import ObjectStore
from metrika_offline.store.local import LocalStore

MiB = 1024 * 1024


@pytest.fixture(params=["gcs", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "gcs":
        yield request.getfixturevalue("gcs_stack").store
    else:
        yield LocalStore(tmp_path / "bucket")


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    """For the preconditions Cloud Storage keeps and the emulator does not."""
    return LocalStore(tmp_path / "bucket")


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


def test_compare_and_swap_refuses_a_stale_generation(store: ObjectStore) -> None:
    first = store.write_bytes("state.json", b"1", if_generation_match=0)
    second = store.write_bytes("state.json", b"2", if_generation_match=first)
    assert second > first
    with pytest.raises(PreconditionFailed):
        store.write_bytes("state.json", b"stale", if_generation_match=first)
    assert store.read_bytes("state.json") == (b"2", second)


def test_a_swap_of_an_absent_object_fails(store: ObjectStore) -> None:
    with pytest.raises(PreconditionFailed):
        store.write_bytes("ghost", b"x", if_generation_match=12345)
    assert store.stat("ghost") is None


def test_every_write_gets_a_larger_generation_even_after_a_delete(store: ObjectStore) -> None:
    seen = [store.write_bytes("g", b"a")]
    seen.append(store.write_bytes("g", b"b"))
    store.delete("g")
    seen.append(store.write_bytes("g", b"c", if_generation_match=0))
    assert seen == sorted(seen)
    assert len(set(seen)) == 3


def test_racing_create_only_writes_have_exactly_one_winner(store: ObjectStore) -> None:
    racers = 8
    start = threading.Barrier(racers)
    outcomes: dict[int, str] = {}

    def race(index: int) -> None:
        start.wait(timeout=10)
        try:
            store.write_bytes("lease", f"racer {index}".encode(), if_generation_match=0)
        except PreconditionFailed:
            outcomes[index] = "lost"
        else:
            outcomes[index] = "won"

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [i for i, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == racers
    assert len(winners) == 1
    found = store.read_bytes("lease")
    assert found is not None
    assert found[0] == f"racer {winners[0]}".encode()


def test_racing_create_only_streams_have_exactly_one_winner(local_store: ObjectStore) -> None:
    # Every writer opens (passing the first check) before any commits: the check that
    # counts is the one made when the last chunk commits.
    writers = [local_store.open_write("part.csv", if_generation_match=0) for _ in range(6)]
    for index, writer in enumerate(writers):
        writer.write(f"writer {index}".encode())
    start = threading.Barrier(len(writers))
    outcomes: dict[int, str] = {}

    def commit(index: int) -> None:
        start.wait(timeout=10)
        try:
            writers[index].close()
        except PreconditionFailed:
            outcomes[index] = "lost"
        else:
            outcomes[index] = "won"

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [i for i, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == len(writers)
    assert len(winners) == 1
    found = local_store.read_bytes("part.csv")
    assert found is not None
    assert found[0] == f"writer {winners[0]}".encode()


def test_racing_compare_and_swap_updates_lose_no_increment(store: ObjectStore) -> None:
    store.write_bytes("counter", b"0", if_generation_match=0)
    workers, increments = 4, 5
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def bump() -> None:
        start.wait(timeout=10)
        done = 0
        try:
            while done < increments:
                found = store.read_bytes("counter")
                assert found is not None
                value, generation = found
                try:
                    store.write_bytes(
                        "counter", str(int(value) + 1).encode(), if_generation_match=generation
                    )
                except PreconditionFailed:
                    continue
                done += 1
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    found = store.read_bytes("counter")
    assert found is not None
    assert int(found[0]) == workers * increments


def test_read_bytes_returns_the_generation_of_those_bytes(store: ObjectStore) -> None:
    written = {store.write_bytes("flip", b"v0"): b"v0"}
    done = threading.Event()

    def writer() -> None:
        for i in range(1, 30):
            data = f"v{i}".encode()
            written[store.write_bytes("flip", data)] = data
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads: list[tuple[bytes, int]] = []
    while not done.is_set():
        found = store.read_bytes("flip")
        assert found is not None
        reads.append(found)
    thread.join(timeout=30)
    assert reads
    for data, generation in reads:
        assert written[generation] == data


def test_delete_with_a_precondition(local_store: ObjectStore) -> None:
    first = local_store.write_bytes("old.csv", b"1")
    second = local_store.write_bytes("old.csv", b"2")
    with pytest.raises(PreconditionFailed):
        local_store.delete("old.csv", if_generation_match=first)
    assert local_store.read_bytes("old.csv") == (b"2", second)
    local_store.delete("old.csv", if_generation_match=second)
    assert local_store.stat("old.csv") is None


def test_list_by_prefix_in_name_order(store: ObjectStore) -> None:
    for name in ["in/b.csv", "in/a.csv", "in/sub/c.csv", "inside.csv", "out/a.csv"]:
        store.write_bytes(name, name.encode())
    assert [i.name for i in store.list("in/")] == ["in/a.csv", "in/b.csv", "in/sub/c.csv"]
    assert [i.name for i in store.list("in")] == [
        "in/a.csv",
        "in/b.csv",
        "in/sub/c.csv",
        "inside.csv",
    ]
    assert [i.name for i in store.list("nothing/")] == []
    everything = list(store.list(""))
    assert len(everything) == 5
    assert all(i.size == len(i.name) and i.generation > 0 for i in everything)


def test_a_streamed_50_mb_write_and_read(store: ObjectStore) -> None:
    piece = hashlib.sha256(b"seed").digest() * (MiB // 32)  # 1 MiB, not all one byte
    sent = hashlib.sha256()
    with store.open_write("parts/big.csv", metadata={"kind": "part"}) as writer:
        for i in range(50):
            chunk = bytes([i]) + piece[1:]
            sent.update(chunk)
            writer.write(chunk)
    info = store.stat("parts/big.csv")
    assert info is not None
    assert info.size == 50 * MiB
    assert dict(info.metadata) == {"kind": "part"}
    assert info.content_type == "text/csv"
    received = hashlib.sha256()
    reader = store.open_read("parts/big.csv", info.generation)
    try:
        while block := reader.read(3 * MiB + 17):
            received.update(block)
    finally:
        reader.close()
    assert received.hexdigest() == sent.hexdigest()


def test_a_stream_stays_on_its_generation_or_fails(store: ObjectStore) -> None:
    first = store.write_bytes("moving.csv", b"first version")
    reader = store.open_read("moving.csv", first)
    store.write_bytes("moving.csv", b"second version, longer")
    try:
        # Either the old bytes (a local file keeps its inode) or a clear "gone", never a mix.
        assert reader.read() == b"first version"
    except ObjectNotFound:
        pass
    finally:
        reader.close()
    with pytest.raises(ObjectNotFound):
        store.open_read("moving.csv", first)


def test_an_aborted_writer_leaves_nothing(store: ObjectStore) -> None:
    def write_half() -> None:
        with store.open_write("half.csv") as writer:  # type: ignore[attr-defined]
            writer.write(b"a,b\n" * 1000)
            raise RuntimeError("the check failed halfway")

    with pytest.raises(RuntimeError):
        write_half()
    assert store.stat("half.csv") is None


def test_a_create_only_stream_loses_to_a_write_that_committed_first(
    local_store: ObjectStore,
) -> None:
    writer = local_store.open_write("part-0001.csv", if_generation_match=0)
    writer.write(b"late bytes")
    won = local_store.write_bytes("part-0001.csv", b"early bytes", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        writer.close()
    assert local_store.read_bytes("part-0001.csv") == (b"early bytes", won)


def test_empty_objects(store: ObjectStore) -> None:
    generation = store.write_bytes("empty.csv", b"")
    assert store.read_bytes("empty.csv") == (b"", generation)
    with store.open_write("streamed-empty.csv"):  # type: ignore[attr-defined]
        pass
    info = store.stat("streamed-empty.csv")
    assert info is not None
    assert info.size == 0
    reader = store.open_read("streamed-empty.csv")
    try:
        assert reader.read() == b""
    finally:
        reader.close()
