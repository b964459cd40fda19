"""Fixtures: `local_gcs`, one emulator and tap per test process; `gcs_stack`, a fresh bucket
with its own EventSource (no subscriber until a test adds one), a real client on the tap and a
`GcsStore`. Faults a test injects (`gcs_stack.tap.inject(Fault(...))`) are cleared after it.
`GcsStack.env()` is what a child process needs; nothing sets it for this process."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from metrika_offline.store.gcs import GcsStore
from tests.fakes.gcs import LocalGcs
from tests.fakes.gcs_events import EventSource, RetryPolicy
from tests.fakes.gcs_tap import StorageTap

PROJECT = "metrika-offline-test"
#: Small and quick, for tests: a failed delivery is retried 4 times within half a second.
TEST_RETRY = RetryPolicy(max_attempts=5, initial_s=0.02, max_delay_s=0.2)


def make_client(endpoint: str) -> storage.Client:
    """A real client talking to `endpoint` (the tap, or the bare emulator)."""
    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


@dataclasses.dataclass(frozen=True)
class GcsStack:
    """One test's view of the local Cloud Storage."""

    local: LocalGcs
    bucket: str
    events: EventSource
    client: storage.Client
    store: GcsStore

    @property
    def url(self) -> str:
        """The tap: what `STORAGE_EMULATOR_HOST` must be for events and faults."""
        return self.local.url

    @property
    def tap(self) -> StorageTap:
        return self.local.tap

    def env(self) -> dict[str, str]:
        """Environment for a child process (the function under functions-framework)."""
        return {"STORAGE_EMULATOR_HOST": self.url}

    def raw_client(self) -> storage.Client:
        """A client on the bare emulator, around the tap: what the emulator itself does."""
        return make_client(self.local.server.url)


@pytest.fixture(scope="session")
def local_gcs() -> Iterator[LocalGcs]:
    with LocalGcs() as local:
        yield local


@pytest.fixture
def gcs_stack(local_gcs: LocalGcs) -> Iterator[GcsStack]:
    bucket = f"t-{uuid.uuid4().hex[:24]}"
    local_gcs.server.create_bucket(bucket)
    events = EventSource(retry=TEST_RETRY, timeout_s=120.0)
    local_gcs.tap.watchers[bucket] = events
    client = make_client(local_gcs.url)
    try:
        yield GcsStack(local_gcs, bucket, events, client, GcsStore(client, bucket))
    finally:
        del local_gcs.tap.watchers[bucket]
        local_gcs.tap.faults.clear()
        events.close()
        client.close()
        local_gcs.server.delete_bucket(bucket)
