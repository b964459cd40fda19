"""End to end, with two Yandex accounts and every notification channel: the real function
under functions-framework, files dropped into the emulated bucket, the fake Metrica checking
which token reaches which counter, and one local receiver standing for a Slack webhook, a
JSON webhook and the Telegram Bot API."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import samples
from tests.e2e.conftest import LocalStack, Platform
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika
from tests.fakes.webhooks import WebhookReceiver

pytestmark = pytest.mark.slow

TOKEN_A = "y0_e2e-client-a-token-DoNotLeak"
TOKEN_B = "y0_e2e-client-b-token-DoNotLeak"
BOT_TOKEN = "7012345678:AAH-e2e-bot-DoNotLeak"
COUNTER_A, COUNTER_B, COUNTER_C = 51234567, 62345678, 73456789


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@pytest.fixture
def fake_metrika() -> Iterator[FakeMetrika]:
    """Each account's token reaches its own counter only (403 access_denied elsewhere)."""
    access = {TOKEN_A: {COUNTER_A}, TOKEN_B: {COUNTER_B}}
    with FakeMetrika(tokens=set(access), access=access) as fake:
        for counter in (COUNTER_A, COUNTER_B):
            fake.set_goals(counter, samples.GOALS)
        yield fake


@pytest.fixture
def stack_env(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, webhooks: WebhookReceiver, platform: Platform
) -> dict[str, str]:
    return {
        **platform.env(gcs_stack),
        "METRIKA_API_URL": fake_metrika.url,
        "METRIKA_ACCOUNTS": json.dumps(
            {str(COUNTER_A): "client-a", str(COUNTER_B): "client-b", str(COUNTER_C): "client-c"}
        ),
        "METRIKA_TOKEN_CLIENT_A": TOKEN_A,
        "METRIKA_TOKEN_CLIENT_B": TOKEN_B,
        "NOTIFY_WEBHOOK_URL": f"{webhooks.url}/hook/e2e-hook-secret",
        "NOTIFY_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "NOTIFY_TELEGRAM_CHAT_ID": "-100777",
        "TELEGRAM_API_URL": webhooks.url,
        "LOG_LEVEL": "DEBUG",
        "LEASE_S": "600",
    }


def basic_with_targets(*targets: str) -> bytes:
    now = int(time.time())
    lines = ["ClientId,Target,DateTime"]
    lines += [f"{133591247640966458 + i},{t},{now - 3600 * (i + 1)}" for i, t in enumerate(targets)]
    return ("\n".join(lines) + "\n").encode()


def test_two_accounts_one_counter_without_a_token_and_every_outcome_told(
    local_stack: LocalStack,
    webhooks: WebhookReceiver,
    function_log: Callable[[], list[dict[str, Any]]],
) -> None:
    local_stack.drop(f"incoming/{COUNTER_A}/leads.csv", samples.basic_csv(3))
    local_stack.drop(
        f"incoming/{COUNTER_B}/crm.csv",
        basic_with_targets("lead_form_sent", "Заявка с сайта", "Заявка с сайта"),
    )
    local_stack.drop(f"incoming/{COUNTER_C}/leads.csv", samples.basic_csv(2))
    local_stack.settle()

    a = local_stack.result(f"incoming/{COUNTER_A}/leads.csv")
    b = local_stack.result(f"incoming/{COUNTER_B}/crm.csv")
    c = local_stack.result(f"incoming/{COUNTER_C}/leads.csv")
    assert (a["status"], b["status"], c["status"]) == ("uploaded", "uploaded", "rejected")
    assert c["error"]["code"] == "no-token-for-counter"
    assert "METRIKA_TOKEN_CLIENT_C" in c["error"]["message"]

    # Each counter's calls went out with its own account's token, and none was refused.
    journal = local_stack.metrika.journal
    assert all(e.status == 200 for e in journal)
    assert {(e.counter_id, e.token_sha) for e in journal} == {
        (COUNTER_A, sha(TOKEN_A)),
        (COUNTER_B, sha(TOKEN_B)),
    }
    # ... and each account's part came through that account's own queue.
    queues = {d.queue.rsplit("-", 1)[-1] for d in local_stack.tap.deliveries}
    assert queues == {"a", "b"}
    assert sorted((u.counter_id, u.rows) for u in local_stack.uploads()) == [
        (COUNTER_A, 3),
        (COUNTER_B, 3),
    ]

    # The goal check: the display name is counted and its identifier named.
    (unknown,) = [w for w in b["warnings"] if w["code"] == "unknown-goal"]
    assert unknown["values"] == [
        {"value": "Заявка с сайта", "rows": 2, "did_you_mean": "lead_form_sent"}
    ]

    # One notification per file and channel, none with a token, a URL or a row.
    hooks = {r.body["name"]: r.body for r in webhooks.to("/hook/")}
    assert {name: body["outcome"] for name, body in hooks.items()} == {
        f"incoming/{COUNTER_A}/leads.csv": "uploaded",
        f"incoming/{COUNTER_B}/crm.csv": "uploaded",
        f"incoming/{COUNTER_C}/leads.csv": "rejected",
    }
    telegram = webhooks.to("/bot")
    assert len(telegram) == 3
    assert {r.path for r in telegram} == {f"/bot{BOT_TOKEN}/sendMessage"}
    assert all(r.body["chat_id"] == "-100777" for r in telegram)
    assert any("reason: no-token-for-counter" in r.body["text"] for r in telegram)
    secrets = (TOKEN_A, TOKEN_B, BOT_TOKEN, "e2e-hook-secret")
    for received in webhooks.received:
        text = json.dumps(received.body, ensure_ascii=False)
        assert not any(secret in text for secret in secrets)
        assert "133591247640966458" not in text
    log_text = json.dumps(function_log(), ensure_ascii=False)
    assert not any(secret in log_text for secret in secrets)


def test_a_receiver_that_keeps_failing_changes_no_outcome(
    local_stack: LocalStack, webhooks: WebhookReceiver
) -> None:
    webhooks.fail_always = True
    local_stack.drop(f"incoming/{COUNTER_A}/leads.csv", samples.basic_csv(2))
    local_stack.settle()
    assert local_stack.result(f"incoming/{COUNTER_A}/leads.csv")["status"] == "uploaded"
    assert len(local_stack.uploads()) == 1
    assert [r.status for r in webhooks.to("/hook/")] == [500, 500, 500]
