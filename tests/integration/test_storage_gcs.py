"""Cloud Storage specifics: what the proxy adds to the emulator, shown through the real client,
and how `GcsStore` copes with requests lost in transit."""

from __future__ import annotations

import json
import socket
import urllib.parse

import pytest
import requests
from google.api_core import exceptions as api_exceptions

from metrika_offline.errors import ObjectNotFound, PreconditionFailed
from metrika_offline.store.gcs import GcsStore
from tests.fakes.gcs import Fault
from tests.fakes.gcs_fixtures import GcsStack

MiB = 1024 * 1024


def media_url(stack: GcsStack, name: str, **params: str) -> str:
    query = urllib.parse.urlencode({"alt": "media", **params})
    quoted = urllib.parse.quote(name, safe="")
    return f"{stack.url}/download/storage/v1/b/{stack.bucket}/o/{quoted}?{query}"


def test_the_proxy_refuses_a_stale_write_that_the_bare_emulator_accepts(
    gcs_stack: GcsStack,
) -> None:
    first = gcs_stack.store.write_bytes("state.json", b"1", if_generation_match=0)
    gcs_stack.store.write_bytes("state.json", b"2", if_generation_match=first)

    with pytest.raises(PreconditionFailed):
        gcs_stack.store.write_bytes("state.json", b"stale", if_generation_match=first)
    with pytest.raises(PreconditionFailed):
        gcs_stack.store.write_bytes("state.json", b"again", if_generation_match=0)
    assert gcs_stack.store.read_bytes("state.json") is not None
    assert gcs_stack.store.read_bytes("state.json")[0] == b"2"  # type: ignore[index]

    # The same stale writes straight to the emulator go through: without the proxy, every
    # precondition in the pipeline would be decoration.
    raw = GcsStore(gcs_stack.raw_client(), gcs_stack.bucket)
    raw.write_bytes("state.json", b"stale", if_generation_match=first)
    raw.write_bytes("state.json", b"again", if_generation_match=0)
    found = gcs_stack.store.read_bytes("state.json")
    assert found is not None
    assert found[0] == b"again"


def test_the_bare_emulator_gives_no_generation_on_download(gcs_stack: GcsStack) -> None:
    generation = gcs_stack.store.write_bytes("x.csv", b"x")
    via_proxy = requests.get(media_url(gcs_stack, "x.csv"), timeout=10)
    bare = requests.get(
        media_url(gcs_stack, "x.csv").replace(gcs_stack.url, gcs_stack.emulator.url), timeout=10
    )
    assert via_proxy.headers["x-goog-generation"] == str(generation)
    assert via_proxy.headers["x-goog-metageneration"] == "1"
    assert "x-goog-generation" not in bare.headers
    assert via_proxy.content == bare.content == b"x"


def test_download_preconditions_and_generations(gcs_stack: GcsStack) -> None:
    generation = gcs_stack.store.write_bytes("d.csv", b"0123456789")
    ok = requests.get(media_url(gcs_stack, "d.csv", ifGenerationMatch=str(generation)), timeout=10)
    assert ok.status_code == 200
    stale = requests.get(media_url(gcs_stack, "d.csv", ifGenerationMatch="1"), timeout=10)
    assert stale.status_code == 412
    assert stale.json()["error"]["errors"][0]["reason"] == "conditionNotMet"
    unchanged = requests.get(
        media_url(gcs_stack, "d.csv", ifGenerationNotMatch=str(generation)), timeout=10
    )
    assert unchanged.status_code == 304
    old = requests.get(media_url(gcs_stack, "d.csv", generation="1"), timeout=10)
    assert old.status_code == 404
    ranged = requests.get(media_url(gcs_stack, "d.csv"), headers={"Range": "bytes=3-5"}, timeout=10)
    assert (ranged.status_code, ranged.content) == (206, b"345")
    assert ranged.headers["x-goog-generation"] == str(generation)
    past_end = requests.get(
        media_url(gcs_stack, "d.csv"), headers={"Range": "bytes=10-"}, timeout=10
    )
    assert past_end.status_code == 416


