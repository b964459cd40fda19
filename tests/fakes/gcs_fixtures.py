"""pytest fixtures for the local Cloud Storage stack (tests/fakes/gcs.py).

- `gcs_emulator` (session): one emulator process per xdist worker.
- `gcs_stack` (function): a fresh bucket, a proxy with its own event source in front of the
  emulator, a real `storage.Client` on the proxy, a `GcsStore` on the bucket.

Nothing sets `STORAGE_EMULATOR_HOST` for the session: the client gets the proxy's URL as its
API endpoint, and `GcsStack.env()` gives the variables a child process needs.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from metrika_offline.storage_gcs import GcsStore
from tests.fakes.gcs import EmulatorProcess, EventSource, PreconditionProxy, RetryPolicy

PROJECT = "metrika-offline-test"
#: Small and quick, for tests: a failed delivery is retried 4 times within half a second.
TEST_RETRY = RetryPolicy(max_attempts=5, initial_s=0.02, max_delay_s=0.2)


def make_client(endpoint: str) -> storage.Client:
    """A real client talking to `endpoint` (the proxy, or the bare emulator)."""
    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def unique_bucket(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


@dataclasses.dataclass(frozen=True)
class GcsStack:
    """One test's view of the local Cloud Storage."""

    emulator: EmulatorProcess
    proxy: PreconditionProxy
    bucket: str
    client: storage.Client
    store: GcsStore

    @property
    def url(self) -> str:
        """The proxy: what `STORAGE_EMULATOR_HOST` must be for the precondition-keeping store."""
        return self.proxy.url

    @property
    def events(self) -> EventSource:
        """The local trigger: subscribers, observers, deliveries, pause/resume, redelivery."""
        return self.proxy.events

    def env(self) -> dict[str, str]:
        """Environment for a child process (the function under functions-framework)."""
        return {"STORAGE_EMULATOR_HOST": self.url}

    def raw_client(self) -> storage.Client:
        """A client on the bare emulator, bypassing the proxy (to show what it would allow)."""
        return make_client(self.emulator.url)

    def store_for(self, bucket: str) -> GcsStore:
        return GcsStore(self.client, bucket)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[EmulatorProcess]:
    """The storage emulator, in memory, once per test process."""
    with EmulatorProcess() as emulator:
        yield emulator


@pytest.fixture
def gcs_stack(gcs_emulator: EmulatorProcess) -> Iterator[GcsStack]:
    """A fresh bucket behind a fresh proxy; its events go to no one until a test subscribes."""
    bucket = unique_bucket()
    gcs_emulator.create_bucket(bucket)
    events = EventSource(retry=TEST_RETRY, timeout_s=120.0)
    proxy = PreconditionProxy(gcs_emulator.url, events=events).start()
    client = make_client(proxy.url)
    try:
        yield GcsStack(
            emulator=gcs_emulator,
            proxy=proxy,
            bucket=bucket,
            client=client,
            store=GcsStore(client, bucket),
        )
    finally:
        proxy.stop()
        client.close()
        gcs_emulator.delete_bucket(bucket)
