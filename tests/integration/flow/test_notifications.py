"""Notifications: each final outcome told once to a Slack-style webhook, a Telegram-shaped Bot
API and a generic JSON webhook (one local receiver stands for all three), and Metrica's final
word told once more. No row data, no token, no URL in any message; a receiver that fails
changes nothing but the log."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from metrika_offline.config import Settings
from metrika_offline.errors import StoreError
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.followup.news import tell_once
from metrika_offline.flow.followup.poll import Poller
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.record.job import Job
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.notify.notifier import ATTEMPTS, Notifier
from tests import samples
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika
from tests.fakes.webhooks import WebhookReceiver
from tests.schema import read_result

BOT_TOKEN = "7012345678:AAH-bot-secret-DoNotLeak"
COUNTER = 51234567
SECRETS = (FAKE_TOKEN, BOT_TOKEN, "slack-secret-path", "hook-secret-path")


@pytest.fixture
def settings(webhooks: WebhookReceiver, fake_metrika: FakeMetrika) -> Settings:
    fake_metrika.set_goals(COUNTER, samples.GOALS)
    return Settings.from_env(
        {
            "METRIKA_TOKEN": FAKE_TOKEN,
            "METRIKA_API_URL": fake_metrika.url,
            "NOTIFY_SLACK_WEBHOOK_URL": f"{webhooks.url}/slack/slack-secret-path",
            "NOTIFY_WEBHOOK_URL": f"{webhooks.url}/hook/hook-secret-path",
            "NOTIFY_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "NOTIFY_TELEGRAM_CHAT_ID": "-1001234567890",
            "TELEGRAM_API_URL": webhooks.url,
        },
        max_event_age_s=3600,
    )


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def pipeline(
    gcs_stack: GcsStack, settings: Settings, metrika_client: MetrikaClient, waits: list[float]
) -> Pipeline:
    notifier = Notifier.from_settings(settings, sleep=waits.append)
    return Pipeline(
        FlowContext.build(
            store=gcs_stack.store,
            settings=settings,
            metrika=metrika_client,
            inline=True,
            notifier=notifier,
        )
    )


def drop(stack: GcsStack, name: str, data: bytes) -> ObjectEvent:
    generation = stack.store.write_bytes(name, data, content_type="text/csv")
    return ObjectEvent(stack.bucket, name, generation, len(data), {}, "e", time.time())


def result(stack: GcsStack, name: str) -> dict[str, Any]:
    return read_result(stack.store, name)


def assert_no_secrets_or_rows(received: list[Any], row_values: list[str]) -> None:
    for item in received:
        text = json.dumps(item.body, ensure_ascii=False)
        for secret in SECRETS:
            assert secret not in text
        for value in row_values:
            assert value not in text, text


def with_bad_rows() -> bytes:
    now = int(time.time())
    return (
        "ClientId,Target,DateTime,Price\n"
        f"133591247640966458,lead_form_sent,{now - 3600},100.00\n"
        f"133591247640966459,lead_form_sent,not a date,200.00\n"
        f"133591247640966460,lead_form_sent,{now - 7200},300.00\n"
    ).encode()


@pytest.mark.parametrize(
    ("make", "status", "line"),
    [
        pytest.param(lambda: samples.basic_csv(3), "uploaded", "3 rows sent, 0 left out",
                     id="uploaded"),
        pytest.param(with_bad_rows, "partially_uploaded", "2 rows sent, 1 left out",
                     id="partially_uploaded"),
        pytest.param(samples.broken_csv, "rejected", "reason: missing-column", id="rejected"),
    ],
)  # fmt: skip
def test_each_outcome_is_told_on_every_channel(
    *,
    gcs_stack: GcsStack,
    webhooks: WebhookReceiver,
    pipeline: Pipeline,
    make: Callable[[], bytes],
    status: str,
    line: str,
) -> None:
    name = f"incoming/{COUNTER}/leads.csv"
    pipeline.process_source(drop(gcs_stack, name, make()), Deadline())
    assert result(gcs_stack, name)["status"] == status
    (slack,) = webhooks.to("/slack/")
    (hook,) = webhooks.to("/hook/")
    (telegram,) = webhooks.to("/bot")
    assert telegram.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert telegram.body["chat_id"] == "-1001234567890"
    for text in (slack.body["text"], telegram.body["text"], hook.body["text"]):
        assert f"leads.csv: {status.replace('_', ' ')}" in text
        assert f"counter {COUNTER} · BASIC" in text
        assert line in text
        assert f"gs://{gcs_stack.bucket}/{name}.result.json" in text
    assert (hook.body["event"], hook.body["kind"], hook.body["outcome"]) == (
        "metrika_offline.file",
        "file",
        status,
    )
    assert_no_secrets_or_rows(webhooks.received, ["133591247640966458", "not a date"])
    # The claim is in the job state.
    jobs = JobStore(gcs_stack.store, pipeline.ctx.settings.work_prefix)
    loaded = jobs.load(name, int(result(gcs_stack, name)["source"]["generation"]))
    assert loaded is not None
    assert loaded[0].notified == (f"file:{status}",)


def test_a_failed_file_is_told_with_its_reason(
    gcs_stack: GcsStack, webhooks: WebhookReceiver, pipeline: Pipeline
) -> None:
    name = f"incoming/{COUNTER}/gone.csv"
    event = drop(gcs_stack, name, samples.basic_csv(2))
    gcs_stack.store.delete(name)
    pipeline.process_source(event, Deadline())
    (hook,) = webhooks.to("/hook/")
    assert (hook.body["outcome"], hook.body["error"]) == ("failed", "source-missing")
    assert "reason: source-missing" in hook.body["text"]


def test_a_duplicate_event_tells_nothing_twice(
    gcs_stack: GcsStack, webhooks: WebhookReceiver, pipeline: Pipeline
) -> None:
    event = drop(gcs_stack, f"incoming/{COUNTER}/leads.csv", samples.basic_csv(2))
    for _ in range(3):
        pipeline.process_source(event, Deadline())
    assert len(webhooks.to("/slack/")) == len(webhooks.to("/hook/")) == 1
    assert len(webhooks.to("/bot")) == 1


def test_a_failing_receiver_is_retried_a_few_times_and_changes_nothing(
    gcs_stack: GcsStack,
    webhooks: WebhookReceiver,
    pipeline: Pipeline,
    fake_metrika: FakeMetrika,
    waits: list[float],
) -> None:
    webhooks.fail_always = True
    name = f"incoming/{COUNTER}/leads.csv"
    pipeline.process_source(drop(gcs_stack, name, samples.basic_csv(3)), Deadline())
    assert result(gcs_stack, name)["status"] == "uploaded"
    assert len(fake_metrika.uploads) == 1
    for path in ("/slack/", "/hook/", "/bot"):
        assert [r.status for r in webhooks.to(path)] == [500] * ATTEMPTS
    assert len(waits) == 3 * (ATTEMPTS - 1)


def test_a_receiver_that_recovers_gets_the_message_once(
    gcs_stack: GcsStack, webhooks: WebhookReceiver, pipeline: Pipeline
) -> None:
    webhooks.fail_next(1)  # the first channel's first try
    pipeline.process_source(
        drop(gcs_stack, f"incoming/{COUNTER}/leads.csv", samples.basic_csv(2)), Deadline()
    )
    delivered = [r for r in webhooks.received if r.status == 200]
    assert sorted(r.path.split("/")[1][:3] for r in delivered) == ["bot", "hoo", "sla"]


def test_metricas_final_word_is_told_once_with_its_counts(
    *,
    gcs_stack: GcsStack,
    webhooks: WebhookReceiver,
    pipeline: Pipeline,
    fake_metrika: FakeMetrika,
    settings: Settings,
    metrika_client: MetrikaClient,
    waits: list[float],
) -> None:
    name = f"incoming/{COUNTER}/leads.csv"
    pipeline.process_source(drop(gcs_stack, name, samples.basic_csv(4)), Deadline())
    fake_metrika.advance(24 * 3600)
    poller = Poller(
        FlowContext.build(
            store=gcs_stack.store,
            metrika=MetrikaAccounts.of(metrika_client),
            settings=settings,
            notifier=Notifier.from_settings(settings, sleep=waits.append),
        )
    )
    poller.poll()
    poller.poll()
    news = [r for r in webhooks.to("/hook/") if r.body["kind"] == "metrika"]
    assert len(news) == 1
    body = news[0].body
    assert body["outcome"] == result(gcs_stack, name)["metrika"]["outcome"] == "processed"
    assert body["linked"] == result(gcs_stack, name)["metrika"]["linked_quantity"]
    assert "Metrica says processed" in body["text"]
    assert f"{body['linked']} linked" in body["text"]
    assert len([r for r in webhooks.to("/bot") if "Metrica says" in r.body["text"]]) == 1
    assert_no_secrets_or_rows(webhooks.received, ["133591247640966458"])


def test_rows_sent_by_an_earlier_file_are_told_apart(
    gcs_stack: GcsStack, webhooks: WebhookReceiver, pipeline: Pipeline
) -> None:
    now = time.time()
    pipeline.process_source(
        drop(gcs_stack, f"incoming/{COUNTER}/night-1.csv", samples.basic_csv(3, now=now)),
        Deadline(),
    )
    name = f"incoming/{COUNTER}/night-2.csv"
    pipeline.process_source(drop(gcs_stack, name, samples.basic_csv(5, now=now)), Deadline())
    assert result(gcs_stack, name)["rows"]["already_sent"] == 3
    hook = webhooks.to("/hook/")[-1]
    assert hook.body["rows_already_sent"] == 3
    for item in (hook, webhooks.to("/slack/")[-1], webhooks.to("/bot")[-1]):
        text = item.body["text"]
        assert "night-2.csv: uploaded" in text
        assert "2 rows sent, 0 left out, 3 already sent before" in text


def test_a_folder_chooses_its_channels_and_its_telegram_chat(
    gcs_stack: GcsStack, webhooks: WebhookReceiver, pipeline: Pipeline
) -> None:
    settings = {"notify": "telegram", "telegram_chat_id": "-100555"}
    gcs_stack.store.write_bytes(
        "incoming/client-a/metrika-offline.json",
        json.dumps(settings).encode(),
        content_type="application/json",
    )
    gcs_stack.store.write_bytes(
        "incoming/client-b/metrika-offline.json",
        json.dumps({"notify": "none"}).encode(),
        content_type="application/json",
    )
    for folder in ("client-a", "client-b"):
        name = f"incoming/{folder}/{COUNTER}/leads.csv"
        pipeline.process_source(drop(gcs_stack, name, samples.basic_csv(2)), Deadline())
        assert result(gcs_stack, name)["status"] == "uploaded"
    (telegram,) = webhooks.received
    assert telegram.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert telegram.body["chat_id"] == "-100555"


def test_a_file_name_cannot_ping_or_hide_a_link_in_any_channel(
    gcs_stack: GcsStack, webhooks: WebhookReceiver, pipeline: Pipeline
) -> None:
    """Slack gets the name with `&`, `<`, `>` escaped (no @channel, no disguised link) and
    its mrkdwn off; Telegram gets plain text (no parse_mode); the JSON webhook gets the name
    as data, as typed. The rejected row's formula reaches the rejects file as text."""
    name = f"incoming/{COUNTER}/calls/{samples.SLACK_MARKUP_NAME}"
    pipeline.process_source(drop(gcs_stack, name, samples.calls_with_a_formula_csv()), Deadline())
    assert result(gcs_stack, name)["status"] == "partially_uploaded"
    (slack,) = webhooks.to("/slack/")
    (telegram,) = webhooks.to("/bot")
    (hook,) = webhooks.to("/hook/")

    # The name's last segment heads the message; the whole name is in the result line.
    plain = telegram.body["text"]
    assert plain.startswith("⚠️ evil.example|report>.csv: partially uploaded\n")
    assert f"result: gs://{gcs_stack.bucket}/{name}.result.json" in plain
    assert "parse_mode" not in telegram.body
    assert hook.body["text"] == plain
    assert hook.body["name"] == name

    escaped = "&lt;!channel&gt; &lt;https://evil.example|report&gt;.csv.result.json"
    assert escaped in slack.body["text"]
    assert "<" not in slack.body["text"]
    assert ">" not in slack.body["text"]
    assert slack.body["text"] == (
        plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
    assert slack.body["mrkdwn"] is False
    assert_no_secrets_or_rows(webhooks.received, [samples.FORMULA_CELL])

    found = gcs_stack.store.read_bytes(name + ".rejected.csv")
    assert found is not None
    rows = list(csv.reader(io.StringIO(found[0].decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][-1] == "Comment"
    assert [row[-1] for row in rows[1:]] == ["'" + samples.FORMULA_CELL]


class _ClaimsFail(JobStore):
    """The job store as a storage outage leaves it: every write fails."""

    def _write(self, job: Job, *, if_generation_match: int) -> None:  # noqa: ARG002
        raise StoreError("the job state could not be written")


def test_a_notification_whose_claim_cannot_be_written_is_not_sent(
    gcs_stack: GcsStack, webhooks: WebhookReceiver, pipeline: Pipeline, settings: Settings
) -> None:
    name = f"incoming/{COUNTER}/leads.csv"
    pipeline.process_source(drop(gcs_stack, name, samples.basic_csv(2)), Deadline())
    generation = int(result(gcs_stack, name)["source"]["generation"])
    told = len(webhooks.received)
    failing = _ClaimsFail(gcs_stack.store, settings.work_prefix)
    loaded = failing.load(name, generation)
    assert loaded is not None
    notifier = Notifier.from_settings(settings, sleep=lambda _: None)
    # Metrica's word has not been told yet: with the claim unwritable, nobody hears it
    # (told without a claim, it could be told again by the next poll).
    tell_once(failing, notifier, loaded[0], "metrika")
    assert len(webhooks.received) == told
    # The same call with a store that works is told, once per channel.
    tell_once(JobStore(gcs_stack.store, settings.work_prefix), notifier, loaded[0], "metrika")
    assert len(webhooks.received) == told + 3