def test_metadata_reads_and_patches_honour_metagenerations(gcs_stack: GcsStack) -> None:
    gcs_stack.store.write_bytes("m.csv", b"m", metadata={"a": "1"})
    blob = gcs_stack.client.bucket(gcs_stack.bucket).get_blob("m.csv")
    assert blob is not None
    # The bare emulator counts a new object with metadata as metageneration 2.
    raw_blob = gcs_stack.raw_client().bucket(gcs_stack.bucket).get_blob("m.csv")
    assert (blob.metageneration, raw_blob.metageneration) == (1, 2)
    blob.metadata = {"a": "2"}
    blob.patch(if_metageneration_match=1)
    assert blob.metageneration == 2
    blob.metadata = {"a": "3"}
    with pytest.raises(api_exceptions.PreconditionFailed):
        blob.patch(if_metageneration_match=1)
    with pytest.raises(api_exceptions.PreconditionFailed):
        gcs_stack.client.bucket(gcs_stack.bucket).get_blob("m.csv", if_generation_match=1)
    info = gcs_stack.store.stat("m.csv")
    assert info is not None
    assert dict(info.metadata) == {"a": "2"}


def test_listing_pages_like_cloud_storage(gcs_stack: GcsStack) -> None:
    names = [f"in/{i:02}.csv" for i in range(7)] + ["in/sub/x.csv", "out.csv"]
    for name in names:
        gcs_stack.store.write_bytes(name, b"")
    pages = gcs_stack.client.list_blobs(gcs_stack.bucket, prefix="in/", page_size=3).pages
    seen = [[blob.name for blob in page] for page in pages]
    assert seen == [names[0:3], names[3:6], [names[6], "in/sub/x.csv"]]
    folders = gcs_stack.client.list_blobs(gcs_stack.bucket, prefix="in/", delimiter="/")
    assert [blob.name for blob in folders] == names[:7]
    assert folders.prefixes == {"in/sub/"}
    after = gcs_stack.client.list_blobs(gcs_stack.bucket, start_offset="in/05", end_offset="o")
    assert [blob.name for blob in after] == ["in/05.csv", "in/06.csv", "in/sub/x.csv"]


def test_media_links_are_escaped(gcs_stack: GcsStack) -> None:
    name = "incoming/q?a #1%.csv"
    gcs_stack.store.write_bytes(name, b"odd name")
    blob = gcs_stack.client.bucket(gcs_stack.bucket).get_blob(name)
    assert blob is not None
    assert blob.media_link.startswith(gcs_stack.url)
    assert blob.download_as_bytes() == b"odd name"  # through mediaLink


def test_a_streamed_write_survives_a_lost_chunk(gcs_stack: GcsStack) -> None:
    store = GcsStore(gcs_stack.client, gcs_stack.bucket, chunk_bytes=256 * 1024, backoff_s=0.01)
    # The second chunk never reaches the emulator; the third one is kept but its answer is lost.
    gcs_stack.proxy.inject(Fault("PUT", r"upload_id=", status=503, when="before"))
    data = bytes(range(256)) * 4 * 1024 * 3  # 3 MiB
    with store.open_write("resumed.csv") as writer:
        writer.write(data[: 2 * MiB])
        gcs_stack.proxy.inject(Fault("PUT", r"upload_id=", status=0, when="after"))
        writer.write(data[2 * MiB :])
    assert gcs_stack.proxy.pending_faults() == 0
    assert store.read_bytes("resumed.csv") == (data, writer.generation)


def test_a_lost_answer_to_the_last_chunk_commits_once(gcs_stack: GcsStack) -> None:
    store = GcsStore(gcs_stack.client, gcs_stack.bucket, chunk_bytes=256 * 1024, backoff_s=0.01)
    writer = store.open_write("once.csv", if_generation_match=0)
    writer.write(b"z" * 300_000)
    # The commit happens, its answer is dropped; the writer must find out rather than resend
    # (a resent create-only commit would now fail with 412 although we won).
    gcs_stack.proxy.inject(Fault("PUT", r"upload_id=", status=0, when="after"))
    writer.close()
    assert gcs_stack.proxy.pending_faults() == 0
    assert store.read_bytes("once.csv") == (b"z" * 300_000, writer.generation)
    assert [e.name for e in gcs_stack.events.events] == ["once.csv"]


