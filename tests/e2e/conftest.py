"""The whole local stack for end-to-end tests: fake-gcs-server behind the tap (which is also
the trigger), the fake Metrica, and the real function under functions-framework.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import samples
from tests.fakes.function import FunctionServer
from tests.fakes.gcs_events import RetryPolicy
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika
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
    function: FunctionServer

    @property
    def bucket(self) -> str:
        return self.gcs.bucket

    def drop(self, name: str, data: bytes, **metadata: str) -> int:
        """Upload a file as a user would; returns its generation."""
        blob = self.gcs.client.bucket(self.bucket).blob(name)
        if metadata:
            blob.metadata = metadata
        blob.upload_from_string(data, content_type="text/csv")
        assert blob.generation is not None
        return int(blob.generation)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every event (and every event those caused) has been handled."""
        assert self.gcs.events.wait_idle(timeout), "events still in flight"

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


@pytest.fixture
def stack_env(
    request: pytest.FixtureRequest, gcs_stack: GcsStack, fake_metrika: FakeMetrika
) -> dict[str, str]:
    """What the function runs with; parametrize it (indirect) to override variables."""
    overrides: dict[str, str] = getattr(request, "param", {})
    return {
        **gcs_stack.env(),
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
    tmp_path: Path,
) -> Iterator[LocalStack]:
    for counter in (COUNTER, 777):
        fake_metrika.set_goals(counter, samples.GOALS)
    function = FunctionServer(stack_env, log_path=tmp_path / "function.log").start()
    gcs_stack.events.retry = PATIENT_RETRY
    gcs_stack.events.add_subscriber(function.url)
    try:
        yield LocalStack(gcs_stack, fake_metrika, function)
    finally:
        gcs_stack.events.remove_subscriber(function.url)
        function.stop()


@pytest.fixture
def function_log(tmp_path: Path) -> Callable[[], list[dict[str, Any]]]:
    """The function's JSON log lines so far."""

    def read() -> list[dict[str, Any]]:
        lines = (tmp_path / "function.log").read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    return read
