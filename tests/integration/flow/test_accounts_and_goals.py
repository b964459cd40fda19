"""Several Yandex accounts, and Target checked against the counter's goals: the pipeline
in-process on the emulated bucket and the fake Metrica, which refuses a token on a counter of
another account (403 access_denied) and lists each counter's scripted goals."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from metrika_offline.config import Settings
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.metrika.retry import RetryPolicy
from metrika_offline.metrika.transport import Timeouts
from tests import samples
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika, Fault
from tests.fakes.metrika.fixtures import ManualTime
from tests.schema import read_result

TOKEN_A = "y0_agency-client-a-token"
TOKEN_B = "y0_agency-client-b-token"
COUNTER_A, COUNTER_B, COUNTER_C = 51234567, 62345678, 73456789


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@pytest.fixture
def accounts_fake() -> Iterator[FakeMetrika]:
    """Two accounts, each reaching only its own counter."""
    access = {TOKEN_A: {COUNTER_A}, TOKEN_B: {COUNTER_B}}
    with FakeMetrika(tokens=set(access), access=access) as fake:
        for counter in (COUNTER_A, COUNTER_B):
            fake.set_goals(counter, samples.GOALS)
        yield fake


def settings_for(fake: FakeMetrika, **overrides: Any) -> Settings:
    env = {
        "METRIKA_API_URL": fake.url,
        "METRIKA_ACCOUNTS": json.dumps(
            {str(COUNTER_A): "client-a", str(COUNTER_B): "Client B", str(COUNTER_C): "client-c"}
        ),
        "METRIKA_TOKEN_CLIENT_A": TOKEN_A,
        "METRIKA_TOKEN_CLIENT_B": TOKEN_B,  # "Client B" upper-cased, the space made "_"
    }
    return Settings.from_env(env, max_event_age_s=3600, **overrides)


def pipeline_for(
    stack: GcsStack,
    settings: Settings,
    manual_time: ManualTime,
    dispatch: Literal["tasks", "inline"] = "inline",
) -> Pipeline:
    accounts = MetrikaAccounts.from_settings(
        settings,
        retry=RetryPolicy(max_attempts=3),
        timeouts=Timeouts(connect_s=5.0, read_s=10.0),
        sleep=manual_time.sleep,
        clock=manual_time.clock,
    )
    return Pipeline(
        FlowContext.build(
            store=stack.store, settings=settings, metrika=accounts, inline=dispatch == "inline"
        )
    )


def process(pipeline: Pipeline, stack: GcsStack, name: str, data: bytes) -> dict[str, Any]:
    generation = stack.store.write_bytes(name, data, content_type="text/csv")
    event = ObjectEvent(stack.bucket, name, generation, len(data), {}, "e", time.time())
    pipeline.process_source(event, Deadline())
    return read_result(stack.store, name)


def result_generation(result: dict[str, Any]) -> int:
    return int(result["source"]["generation"])


def basic_with_targets(*targets: str) -> bytes:
    now = int(time.time())
    lines = ["ClientId,Target,DateTime"]
    lines += [f"{133591247640966458 + i},{t},{now - 3600 * (i + 1)}" for i, t in enumerate(targets)]
    return ("\n".join(lines) + "\n").encode()


def test_each_counter_is_uploaded_with_its_accounts_token(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    pipeline = pipeline_for(gcs_stack, settings_for(accounts_fake), manual_time)
    a = process(pipeline, gcs_stack, f"incoming/{COUNTER_A}/leads.csv", samples.basic_csv(3))
    b = process(pipeline, gcs_stack, f"incoming/{COUNTER_B}/leads.csv", samples.basic_csv(2))
    assert (a["status"], b["status"]) == ("uploaded", "uploaded")
    uploads = [e for e in accounts_fake.journal if e.endpoint == "upload"]
    assert sorted((e.counter_id, e.token_sha, e.status, e.rows) for e in uploads) == [
        (COUNTER_A, sha(TOKEN_A), 200, 3),
        (COUNTER_B, sha(TOKEN_B), 200, 2),
    ]
    # Goals were read with the same token as the upload, and nothing was refused.
    goals = {(e.counter_id, e.token_sha) for e in accounts_fake.journal if e.endpoint == "goals"}
    assert goals == {(COUNTER_A, sha(TOKEN_A)), (COUNTER_B, sha(TOKEN_B))}
    assert all(e.status == 200 for e in accounts_fake.journal)


def test_a_counter_without_a_token_is_rejected_before_anything_is_sent(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    pipeline = pipeline_for(gcs_stack, settings_for(accounts_fake), manual_time)
    mapped = process(pipeline, gcs_stack, f"incoming/{COUNTER_C}/a.csv", samples.basic_csv(2))
    unmapped = process(pipeline, gcs_stack, "incoming/84567890/b.csv", samples.basic_csv(2))
    for result in (mapped, unmapped):
        assert result["status"] == "rejected"
        assert result["error"]["code"] == "no-token-for-counter"
        assert result["parts"] == []
    assert "METRIKA_TOKEN_CLIENT_C is not set" in mapped["error"]["message"]
    assert "METRIKA_TOKEN" in unmapped["error"]["message"]
    assert accounts_fake.journal == []


def test_a_token_the_counter_refuses_fails_the_part_as_auth(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    # Counter B given to account A by mistake: Metrica refuses A's token there.
    settings = settings_for(accounts_fake, metrika_accounts={str(COUNTER_B): "client-a"})
    pipeline = pipeline_for(gcs_stack, settings, manual_time, dispatch="tasks")
    result = process(pipeline, gcs_stack, f"incoming/{COUNTER_B}/a.csv", samples.basic_csv(2))
    pipeline.uploader.upload_part(
        f"incoming/{COUNTER_B}/a.csv", result_generation(result), 1, Deadline()
    )
    result = read_result(gcs_stack.store, f"incoming/{COUNTER_B}/a.csv")
    assert result["status"] == "failed"
    (part,) = result["parts"]
    assert (part["error"]["code"], part["error"]["error_type"]) == ("metrika-auth", "access_denied")
    assert "goals-unreadable" in {w["code"] for w in result["warnings"]}


def test_unknown_goals_are_counted_per_value_with_the_identifier_meant(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    pipeline = pipeline_for(gcs_stack, settings_for(accounts_fake), manual_time)
    data = basic_with_targets(
        "lead_form_sent", "Заявка с сайта", "Заявка с сайта", "заявка  с сайта", "purchase",
        "order_paid",
    )  # fmt: skip
    result = process(pipeline, gcs_stack, f"incoming/{COUNTER_A}/crm.csv", data)
    assert result["status"] == "uploaded"  # a warning: the rows still go
    (warning,) = [w for w in result["warnings"] if w["code"] == "unknown-goal"]
    assert warning["count"] == 4
    assert warning["line"] == 3
    assert warning["values"] == [
        {"value": "Заявка с сайта", "rows": 2, "did_you_mean": "lead_form_sent"},
        {"value": "заявка  с сайта", "rows": 1, "did_you_mean": "lead_form_sent"},
        {"value": "purchase", "rows": 1},
    ]
    assert '"Заявка с сайта" → "lead_form_sent"' in warning["message"]
    assert [e.endpoint for e in accounts_fake.journal].count("goals") == 1
    # A second file for the same counter uses the goals already read.
    process(pipeline, gcs_stack, f"incoming/{COUNTER_A}/crm2.csv", data)
    assert [e.endpoint for e in accounts_fake.journal].count("goals") == 1


def test_contain_start_and_regexp_conditions_are_respected(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    accounts_fake.set_goals(
        COUNTER_A,
        [
            {"id": 1, "name": "Звонок", "type": "action",
             "conditions": [{"type": "contain", "url": "call"}]},
            {"id": 2, "name": "Корзина", "type": "action",
             "conditions": [{"type": "start", "url": "cart_"}]},
            {"id": 3, "name": "Заказ", "type": "action",
             "conditions": [{"type": "regexp", "url": "^order_[0-9]+$"}]},
            {"id": 4, "name": "Контакты", "type": "url",
             "conditions": [{"type": "exact", "url": "contacts"}]},
        ],
    )  # fmt: skip
    pipeline = pipeline_for(gcs_stack, settings_for(accounts_fake), manual_time)
    data = basic_with_targets("callback", "cart_add", "order_42", "order_x", "contacts")
    result = process(pipeline, gcs_stack, f"incoming/{COUNTER_A}/crm.csv", data)
    (warning,) = [w for w in result["warnings"] if w["code"] == "unknown-goal"]
    # `contacts` is a page-view goal's URL, not a JavaScript event: unknown as a Target.
    assert [v["value"] for v in warning["values"]] == ["order_x", "contacts"]


def test_unknown_goals_as_errors_reject_the_file_and_send_nothing(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    settings = settings_for(accounts_fake, unknown_goals="error")
    pipeline = pipeline_for(gcs_stack, settings, manual_time)
    name = f"incoming/{COUNTER_A}/crm.csv"
    result = process(
        pipeline, gcs_stack, name, basic_with_targets("lead_form_sent", "Оплата заказа")
    )
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "unknown-goal-rejected"
    assert "order_paid" in result["error"]["message"]
    assert result["parts"] == []
    assert [e.endpoint for e in accounts_fake.journal] == ["goals"]
    assert gcs_stack.store.read_bytes(name) is not None  # the source stays


def test_goals_that_cannot_be_read_are_reported_and_the_file_goes_on(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    accounts_fake.script(Fault.http(503, endpoint="goals"), Fault.http(503, endpoint="goals"))
    pipeline = pipeline_for(gcs_stack, settings_for(accounts_fake), manual_time)
    result = process(pipeline, gcs_stack, f"incoming/{COUNTER_A}/a.csv", samples.basic_csv(2))
    assert result["status"] == "uploaded"
    (warning,) = [w for w in result["warnings"] if w["code"] == "goals-unreadable"]
    assert "503" in warning["message"]
    assert [e.endpoint for e in accounts_fake.journal] == ["goals", "goals", "upload"]


def test_a_folder_can_make_unknown_goals_an_error(
    gcs_stack: GcsStack, accounts_fake: FakeMetrika, manual_time: ManualTime
) -> None:
    gcs_stack.store.write_bytes(
        "incoming/strict/metrika-offline.json",
        json.dumps({"unknown_goals": "error"}).encode(),
        content_type="application/json",
    )
    pipeline = pipeline_for(gcs_stack, settings_for(accounts_fake), manual_time)
    data = basic_with_targets("lead_form_sent", "Оплата заказа")
    strict = process(pipeline, gcs_stack, f"incoming/strict/{COUNTER_A}/a.csv", data)
    lenient = process(pipeline, gcs_stack, f"incoming/other/{COUNTER_A}/a.csv", data)
    assert (strict["status"], strict["error"]["code"]) == ("rejected", "unknown-goal-rejected")
    assert strict["routing"]["sources"]["unknown_goals"] == "folder"
    assert lenient["status"] == "uploaded"
    assert [e.counter_id for e in accounts_fake.journal if e.endpoint == "upload"] == [COUNTER_A]
