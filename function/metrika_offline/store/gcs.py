"""The object store on Cloud Storage, through the official `google-cloud-storage` client.

Error mapping: every client call runs inside `gcs_errors.mapped`: HTTP 412 becomes
`PreconditionFailed`, 404 becomes `ObjectNotFound` (or None where the protocol says so);
anything else the client gives up on (5xx after its retries, timeouts, broken connections)
becomes `StoreError` with the client's error as its cause.

Retries follow the client's rule for conditional writes: a write or delete is retried only
when it carries `if_generation_match`, because only then can a retry not clobber (or delete)
someone else's newer generation. Reads are always retried. Streamed writes resume their
session instead and cannot commit twice (see `GcsWriter`).

One consequence callers must know: a create-only `write_bytes` whose answer was lost and
was retried may come back as `PreconditionFailed` although it is our own bytes that won.
Whoever relies on winning (a claim) should store a token in the object and re-read it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final

import google_crc32c
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY, DEFAULT_RETRY_IF_GENERATION_SPECIFIED

from metrika_offline.errors import ObjectNotFound, PreconditionFailed, StoreError
from metrika_offline.store.base import ObjectInfo
from metrika_offline.store.gcs_errors import CLIENT_ERRORS, mapped

#: Resumable uploads need a multiple of 256 KiB; 8 MiB keeps memory flat and requests few.
DEFAULT_CHUNK_BYTES: Final = 8 * 1024 * 1024
#: (connect, read) seconds for every request; a chunk of 8 MiB fits easily in 120 s.
DEFAULT_TIMEOUT_S: Final = (10.0, 120.0)
_LIST_PAGE_SIZE: Final = 1000
_EMULATOR_HOST_VAR: Final = "STORAGE_EMULATOR_HOST"
_EMULATOR_PROJECT: Final = "local-emulator"
_CHUNK_ATTEMPTS: Final = 6
_BACKOFF_S: Final = 0.5
_BACKOFF_MAX_S: Final = 8.0
_RETRYABLE: Final = frozenset({408, 429, 500, 502, 503, 504})

Timeout = float | tuple[float, float]


def _info(blob: storage.Blob, bucket: str) -> ObjectInfo:
    generation = blob.generation
    if generation is None:
        raise StoreError(f"gs://{bucket}/{blob.name}: the answer carried no generation")
    return ObjectInfo(
        bucket=bucket,
        name=blob.name,
        generation=int(generation),
        size=int(blob.size or 0),
        metadata=dict(blob.metadata or {}),
        content_type=blob.content_type or "",
    )


class GcsReader(io.BufferedIOBase):
    """A streamed read of one generation: ranged requests of `chunk_bytes` each.

    The first answer names the generation it came from (`x-goog-generation`) and the client
    pins every later range to it, so an overwrite during the read cannot mix two versions:
    the read fails with ObjectNotFound instead. The first range is fetched on opening, so
    that a missing object fails there and not at the first read.
    """

    def __init__(self, blob: storage.Blob, *, chunk_bytes: int, timeout: Timeout) -> None:
        super().__init__()
        self._blob = blob
        self._label = f"gs://{blob.bucket.name}/{blob.name}"
        self._inner = blob.open("rb", chunk_size=chunk_bytes, timeout=timeout, retry=DEFAULT_RETRY)
        self._chunk_bytes = chunk_bytes
        # The last range fetched, handed out from `_at` on: one chunk held, and no copy of
        # what is left of it at every read.
        self._pending = self._fetch(chunk_bytes)
        self._at = 0

    @property
    def generation(self) -> int | None:
        """The generation being read (known from the first answer on)."""
        generation = self._blob.generation
        return int(generation) if generation is not None else None

    def _fetch(self, size: int) -> bytes:
        with mapped(f"read {self._label}"):
            data: bytes = self._inner.read(size)
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        at = self._at
        if size is not None and 0 <= size <= len(self._pending) - at:
            self._at = at + size
            return self._pending[at : at + size]
        rest, self._pending, self._at = self._pending[at:], b"", 0
        if size is None or size < 0:
            return rest + self._fetch(-1)
        # A whole chunk at least: the client's reader then keeps no part of it in a buffer of
        # its own.
        taken = size - len(rest)
        fetched = self._fetch(max(self._chunk_bytes, taken))
        self._pending, self._at = fetched, min(taken, len(fetched))
        return rest + fetched[:taken]

    def read1(self, size: int = -1, /) -> bytes:
        return self.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            self._pending, self._at = b"", 0
        super().close()


class GcsWriter:
    """A streamed write: one resumable upload session, `chunk_bytes` per request.

    Memory stays at about one chunk whatever the object's size. `close()` sends the last
    chunk, which commits the object (the generation precondition is checked then), and
    compares Cloud Storage's CRC32C with the one computed here. A chunk that failed in
    transit (connection error, timeout, 429, 5xx) is retried after asking the session how
    much it kept, so nothing is sent twice and a lost answer to the last chunk cannot turn
    into a second commit. `abort()` (or leaving a `with` block on an exception) cancels the
    session: no object appears.
    """

    def __init__(
        self,
        blob: storage.Blob,
        *,
        chunk_bytes: int,
        content_type: str,
        timeout: Timeout,
        if_generation_match: int | None,
        attempts: int = _CHUNK_ATTEMPTS,
        backoff_s: float = _BACKOFF_S,
    ) -> None:
        self._blob = blob
        self._label = f"gs://{blob.bucket.name}/{blob.name}"
        self._http = blob.bucket.client._http  # the client's authorized session
        self._chunk_bytes = chunk_bytes
        self._content_type = content_type
        self._timeout = timeout
        self._if_generation_match = if_generation_match
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._url: str | None = None
        self._buffer = bytearray()
        self._offset = 0  # bytes the session has kept
        self._crc = google_crc32c.Checksum()  # type: ignore[no-untyped-call]
        self._resource: dict[str, Any] | None = None
        self._closed = False

    @property
    def generation(self) -> int | None:
        """The committed generation, once `close()` returned."""
        if self._resource is None:
            return None
        return int(self._resource["generation"])

    def write(self, data: bytes, /) -> int:
        if self._closed:
            raise ValueError(f"write to a closed writer ({self._label})")
        self._buffer += data
        self._crc.update(data)  # type: ignore[no-untyped-call]
        while len(self._buffer) >= self._chunk_bytes:
            self._send(final=False)
        return len(data)

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._resource is None:
            self._send(final=True)
        expected = base64.b64encode(self._crc.digest()).decode()  # type: ignore[no-untyped-call]
        stored = self._resource.get("crc32c")
        if stored and stored != expected:
            raise StoreError(f"write {self._label}: CRC32C {stored} stored, {expected} sent")
        self._buffer = bytearray()

    def abort(self) -> None:
        """Give the upload up; nothing is committed. Safe to call more than once."""
        if self._closed and self._resource is not None:
            return
        self._closed = True
        self._buffer = bytearray()
        if self._url is not None:
            # The session expires on its own; a failed cancel must not hide the real error.
            with contextlib.suppress(*CLIENT_ERRORS):
                self._http.delete(self._url, timeout=self._timeout)

    def __enter__(self) -> GcsWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _session_url(self) -> str:
        if self._url is None:
            # Opening a session commits nothing, so repeating it is always safe.
            with mapped(f"write {self._label}"):
                self._url = self._blob.create_resumable_upload_session(
                    content_type=self._content_type,
                    timeout=self._timeout,
                    checksum=None,
                    if_generation_match=self._if_generation_match,
                    retry=DEFAULT_RETRY,
                )
        return str(self._url)

    def _send(self, *, final: bool) -> None:
        """Send the next chunk (all that is left when `final`); retry what got lost."""
        url = self._session_url()
        for attempt in range(1, self._attempts + 1):
            size = len(self._buffer) if final else self._chunk_bytes
            chunk = bytes(memoryview(self._buffer)[:size])  # one copy, not two
            end = self._offset + len(chunk)
            if not final:
                content_range = f"bytes {self._offset}-{end - 1}/*"
            elif chunk:
                content_range = f"bytes {self._offset}-{end - 1}/{end}"
            else:
                content_range = f"bytes */{end}"
            try:
                response = self._http.put(
                    url, data=chunk, headers={"Content-Range": content_range}, timeout=self._timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self._attempts:
                    raise StoreError(f"write {self._label}: {exc}") from exc
                self._pause(attempt)
                response = self._status(url)
            if response.status_code in _RETRYABLE and attempt < self._attempts:
                self._pause(attempt)
                response = self._status(url)
            if self._absorb(response):
                return
        raise StoreError(f"write {self._label}: gave up after {self._attempts} attempts")

    def _status(self, url: str) -> requests.Response:
        """Ask the session how many bytes it kept (or for the object, if it finished)."""
        with mapped(f"write {self._label}"):
            response: requests.Response = self._http.put(
                url, data=b"", headers={"Content-Range": "bytes */*"}, timeout=self._timeout
            )
        return response

    def _absorb(self, response: requests.Response) -> bool:
        """Take the session's answer in; True when this chunk's work is done."""
        status = response.status_code
        if status in (200, 201):
            self._resource = response.json()
            self._offset += len(self._buffer)
            self._buffer = bytearray()
            return True
        if status == 308:
            match = re.fullmatch(r"bytes=0-(\d+)", response.headers.get("Range", ""))
            kept = int(match.group(1)) + 1 if match else 0
            done = kept - self._offset
            if done < 0 or done > len(self._buffer):
                raise StoreError(f"write {self._label}: the session kept {kept} bytes")
            del self._buffer[:done]
            self._offset = kept
            return done > 0 or not self._buffer
        if status in _RETRYABLE:
            return False
        if status == 412:
            raise PreconditionFailed(f"write {self._label}: a generation precondition did not hold")
        if status in (404, 410):
            raise StoreError(f"write {self._label}: the upload session is gone ({status})")
        raise StoreError(f"write {self._label}: {status} {response.text[:300]}")

    def _pause(self, attempt: int) -> None:
        time.sleep(min(_BACKOFF_MAX_S, self._backoff_s * 2 ** (attempt - 1)))


class GcsStore:
    """One Cloud Storage bucket behind the `ObjectStore` protocol."""

    def __init__(
        self,
        client: storage.Client,
        bucket: str,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT_S,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        backoff_s: float = _BACKOFF_S,
    ) -> None:
        """`backoff_s`: the first pause before a streamed chunk is retried (it doubles)."""
        if chunk_bytes <= 0 or chunk_bytes % (256 * 1024):
            raise ValueError("chunk_bytes must be a positive multiple of 256 KiB")
        self._client = client
        self._bucket_name = bucket
        self._bucket = client.bucket(bucket)
        self._timeout = timeout
        self._chunk_bytes = chunk_bytes
        self._backoff_s = backoff_s

    @classmethod
    def from_env(
        cls,
        bucket: str,
        *,
        project: str | None = None,
        environ: Mapping[str, str] | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT_S,
    ) -> GcsStore:
        """Build the client once: real credentials, or the emulator when
        `STORAGE_EMULATOR_HOST` is set (anonymous, with a placeholder project)."""
        env = os.environ if environ is None else environ
        emulator = env.get(_EMULATOR_HOST_VAR, "").strip()
        if emulator and "://" not in emulator:  # other tools accept a bare host:port
            emulator = f"http://{emulator}"
        if emulator:
            client = storage.Client(
                project=project or _EMULATOR_PROJECT,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": emulator},
            )
        else:
            client = storage.Client(project=project)
        return cls(client, bucket, timeout=timeout)

    @property
    def bucket(self) -> str:
        return self._bucket_name

    @property
    def client(self) -> storage.Client:
        return self._client

    def _label(self, name: str) -> str:
        return f"gs://{self._bucket_name}/{name}"

    def stat(self, name: str) -> ObjectInfo | None:
        with mapped(f"stat {self._label(name)}"):
            blob = self._bucket.get_blob(name, timeout=self._timeout, retry=DEFAULT_RETRY)
        return None if blob is None else _info(blob, self._bucket_name)

    def read_bytes(self, name: str) -> tuple[bytes, int] | None:
        blob = self._bucket.blob(name)
        try:
            with mapped(f"read {self._label(name)}"):
                data: bytes = blob.download_as_bytes(timeout=self._timeout, retry=DEFAULT_RETRY)
        except ObjectNotFound:
            return None
        # The client took the generation from the download's own headers: the bytes and the
        # number belong together, which a separate stat could not promise.
        if blob.generation is None:
            raise StoreError(f"read {self._label(name)}: the answer carried no generation")
        return data, int(blob.generation)

    def open_read(self, name: str, generation: int | None = None) -> GcsReader:
        blob = self._bucket.blob(name, generation=generation)
        return GcsReader(blob, chunk_bytes=self._chunk_bytes, timeout=self._timeout)

    def write_bytes(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> int:
        blob = self._bucket.blob(name)
        if metadata:
            blob.metadata = dict(metadata)
        with mapped(f"write {self._label(name)}"):
            blob.upload_from_string(
                data,
                content_type=content_type,
                if_generation_match=if_generation_match,
                timeout=self._timeout,
                retry=DEFAULT_RETRY_IF_GENERATION_SPECIFIED,
            )
        if blob.generation is None:
            raise StoreError(f"write {self._label(name)}: the answer carried no generation")
        return int(blob.generation)

    def open_write(
        self,
        name: str,
        *,
        content_type: str = "text/csv",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> GcsWriter:
        blob = self._bucket.blob(name)
        if metadata:
            blob.metadata = dict(metadata)
        # In the session's object resource too, not only in X-Upload-Content-Type: emulators
        # read the resource alone.
        blob.content_type = content_type
        return GcsWriter(
            blob,
            chunk_bytes=self._chunk_bytes,
            content_type=content_type,
            timeout=self._timeout,
            if_generation_match=if_generation_match,
            backoff_s=self._backoff_s,
        )

    def delete(self, name: str, *, if_generation_match: int | None = None) -> None:
        blob = self._bucket.blob(name)
        try:
            with mapped(f"delete {self._label(name)}"):
                blob.delete(
                    if_generation_match=if_generation_match,
                    timeout=self._timeout,
                    retry=DEFAULT_RETRY_IF_GENERATION_SPECIFIED,
                )
        except ObjectNotFound:
            return

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        with mapped(f"list {self._label(prefix)}*"):
            blobs = self._client.list_blobs(
                self._bucket_name,
                prefix=prefix,
                page_size=_LIST_PAGE_SIZE,
                timeout=self._timeout,
                retry=DEFAULT_RETRY,
            )
            for blob in blobs:
                yield _info(blob, self._bucket_name)
