"""Cloud Functions entry points. Thin on purpose: decode, hand over to the pipeline.

`on_object_finalized` (CloudEvent): a file was dropped into the input bucket: check and split
    it, and queue one upload task per part (it never uploads).
`upload_part` (HTTP): Cloud Tasks delivers one part's task (its JSON body): upload it once.
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
import msgspec
from google.cloud import storage

from metrika_offline import logs
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError, RetryLater
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.followup.poll import Poller
from metrika_offline.flow.pipeline import Pipeline
from metrika_offline.flow.queue import PartTask
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.store.gcs import GcsStore
from metrika_offline.tasks.cloud_tasks import CloudTasksQueue

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
        self._queue: CloudTasksQueue | None = None
        self._lock = threading.Lock()

    def queue(self) -> CloudTasksQueue:
        """The upload queues (UPLOAD_QUEUE, UPLOAD_URL); ConfigError when they are not set."""
        if self._queue is None:
            self._queue = CloudTasksQueue.from_settings(self.settings)
        return self._queue

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
            ctx = FlowContext.build(
                store=self.store(bucket),
                work=self.work(bucket),
                settings=self.settings,
                metrika=self.metrika,
            )
            pipeline = Pipeline(ctx, queue=self.queue())
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
            pipeline = rt.pipeline(event.bucket)
        except ConfigError as exc:
            # Nothing is claimed or sent; the event comes back once the deployment is fixed.
            log.error("configuration error: %s", exc, extra={"code": "config-error"})
            raise
        try:
            pipeline.handle(event, deadline)
        except RetryLater as exc:
            log.info(
                "handing over for a retry: %s", exc, extra={"retry_reason": type(exc).__name__}
            )
            raise


@functions_framework.http
def upload_part(request: Any) -> tuple[str, int, dict[str, str]]:
    """Called by Cloud Tasks with one part's task. 2xx = done (sent, refused, or put back
    for later); 503 = deliver the task again (the queue's retry config paces it)."""
    started = time.monotonic()
    rt = runtime()
    headers = {"Content-Type": "application/json"}
    try:
        task = PartTask.from_json(request.get_data())
    except msgspec.MsgspecError as exc:  # never fixes itself: do not have it retried
        log.error("unreadable upload task: %s", exc, extra={"code": "bad-task"})
        return json.dumps({"dropped": "unreadable task"}), 200, headers
    if rt.settings.bucket and task.bucket != rt.settings.bucket:
        log.error(
            "a task for another bucket", extra={"code": "bad-task", "task_bucket": task.bucket}
        )
        return json.dumps({"dropped": "not this deployment's bucket"}), 200, headers
    deadline = Deadline.for_invocation(rt.settings, started)
    with logs.log_context(
        bucket=task.bucket, object=task.source, generation=str(task.generation), part=task.part
    ):
        try:
            rt.settings.check_lease()
            pipeline = rt.pipeline(task.bucket)
        except ConfigError as exc:
            log.error("configuration error: %s", exc, extra={"code": "config-error"})
            return json.dumps({"error": "configuration error"}), 500, headers
        try:
            job = pipeline.run_task(task, deadline)
        except RetryLater as exc:
            log.info(
                "handing over for a retry: %s", exc, extra={"retry_reason": type(exc).__name__}
            )
            return json.dumps({"retry": type(exc).__name__}), 503, headers
    state = job.part(task.part).state.value if job is not None else "gone"
    return json.dumps({"part": state}), 200, headers


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
    ctx = FlowContext.build(
        store=rt.store(bucket), work=rt.work(bucket), settings=rt.settings, metrika=rt.metrika
    )
    poller = Poller(ctx)
    with logs.log_context(bucket=rt.settings.bucket):
        summary = poller.poll()
    return json.dumps(summary.to_json()), 200, headers
