"""End to end: files dropped into the emulated bucket, the real function under
functions-framework, the fake Metrica. Every result is checked against the JSON Schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import samples
from tests.e2e.conftest import COUNTER, SHORT_LEASE, LocalStack
from tests.fakes.function import FunctionServer
from tests.fakes.gcs_events import RetryPolicy, finalized_event, post_event
from tests.fakes.metrika import Fault

pytestmark = pytest.mark.slow


def test_each_type_is_routed_checked_and_uploaded_once(local_stack: LocalStack) -> None:
    local_stack.drop("incoming/51234567/basic/leads.csv", samples.basic_csv(5))
    local_stack.drop(
        "incoming/exports/calls.csv",
        samples.calls_cp1251_csv(4),
        **{"counter-id": "777", "type": "calls"},
    )
    local_stack.drop("incoming/chats/chats.csv", samples.chats_csv())
    local_stack.settle()

    basic = local_stack.result("incoming/51234567/basic/leads.csv")
    calls = local_stack.result("incoming/exports/calls.csv")
    chats = local_stack.result("incoming/chats/chats.csv")
    assert [r["status"] for r in (basic, calls, chats)] == ["uploaded"] * 3
    assert (basic["routing"]["counter_id"], basic["routing"]["type"]) == (51234567, "BASIC")
    assert basic["routing"]["sources"]["counter_id"] == "path"
    assert (calls["routing"]["counter_id"], calls["routing"]["type"]) == (777, "CALLS")
    assert calls["routing"]["sources"]["type"] == "metadata"
    assert (chats["routing"]["counter_id"], chats["routing"]["type"]) == (COUNTER, "CHATS")
    assert {w["code"] for w in calls["warnings"]} == {"windows-1251", "phone-normalized"}
    assert {w["code"] for w in basic["warnings"]} == {"datetime-converted", "decimal-comma"}

    uploads = local_stack.uploads()
    assert sorted((u.counter_id, u.type, u.rows) for u in uploads) == [
        (777, "CALLS", 4),
        (COUNTER, "BASIC", 5),
        (COUNTER, "CHATS", 2),
    ]
    for result in (basic, calls, chats):
        (part,) = result["parts"]
        assert part["state"] == "uploaded"
        assert part["uploading"]["id"] in {u.uploading_id for u in uploads}
        assert part["marker"] in part["comment"]


def test_a_crm_export_goes_through_its_folder_settings(local_stack: LocalStack) -> None:
    folder = "incoming/crm/bitrix24/"
    local_stack.drop(folder + "metrika-offline.json", samples.bitrix24_settings(888))
    local_stack.drop(folder + "calls-2026-11-29.csv", samples.bitrix24_calls_csv(4))
    local_stack.settle()

    result = local_stack.result(folder + "calls-2026-11-29.csv")
    assert result["status"] == "uploaded"
    assert result["routing"]["settings_file"] == folder + "metrika-offline.json"
    assert (result["routing"]["counter_id"], result["routing"]["type"]) == (888, "CALLS")
    assert {w["code"] for w in result["warnings"]} == {
        "windows-1251",
        "header-renamed",
        "unknown-column",
        "datetime-day-first",
        "phone-normalized",
        "duration-converted",
    }
    assert [(u.counter_id, u.type, u.rows) for u in local_stack.uploads()] == [(888, "CALLS", 4)]
    assert local_stack.gcs.store.read_bytes(folder + "metrika-offline.json.result.json") is None


@pytest.mark.parametrize("stack_env", [{"MAX_PART_BYTES": "4096"}], indirect=True)
def test_a_big_file_is_split_and_every_part_uploaded_once(
    local_stack: LocalStack,
) -> None:
    local_stack.drop("incoming/51234567/calls/big.csv", samples.big_calls_csv(400))
    local_stack.settle()
    result = local_stack.result("incoming/51234567/calls/big.csv")
    assert result["status"] == "uploaded"
    assert len(result["parts"]) >= 3
    assert all(p["bytes"] <= 4096 for p in result["parts"])
    uploads = local_stack.uploads()
    assert len(uploads) == len(result["parts"])
    assert sum(u.rows for u in uploads) == 400 == result["rows"]["valid"]
    assert len({u.comment for u in uploads}) == len(uploads)


def test_dry_run_validates_and_sends_nothing(local_stack: LocalStack) -> None:
    local_stack.drop("incoming/leads.csv", samples.basic_csv(3), mode="dry-run")
    local_stack.settle()
    result = local_stack.result("incoming/leads.csv")
    assert result["status"] == "validated"
    assert result["rows"]["valid"] == 3
    assert result["parts"] == []
    # Nothing sent: a dry run only reads the counter's goals to check Target.
    assert [e.endpoint for e in local_stack.metrika.journal] == ["goals"]


@pytest.mark.parametrize("stack_env", [{"DEFAULT_COUNTER_ID": ""}], indirect=True)
def test_no_counter_anywhere_is_rejected_clearly(local_stack: LocalStack) -> None:
    local_stack.drop("incoming/leads.csv", samples.basic_csv(2))
    local_stack.settle()
    result = local_stack.result("incoming/leads.csv")
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "no-counter"
    assert "counter" in result["errors"][0]["message"]
    assert local_stack.metrika.journal == []


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (samples.broken_csv(), "missing-column", 1),
        (b"", "empty-file", None),
        (b"ClientId,Target,DateTime\n", "header-only", None),
        (bytes(range(256)) * 40, "binary-file", 1),
    ],
)
def test_malformed_files_get_a_result_and_the_source_stays(
    local_stack: LocalStack, data: bytes, code: str, line: int | None
) -> None:
    generation = local_stack.drop("incoming/1/bad.csv", data)
    local_stack.settle()
    result = local_stack.result("incoming/1/bad.csv")
    assert result["status"] == "rejected"
    assert result["errors"], "a rejected file must say why"
    assert result["error"]["code"] == code
    assert result["errors"][0]["code"] == code
    assert result["errors"][0]["line"] == line
    assert local_stack.metrika.journal == []
    info = local_stack.gcs.store.stat("incoming/1/bad.csv")
    assert info is not None
    assert info.generation == generation  # never deleted or rewritten


def test_own_outputs_trigger_nothing(local_stack: LocalStack) -> None:
    local_stack.drop("incoming/1/leads.csv", samples.basic_csv(2))
    local_stack.settle()
    deliveries = local_stack.gcs.events.deliveries
    names = {d.name for d in deliveries}
    assert "incoming/1/leads.csv.result.json" in names  # our write did trigger us...
    assert all(d.ok for d in deliveries)
    assert len(local_stack.uploads()) == 1  # ...and was ignored
    before = local_stack.result("incoming/1/leads.csv")
    # A result file posted as if it were new input changes nothing either.
    resource = local_stack.gcs.client.bucket(local_stack.bucket).get_blob(
        "incoming/1/leads.csv.result.json"
    )
    assert resource is not None
    event = finalized_event(resource._properties)  # the object resource as the API gave it
    assert post_event(local_stack.function.url, event).ok
    assert local_stack.result("incoming/1/leads.csv")["updated_at"] == before["updated_at"]
    assert len(local_stack.uploads()) == 1


@pytest.mark.parametrize("stack_env", [{"MAX_PART_BYTES": "4096"}], indirect=True)
def test_the_same_event_three_times_at_once_uploads_each_part_once(
    local_stack: LocalStack,
) -> None:
    local_stack.gcs.events.duplicates = 3
    local_stack.drop("incoming/1/calls/big.csv", samples.big_calls_csv(200))
    local_stack.settle()
    result = local_stack.result("incoming/1/calls/big.csv")
    assert result["status"] == "uploaded"
    uploads = local_stack.uploads()
    assert len(result["parts"]) >= 2
    assert sorted(u.comment for u in uploads) == sorted(p["comment"] for p in result["parts"])


@pytest.mark.parametrize("stack_env", [{}, SHORT_LEASE], indirect=True)
def test_metrica_faults_end_in_success(local_stack: LocalStack) -> None:
    local_stack.metrika.script(
        Fault.http(503, endpoint="upload"),
        Fault.http(500, endpoint="upload"),
        Fault.quota(retry_after=1, endpoint="upload"),
        # Metrica's 504 `timeout`: the upload was made, the answer says 5xx.
        Fault.http(504, "timeout", endpoint="upload", made=True),
    )
    local_stack.drop("incoming/1/leads.csv", samples.basic_csv(3))
    local_stack.settle(timeout=120)
    result = local_stack.result("incoming/1/leads.csv")
    assert result["status"] == "uploaded"
    [made] = local_stack.metrika.uploads
    assert result["parts"][0]["uploading"]["id"] == made.id


def test_a_400_is_a_rejected_result_and_no_retry(local_stack: LocalStack) -> None:
    local_stack.metrika.script(
        Fault.http(400, "invalid_uploading", message="bad data format, error in line 2",
                   endpoint="upload")
    )  # fmt: skip
    local_stack.drop("incoming/1/leads.csv", samples.basic_csv(3))
    local_stack.settle()
    result = local_stack.result("incoming/1/leads.csv")
    assert result["status"] == "rejected"
    (part,) = result["parts"]
    assert part["state"] == "failed"
    assert part["error"]["error_type"] == "invalid_uploading"
    assert "error in line 2" in part["error"]["message"]
    attempts = [e for e in local_stack.metrika.journal if e.endpoint == "upload"]
    assert len(attempts) == 1
    assert all(d.attempts == 1 for d in local_stack.gcs.events.deliveries)


@pytest.mark.parametrize("stack_env", [{"LEASE_S": "4"}], indirect=True)
def test_a_lease_shorter_than_the_invocation_is_refused_and_nothing_is_sent(
    local_stack: LocalStack, function_log: Callable[[], list[dict[str, Any]]]
) -> None:
    local_stack.gcs.events.retry = RetryPolicy(max_attempts=2, initial_s=0.05)
    local_stack.drop("incoming/1/leads.csv", samples.basic_csv(3))
    local_stack.settle()
    (delivery,) = local_stack.gcs.events.deliveries
    assert (delivery.ok, delivery.attempts) == (False, 2)  # kept for after the fix
    assert local_stack.metrika.journal == []
    assert local_stack.gcs.store.stat("incoming/1/leads.csv.result.json") is None
    assert list(local_stack.gcs.store.list("metrika-offline/")) == []
    errors = [line for line in function_log() if line["severity"] == "ERROR"]
    assert len(errors) == 2
    assert "LEASE_S (4 s)" in errors[0]["message"]
    assert "INVOCATION_TIMEOUT_S (540 s)" in errors[0]["message"]
    assert errors[0]["object"] == "incoming/1/leads.csv"


def test_a_clean_single_part_file_costs_at_most_four_events(
    local_stack: LocalStack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Every object written to the input bucket is an event of the storage-triggered function:
    the drop, then the result with the check's verdict, the upload, and Metrica's final word.
    The work state fires nothing (it lives in the work bucket) and uploads are tasks."""
    local_stack.drop("incoming/1/leads.csv", samples.basic_csv(3))
    local_stack.settle()
    local_stack.metrika.advance(2 * 3600)  # Metrica's final word is ready
    with FunctionServer(stack_env, target="poll_uploads", signature_type="http",
                        log_path=tmp_path / "poll.log") as poller:  # fmt: skip
        assert requests.post(poller.url, timeout=60).ok
    local_stack.settle()
    result = local_stack.result("incoming/1/leads.csv")
    assert (result["status"], result["metrika"]["outcome"]) == ("uploaded", "processed")
    assert len(result["parts"]) == 1
    names = [d.name for d in local_stack.gcs.events.deliveries]
    assert names.count("incoming/1/leads.csv") == 1
    assert len(names) <= 4, names
    assert len(local_stack.uploads()) == 1


@pytest.mark.parametrize("stack_env", [{"QUOTA_RETRY_S": "16"}], indirect=True)
def test_a_daily_quota_puts_the_task_back_for_its_time(local_stack: LocalStack) -> None:
    """The part waits; its task comes back at its schedule_time through the queue (the
    emulator holds a task until then) and sends it, once. Nothing polls for it."""
    local_stack.metrika.script(Fault.quota(error_type="quota_requests_by_uid", endpoint="upload"))
    local_stack.drop("incoming/1/leads.csv", samples.basic_csv(3))
    local_stack.settle(timeout=120)
    result = local_stack.result("incoming/1/leads.csv")
    assert result["status"] == "uploaded"
    assert len(local_stack.uploads()) == 1
    waited = [d for d in local_stack.tap.deliveries if "-w" in d.task]
    assert len(waited) == 1, [d.task for d in local_stack.tap.deliveries]