def test_a_storage_outage_surfaces_as_a_store_error(gcs_stack: GcsStack) -> None:
    from metrika_offline.errors import StoreError

    store = GcsStore(gcs_stack.client, gcs_stack.bucket)
    gcs_stack.proxy.inject(Fault("GET", r"/o/down\.csv", status=403, times=1))
    with pytest.raises(StoreError) as caught:
        store.stat("down.csv")
    assert type(caught.value) is StoreError


def test_an_error_body_has_the_cloud_storage_shape(gcs_stack: GcsStack) -> None:
    gcs_stack.store.write_bytes("e.csv", b"e")
    quoted = urllib.parse.quote("e.csv", safe="")
    answer = requests.delete(
        f"{gcs_stack.url}/storage/v1/b/{gcs_stack.bucket}/o/{quoted}?ifGenerationMatch=7",
        timeout=10,
    )
    assert answer.status_code == 412
    error = json.loads(answer.content)["error"]
    assert error["code"] == 412
    assert error["errors"][0]["reason"] == "conditionNotMet"


def test_big_objects_are_read_from_a_copy_of_their_own_generation(gcs_stack: GcsStack) -> None:
    size = 9 * MiB  # above the proxy's threshold for keeping a local copy
    first = bytes([1]) * size
    # Written around the proxy: the proxy makes its copy on the first read.
    raw_blob = gcs_stack.raw_client().bucket(gcs_stack.bucket).blob("big.csv")
    raw_blob.upload_from_string(first)
    store = GcsStore(gcs_stack.client, gcs_stack.bucket, chunk_bytes=MiB)
    reader = store.open_read("big.csv")
    assert reader.read(10) == first[:10]
    assert reader.generation == int(raw_blob.generation)
    ranged = requests.get(
        media_url(gcs_stack, "big.csv"), headers={"Range": "bytes=5-9"}, timeout=10
    )
    assert (ranged.status_code, ranged.content) == (206, first[5:10])
    assert ranged.headers["content-range"] == f"bytes 5-9/{size}"
    # A new generation through the proxy (its upload spool becomes the copy).
    second = bytes([2]) * size
    with store.open_write("big.csv") as writer:
        writer.write(second)
    assert store.read_bytes("big.csv") == (second, writer.generation)
    with pytest.raises(ObjectNotFound):  # the old reader's next range names a gone generation
        reader.read(2 * MiB)
    reader.close()
    whole = requests.get(media_url(gcs_stack, "big.csv"), timeout=30)
    assert whole.headers["x-goog-hash"] == (
        f"crc32c={store.client.bucket(gcs_stack.bucket).get_blob('big.csv').crc32c},"
        f"md5={store.client.bucket(gcs_stack.bucket).get_blob('big.csv').md5_hash}"
    )
    store.delete("big.csv")
    assert requests.get(media_url(gcs_stack, "big.csv"), timeout=10).status_code == 404


def test_a_writer_that_dies_mid_body_commits_nothing(gcs_stack: GcsStack) -> None:
    host, port = gcs_stack.url.removeprefix("http://").split(":")
    target = f"/upload/storage/v1/b/{gcs_stack.bucket}/o?uploadType=media&name=torn.csv"
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"a,b\n" * 100
        )
        conn.shutdown(socket.SHUT_WR)  # the writer is gone, 99 600 bytes short
        while conn.recv(65536):  # the proxy has finished with it once it hangs up
            pass
    assert gcs_stack.store.stat("torn.csv") is None
    assert gcs_stack.raw_client().bucket(gcs_stack.bucket).get_blob("torn.csv") is None
    assert gcs_stack.events.events == []
