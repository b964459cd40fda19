"""Cloud Functions entry points. Thin on purpose: decode, hand over to the pipeline.

`on_object_finalized` (CloudEvent): a Cloud Storage object was finalized.
`poll_uploads` (HTTP): Cloud Scheduler asks for pending uploads' final status.

Clients are built once per instance, on the first event, and shared by its threads.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from typing import Any

import functions_framework
from google.cloud import storage

from metrika_offline import logs
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError, RetryLater
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.events import ObjectEvent
from metrika_offline.flow.pipeline import Pipeline
from metrika_offline.flow.poll import Poller
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.store.gcs import GcsStore

log = logs.get_logger("main")


class _Runtime:
    """What one instance builds once: settings, the Metrica clients, one store per bucket."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        logs.configure(self.settings.log_level)
        for secret in self.settings.secrets():
            logs.register_secret(secret)
        self.metrika = MetrikaAccounts.from_settings(self.settings)
        self._pipelines: dict[str, Pipeline] = {}
        self._client: storage.Client | None = None
        self._lock = threading.Lock()

    def store(self, bucket: str) -> GcsStore:
        with self._lock:
            if self._client is None:
                store = GcsStore.from_env(bucket)
                self._client = store.client
                return store
            return GcsStore(self._client, bucket)

    def work(self, bucket: str) -> GcsStore:
        """The work bucket's store (WORK_BUCKET; the input bucket when it is not set)."""
        return self.store(self.settings.work_bucket or bucket)

    def pipeline(self, bucket: str) -> Pipeline:
        if bucket not in self._pipelines:
            pipeline = Pipeline(
                store=self.store(bucket),
                work=self.work(bucket),
                settings=self.settings,
                metrika=self.metrika,
            )
            with self._lock:
                self._pipelines.setdefault(bucket, pipeline)
        return self._pipelines[bucket]


@functools.cache
def runtime() -> _Runtime:
    return _Runtime()


@functions_framework.cloud_event
def on_object_finalized(cloud_event: Any) -> None:
    """Returning = done; raising = deliver this event again later."""
    started = time.monotonic()
    rt = runtime()
    event = ObjectEvent.from_cloud_event(cloud_event.get_attributes(), cloud_event.data)
    deadline = Deadline.for_invocation(rt.settings, started)
    with logs.log_context(bucket=event.bucket, object=event.name, generation=str(event.generation)):
        try:
            rt.settings.check_lease()
        except ConfigError as exc:
            # Nothing is claimed or sent; the event comes back once the deployment is fixed.
            log.error("configuration error: %s", exc, extra={"code": "config-error"})
            raise
        try:
            rt.pipeline(event.bucket).handle(event, deadline)
        except RetryLater as exc:
            log.info(
                "handing over for a retry: %s", exc, extra={"retry_reason": type(exc).__name__}
            )
            raise


@functions_framework.http
def poll_uploads(request: Any) -> tuple[str, int, dict[str, str]]:
    """Called by Cloud Scheduler: one round over the pending uploads of `BUCKET`."""
    del request  # the schedule carries no parameters
    rt = runtime()
    headers = {"Content-Type": "application/json"}
    if not rt.settings.bucket:
        log.error("poll_uploads needs BUCKET")
        return json.dumps({"error": "BUCKET must be set"}), 500, headers
    bucket = rt.settings.bucket
    poller = Poller(
        store=rt.store(bucket), work=rt.work(bucket), metrika=rt.metrika, settings=rt.settings
    )
    with logs.log_context(bucket=rt.settings.bucket):
        summary = poller.poll()
    return json.dumps(summary.to_json()), 200, headers
