"""Cloud Storage specifics: what fake-gcs-server itself does that the flow relies on (shown
around the tap, straight to the emulator), what it does not do, and how `GcsStore` copes with
requests lost in transit (faults from the tap)."""

from __future__ import annotations

import socket
import urllib.parse

import pytest
import requests
from google.api_core import exceptions as api_exceptions

from metrika_offline.errors import PreconditionFailed, StoreError
from metrika_offline.store.gcs import GcsStore
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.gcs_tap import Fault

MiB = 1024 * 1024


def bare_store(stack: GcsStack) -> GcsStore:
    """The store on the emulator alone: no tap, nothing of ours in between."""
    return GcsStore(stack.raw_client(), stack.bucket)


def test_the_emulator_itself_refuses_a_stale_compare_and_swap(gcs_stack: GcsStack) -> None:
    store = bare_store(gcs_stack)
    first = store.write_bytes("state.json", b"1", if_generation_match=0)
    second = store.write_bytes("state.json", b"2", if_generation_match=first)
    with pytest.raises(PreconditionFailed):
        store.write_bytes("state.json", b"stale", if_generation_match=first)
    with pytest.raises(PreconditionFailed):
        store.write_bytes("ghost.json", b"x", if_generation_match=first)
    assert store.read_bytes("state.json") == (b"2", second)
    assert store.stat("ghost.json") is None


