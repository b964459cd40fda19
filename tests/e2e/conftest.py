"""The whole local stack for end-to-end tests, as deployed: fake-gcs-server behind the tap
(the trigger, on the input bucket only) with a work bucket beside it, gcloud-tasks-emulator
behind our REST front and task tap, the fake Metrica, and the real functions under
functions-framework: `on_object_finalized` (checks and queues) and `upload_part` (uploads).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from metrika_offline.store.gcs import GcsStore
from metrika_offline.tasks.cloud_tasks import queue_id
from tests import samples
from tests.fakes.function import FunctionServer
from tests.fakes.gcs import LocalGcs
from tests.fakes.gcs_events import RetryPolicy
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika
from tests.fakes.tasks import LOCATION, LocalTasks, TaskTap, wait_until_idle
from tests.schema import check_result

COUNTER = 51234567
#: A lease short enough for a test to outwait, still above the invocation's time limit (the
#: function refuses anything else), and small parts.
SHORT_LEASE = {"LEASE_S": "4", "INVOCATION_TIMEOUT_S": "3.6", "MAX_PART_BYTES": "4096"}
#: Like RETRY_POLICY_RETRY, only quicker: a refused or failed delivery comes back soon, for
#: long enough to outlive a short lease held by a dead worker.
PATIENT_RETRY = RetryPolicy(max_attempts=60, initial_s=0.05, max_delay_s=0.4)


@dataclasses.dataclass
class LocalStack:
    gcs: GcsStack
    metrika: FakeMetrika
    function: FunctionServer  # on_object_finalized
    uploader: FunctionServer  # upload_part
    work: GcsStore
    tasks: LocalTasks
    tap: TaskTap
    queue: str  # UPLOAD_QUEUE

    @property
    def bucket(self) -> str:
        return self.gcs.bucket

    def queues(self) -> list[str]:
        return [self.queue.replace("{account}", queue_id(a)) for a in ACCOUNTS]

    def drop(self, name: str, data: bytes, **metadata: str) -> int:
        """Upload a file as a user would; returns its generation."""
        blob = self.gcs.client.bucket(self.bucket).blob(name)
        if metadata:
            blob.metadata = metadata
        blob.upload_from_string(data, content_type="text/csv")
        assert blob.generation is not None
        return int(blob.generation)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every event and every task (and all they caused) has been handled."""
        idle = wait_until_idle(
            self.tasks, self.tap, self.queues, self.gcs.events.wait_idle, timeout
        )
        assert idle, "events or tasks still in flight"

    def result(self, name: str) -> dict[str, Any]:
        found = self.gcs.store.read_bytes(name + ".result.json")
        assert found is not None, f"no result for {name}"
        result: dict[str, Any] = json.loads(found[0])
        check_result(result)
        return result

    def uploads(self) -> list[Any]:
        return [e for e in self.metrika.journal if e.endpoint == "upload" and e.recorded]

    def restart_function(self) -> None:
        self.function.kill()
        self.function.start()


#: The accounts the end-to-end tests use: the default token's, and those METRIKA_ACCOUNTS names.
ACCOUNTS = ("default", "client-a", "client-b", "client-c")


@pytest.fixture(scope="session")
def local_tasks() -> Iterator[LocalTasks]:
    with LocalTasks() as tasks:
        yield tasks


@pytest.fixture
def work_bucket(local_gcs: LocalGcs, gcs_stack: GcsStack) -> Iterator[GcsStore]:
    """The work bucket: no trigger on it."""
    name = f"w-{uuid.uuid4().hex[:24]}"
    local_gcs.server.create_bucket(name)
    try:
        yield GcsStore(gcs_stack.client, name)
    finally:
        local_gcs.server.delete_bucket(name)


@pytest.fixture
def tap_options(request: pytest.FixtureRequest) -> dict[str, int]:
    """How the task tap delivers; parametrize it (indirect): duplicates, concurrency."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def task_tap(tap_options: dict[str, int]) -> Iterator[TaskTap]:
    tap = TaskTap(**tap_options).start()
    try:
        yield tap
    finally:
        tap.stop()


@pytest.fixture
def upload_queue(local_tasks: LocalTasks) -> str:
    """UPLOAD_QUEUE for one test, its queues made in the emulator."""
    queue = f"{LOCATION}/queues/t{uuid.uuid4().hex[:12]}-{{account}}"
    for account in ACCOUNTS:
        local_tasks.add_queue(queue.replace("{account}", queue_id(account)))
    return queue


@dataclasses.dataclass(frozen=True)
class Platform:
    """What the deployment adds around the input bucket: the work bucket and the queues."""

    work: GcsStore
    tasks: LocalTasks
    tap: TaskTap
    queue: str

    def env(self, gcs: GcsStack) -> dict[str, str]:
        """The buckets and the queues, as the functions are told them."""
        return {
            **gcs.env(),
            "BUCKET": gcs.bucket,
            "WORK_BUCKET": self.work.bucket,
            "UPLOAD_QUEUE": self.queue,
            "UPLOAD_URL": self.tap.url,
            "CLOUD_TASKS_EMULATOR_HOST": self.tasks.host,
        }


@pytest.fixture
def platform(
    work_bucket: GcsStore, local_tasks: LocalTasks, task_tap: TaskTap, upload_queue: str
) -> Platform:
    return Platform(work_bucket, local_tasks, task_tap, upload_queue)


@pytest.fixture
def stack_env(
    request: pytest.FixtureRequest,
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    platform: Platform,
) -> dict[str, str]:
    """What the functions run with; parametrize it (indirect) to override variables."""
    overrides: dict[str, str] = getattr(request, "param", {})
    return {
        **platform.env(gcs_stack),
        "METRIKA_API_URL": fake_metrika.url,
        "METRIKA_TOKEN": FAKE_TOKEN,
        "DEFAULT_COUNTER_ID": str(COUNTER),
        "LOG_LEVEL": "DEBUG",
        "LEASE_S": "600",
        **overrides,
    }


@pytest.fixture
def local_stack(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    stack_env: dict[str, str],
    platform: Platform,
    tmp_path: Path,
) -> Iterator[LocalStack]:
    for counter in (COUNTER, 777):
        fake_metrika.set_goals(counter, samples.GOALS)
    function = FunctionServer(stack_env, log_path=tmp_path / "function.log").start()
    uploader = FunctionServer(
        stack_env, target="upload_part", signature_type="http", log_path=tmp_path / "upload.log"
    ).start()
    platform.tap.target = uploader.url
    gcs_stack.events.retry = PATIENT_RETRY
    gcs_stack.events.add_subscriber(function.url)
    try:
        yield LocalStack(
            gcs_stack, fake_metrika, function, uploader, platform.work, platform.tasks,
            platform.tap, platform.queue,
        )  # fmt: skip
    finally:
        gcs_stack.events.remove_subscriber(function.url)
        function.stop()
        uploader.stop()


@pytest.fixture
def function_log(tmp_path: Path) -> Callable[[], list[dict[str, Any]]]:
    """Both functions' JSON log lines so far."""

    def read() -> list[dict[str, Any]]:
        lines: list[str] = []
        for log in ("function.log", "upload.log"):
            if (tmp_path / log).exists():
                lines += (tmp_path / log).read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    return read
