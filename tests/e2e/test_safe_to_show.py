"""End to end, what people are shown cannot be turned against them: the real function under
functions-framework, a file dropped into the emulated bucket under a name full of Slack markup
and holding a rejected row with a formula, one local receiver standing for a Slack webhook, the
Telegram Bot API and a JSON webhook."""

from __future__ import annotations

import csv
import io

import pytest

from tests import samples
from tests.e2e.conftest import COUNTER, LocalStack, Platform
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika
from tests.fakes.webhooks import WebhookReceiver

pytestmark = pytest.mark.slow

BOT_TOKEN = "7012345678:AAH-e2e-safe-bot-DoNotLeak"


@pytest.fixture
def stack_env(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, webhooks: WebhookReceiver, platform: Platform
) -> dict[str, str]:
    return {
        **platform.env(gcs_stack),
        "METRIKA_API_URL": fake_metrika.url,
        "METRIKA_TOKEN": FAKE_TOKEN,
        "NOTIFY_SLACK_WEBHOOK_URL": f"{webhooks.url}/slack/e2e-slack-secret",
        "NOTIFY_WEBHOOK_URL": f"{webhooks.url}/hook/e2e-hook-secret",
        "NOTIFY_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "NOTIFY_TELEGRAM_CHAT_ID": "-100777",
        "TELEGRAM_API_URL": webhooks.url,
        "LOG_LEVEL": "DEBUG",
        "LEASE_S": "600",
    }


def test_a_dropped_name_and_a_rejected_cell_reach_people_as_text(
    local_stack: LocalStack, webhooks: WebhookReceiver
) -> None:
    name = f"incoming/{COUNTER}/calls/{samples.SLACK_MARKUP_NAME}"
    local_stack.drop(name, samples.calls_with_a_formula_csv())
    local_stack.settle()
    found = local_stack.result(name)
    assert (found["status"], found["rows"]["invalid"]) == ("partially_uploaded", 1)

    # Slack: the ping and the disguised link arrive escaped, as Slack's rule asks.
    (slack,) = webhooks.to("/slack/")
    assert (
        "&lt;!channel&gt; &lt;https://evil.example|report&gt;.csv.result.json"
        in (slack.body["text"])
    )
    assert "<" not in slack.body["text"]
    assert ">" not in slack.body["text"]
    assert slack.body["mrkdwn"] is False
    # Telegram: plain text, the name as typed; the JSON webhook: the name as data.
    (telegram,) = webhooks.to("/bot")
    assert "parse_mode" not in telegram.body
    assert f"gs://{local_stack.bucket}/{name}.result.json" in telegram.body["text"]
    (hook,) = webhooks.to("/hook/")
    assert (hook.body["name"], hook.body["text"]) == (name, telegram.body["text"])

    # The rejects file: the visitor's formula is text, the phone number as it was.
    data = local_stack.gcs.store.read_bytes(name + ".rejected.csv")
    assert data is not None
    rows = list(csv.reader(io.StringIO(data[0].decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [(row[4], row[-1]) for row in rows[1:]] == [
        ("+7 (912) 345-67-04", "'" + samples.FORMULA_CELL)
    ]