def test_the_emulator_itself_refuses_a_create_only_write_of_an_existing_name(
    gcs_stack: GcsStack,
) -> None:
    store = bare_store(gcs_stack)
    won = store.write_bytes("claim.json", b"mine", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        store.write_bytes("claim.json", b"theirs", if_generation_match=0)
    blob = gcs_stack.raw_client().bucket(gcs_stack.bucket).blob("claim.json")
    with pytest.raises(api_exceptions.PreconditionFailed):
        blob.upload_from_string(b"theirs", if_generation_match=0)
    assert store.read_bytes("claim.json") == (b"mine", won)


def test_the_emulator_names_the_generation_of_a_download(gcs_stack: GcsStack) -> None:
    generation = bare_store(gcs_stack).write_bytes("x.csv", b"0123456789")
    url = f"{gcs_stack.local.server.url}/download/storage/v1/b/{gcs_stack.bucket}/o/x.csv"
    whole = requests.get(url, params={"alt": "media"}, timeout=10)
    assert (whole.content, whole.headers["x-goog-generation"]) == (b"0123456789", str(generation))
    ranged = requests.get(url, params={"alt": "media"}, headers={"Range": "bytes=3-5"}, timeout=10)
    assert (ranged.status_code, ranged.content) == (206, b"345")
    assert ranged.headers["x-goog-generation"] == str(generation)


def test_the_emulator_pages_listings(gcs_stack: GcsStack) -> None:
    names = [f"in/{i:02}.csv" for i in range(7)] + ["in/sub/x.csv", "out.csv"]
    for name in names:
        bare_store(gcs_stack).write_bytes(name, b"")
    client = gcs_stack.raw_client()
    pages = client.list_blobs(gcs_stack.bucket, prefix="in/", page_size=3).pages
    assert [[blob.name for blob in page] for page in pages] == [
        names[0:3],
        names[3:6],
        [names[6], "in/sub/x.csv"],
    ]
    folders = client.list_blobs(gcs_stack.bucket, prefix="in/", delimiter="/")
    assert [blob.name for blob in folders] == names[:7]
    assert folders.prefixes == {"in/sub/"}


def test_the_emulator_ignores_stream_and_delete_preconditions(gcs_stack: GcsStack) -> None:
    """Cloud Storage keeps these; the flow never uses them (see the contract tests)."""
    store = bare_store(gcs_stack)
    first = store.write_bytes("part.csv", b"1")
    with store.open_write("part.csv", if_generation_match=0) as writer:
        writer.write(b"2")
    store.delete("part.csv", if_generation_match=first)
    assert store.stat("part.csv") is None


def test_media_links_point_at_the_tap_and_are_escaped(gcs_stack: GcsStack) -> None:
    name = "incoming/q?a #1%.csv"
    gcs_stack.store.write_bytes(name, b"odd name")
    blob = gcs_stack.client.bucket(gcs_stack.bucket).get_blob(name)
    assert blob is not None
    assert blob.media_link.startswith(gcs_stack.url)
    assert blob.download_as_bytes() == b"odd name"  # through mediaLink


def test_a_streamed_write_survives_a_lost_chunk(gcs_stack: GcsStack) -> None:
    store = GcsStore(gcs_stack.client, gcs_stack.bucket, chunk_bytes=256 * 1024, backoff_s=0.01)
    # The second chunk never reaches the emulator; the third one is kept but its answer is lost.
    gcs_stack.tap.inject(Fault("PUT", r"upload_id=", status=503, when="before"))
    data = bytes(range(256)) * 4 * 1024 * 3  # 3 MiB
    with store.open_write("resumed.csv") as writer:
        writer.write(data[: 2 * MiB])
        gcs_stack.tap.inject(Fault("PUT", r"upload_id=", status=0, when="after"))
        writer.write(data[2 * MiB :])
    assert gcs_stack.tap.faults == []
    assert store.read_bytes("resumed.csv") == (data, writer.generation)


def test_a_streamed_read_gives_every_byte_whatever_the_read_sizes(gcs_stack: GcsStack) -> None:
    """Reads smaller than a chunk, across chunks and larger than one, with the reader keeping
    the last chunk and handing it out from an offset."""
    store = GcsStore(gcs_stack.client, gcs_stack.bucket, chunk_bytes=256 * 1024)
    data = bytes(range(251)) * 4 * 1024  # about 1 MiB, no period of a chunk's length
    generation = store.write_bytes("sizes.csv", data)
    sizes = [1, 100_000, 262_143, 2, 600_000, 0, 7, 60_000]
    reader = store.open_read("sizes.csv", generation)
    got = []
    try:
        for size in sizes:
            got.append(reader.read(size))
        got.append(reader.read())
        assert reader.read(10) == b""
    finally:
        reader.close()
    assert [len(block) for block in got[:-1]] == sizes
    assert b"".join(got) == data


def test_a_lost_answer_to_the_last_chunk_commits_once(gcs_stack: GcsStack) -> None:
    store = GcsStore(gcs_stack.client, gcs_stack.bucket, chunk_bytes=256 * 1024, backoff_s=0.01)
    writer = store.open_write("once.csv")
    writer.write(b"z" * 300_000)
    # The commit happens, its answer is dropped; the writer must find out rather than resend.
    gcs_stack.tap.inject(Fault("PUT", r"upload_id=", status=0, when="after"))
    writer.close()
    assert gcs_stack.tap.faults == []
    assert store.read_bytes("once.csv") == (b"z" * 300_000, writer.generation)
    assert [e.data["name"] for e in gcs_stack.events.events] == ["once.csv"]


def test_a_storage_outage_surfaces_as_a_store_error(gcs_stack: GcsStack) -> None:
    gcs_stack.tap.inject(Fault("GET", r"/o/down\.csv", status=403))
    with pytest.raises(StoreError) as caught:
        gcs_stack.store.stat("down.csv")
    assert type(caught.value) is StoreError


def test_a_writer_that_dies_mid_body_commits_nothing(gcs_stack: GcsStack) -> None:
    host, port = gcs_stack.url.removeprefix("http://").split(":")
    name = urllib.parse.quote("torn.csv")
    target = f"/upload/storage/v1/b/{gcs_stack.bucket}/o?uploadType=media&name={name}"
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"a,b\n" * 100
        )
        conn.shutdown(socket.SHUT_WR)  # the writer is gone, 99 600 bytes short
        while conn.recv(65536):  # the tap has finished with it once it hangs up
            pass
    assert gcs_stack.store.stat("torn.csv") is None
    assert gcs_stack.events.events == []
