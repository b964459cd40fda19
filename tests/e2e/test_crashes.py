"""The worker SIGKILLed at several points, then the event delivered again: every part is
uploaded exactly once and the result is complete.

The trigger retries a delivery that got no answer (RETRY_POLICY_RETRY); the restarted
function finds the dead worker's lease, asks to be retried until it expires, then takes over
from what the job state recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from metrika_offline.flow.jobstore import JobStore
from metrika_offline.flow.layout import WorkLayout
from metrika_offline.flow.pending import list_pending
from tests import samples
from tests.e2e.conftest import SHORT_LEASE, LocalStack

pytestmark = pytest.mark.slow

ROWS = 200


class KillOnce:
    """An observer of finalized objects that SIGKILLs the function at the first match."""

    def __init__(self, stack: LocalStack, fragment: str) -> None:
        self.stack = stack
        self.fragment = fragment
        self.killed = threading.Event()
        self._lock = threading.Lock()
        self._matched = False

    def __call__(self, resource: Mapping[str, Any]) -> None:
        with self._lock:
            if self._matched or self.fragment not in str(resource["name"]):
                return
            self._matched = True
        self.stack.function.kill()
        self.killed.set()  # only now may the test start a fresh instance


def run_with_kill(stack: LocalStack, fragment: str) -> dict[str, Any]:
    killer = KillOnce(stack, fragment)
    stack.gcs.events.on_finalize(killer)
    stack.drop("incoming/1/calls/big.csv", samples.big_calls_csv(ROWS))
    assert killer.killed.wait(60), f"never reached {fragment!r}"
    stack.function.start()  # a fresh instance on the same address
    stack.settle(timeout=90)
    return stack.result("incoming/1/calls/big.csv")


def assert_each_part_uploaded_once(stack: LocalStack, result: dict[str, Any]) -> None:
    assert result["status"] == "uploaded"
    uploads = stack.uploads()
    assert sorted(u.comment for u in uploads) == sorted(p["comment"] for p in result["parts"])
    assert sum(u.rows for u in uploads) == ROWS
    ids = {p["uploading"]["id"] for p in result["parts"]}
    assert ids == {u.uploading_id for u in uploads}
    # Every upload is indexed for the follow-up, whatever the kill interrupted.
    pending = list_pending(stack.gcs.store, WorkLayout("metrika-offline/"))
    assert sorted(p.upload.uploading_id for p in pending) == sorted(ids)


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
@pytest.mark.parametrize(
    "fragment",
    [
        "/parts/",  # mid-split: the first part was just written
        "/dispatch/",  # between recording the parts and dispatching them all
        "/pending/",  # right after a part was recorded as uploaded
    ],
)
def test_killed_at_a_storage_write(local_stack: LocalStack, fragment: str) -> None:
    result = run_with_kill(local_stack, fragment)
    assert_each_part_uploaded_once(local_stack, result)
    jobs = JobStore(local_stack.gcs.store, "metrika-offline/")
    loaded = jobs.load("incoming/1/calls/big.csv", int(result["source"]["generation"]))
    assert loaded is not None
    # Killed mid-split, the check was taken over and done again; killed later, it was not.
    assert loaded[0].split_attempts == (2 if fragment == "/parts/" else 1)


@pytest.mark.parametrize("stack_env", [SHORT_LEASE], indirect=True)
def test_killed_while_metrica_holds_the_upload(local_stack: LocalStack) -> None:
    gate = local_stack.metrika.hold("upload")
    local_stack.drop("incoming/1/calls/big.csv", samples.big_calls_csv(ROWS))
    assert gate.wait_for(1, timeout=60)
    local_stack.function.kill()  # the body arrived; the answer never will
    gate.release()
    local_stack.function.start()
    local_stack.settle(timeout=90)
    result = local_stack.result("incoming/1/calls/big.csv")
    assert_each_part_uploaded_once(local_stack, result)
    adopted = [p for p in result["parts"] if p["attempts"] > 1]
    assert adopted, "the interrupted part should have been resumed by a second attempt"
