"""Metrica as its own API tests and reference pages show it answering (the fake's default mode:
one type per list, oldest first, uploads made before a 5xx, new counters not ready, daily
quotas), and the client, a part's upload, the follow-up and the CLI against it, over real HTTP.

Every test here failed on the code before these promises were made: a 504 after the upload was
made sent the part twice, so did a lost answer with 6,000 earlier uploads listed oldest first;
the follow-up listed without a type and missed CALLS uploads; a counter not ready failed the
file for good; a daily quota was retried within the run.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from metrika_offline import cli, errors
from metrika_offline.config import Settings
from metrika_offline.errors import RetryLater
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.followup.poll import Poller
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.queue import HeldTasks
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.metrika.models import Uploading
from metrika_offline.notify.notifier import Notifier
from metrika_offline.types import ConversionType
from tests import samples
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika, Fault
from tests.fakes.webhooks import WebhookReceiver
from tests.schema import read_result

BASIC = ConversionType.BASIC
CALLS = ConversionType.CALLS
COUNTER = 51234567
DAY_S = 86_400.0
NOW = int(time.time())
CSV = (
    "ClientId,Target,DateTime\n"
    f"111,lead,{NOW - 3600}\n222,lead,{NOW - 3500}\n333,sale,{NOW - 3400}\n"
).encode()


def upload(
    client: MetrikaClient, data: bytes = CSV, *, part: int = 0, kind: ConversionType = BASIC
) -> Uploading:
    tag = make_marker("bucket", "incoming/leads.csv", 1, part)
    return client.upload(
        COUNTER, kind, make_comment("October batch", tag), lambda: io.BytesIO(data), len(data),
        marker=tag,
    )  # fmt: skip


def ours(fake: FakeMetrika) -> list[Any]:
    """The uploads this test made (not the counter's seeded history)."""
    return [u for u in fake.uploads if u.comment != "earlier upload"]


# --- 1. an answer of 500 or above, or a 408, after the body went out: look before resending ----


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(504, "timeout"), (500, "backend_error"), (503, "backend_error"), (408, "timeout")],
)
def test_a_5xx_after_the_upload_was_made_is_looked_up_and_adopted_not_sent_twice(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient, status: int, error_type: str
) -> None:
    fake_metrika.script(Fault.http(status, error_type, endpoint="upload", made=True))
    uploading = upload(metrika_client)
    [made] = fake_metrika.uploads
    assert uploading.id == made.id
    assert [e.endpoint for e in fake_metrika.journal] == ["upload", "uploadings"]


def test_a_5xx_that_made_nothing_is_sent_again_once_the_look_up_finds_nothing(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.script(Fault.http(503, endpoint="upload"))
    upload(metrika_client)
    assert len(fake_metrika.uploads) == 1
    assert [e.endpoint for e in fake_metrika.journal] == ["upload", "uploadings", "upload"]


# --- 2. a marker search that needs no order -----------------------------------------------------


def test_a_lost_answer_behind_6000_earlier_uploads_listed_oldest_first_is_found(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.seed(COUNTER, 6000)
    fake_metrika.script(Fault.drop())
    uploading = upload(metrika_client)
    [made] = ours(fake_metrika)
    assert uploading.id == made.id
    asked = fake_metrika.requests_to("uploadings")
    assert [(e.type, e.limit) for e in asked] == [("BASIC", 10000)]  # one page holds them all


@pytest.mark.parametrize(("newest_first", "pages"), [(True, 2), (False, 3)])
def test_the_search_stops_early_only_where_the_order_seen_proves_nothing_newer_follows(
    metrika_client_for: Callable[..., MetrikaClient], newest_first: bool, pages: int
) -> None:
    with FakeMetrika(newest_first=newest_first) as fake:
        fake.seed(COUNTER, 25_000)  # a week old, a second apart
        client = metrika_client_for(fake)
        missing = make_marker("bucket", "incoming/other.csv", 1, 1)
        assert client.find_by_marker(COUNTER, missing, type=BASIC, since=time.time()) is None
        # Newest first, the second page falls below the first and is older than the part's
        # first attempt: nothing newer can follow. Oldest first, the whole list is read.
        assert len(fake.requests_to("uploadings")) == pages


def _pipeline(stack: GcsStack, client: MetrikaClient, **kwargs: Any) -> Pipeline:
    settings = kwargs.pop("settings", Settings(max_event_age_s=3600))
    return Pipeline(
        FlowContext.build(store=stack.store, settings=settings, metrika=client, **kwargs)
    )


def _drop(stack: GcsStack, name: str, data: bytes) -> ObjectEvent:
    generation = stack.store.write_bytes(name, data, content_type="text/csv")
    return ObjectEvent(stack.bucket, name, generation, len(data), {}, "e", time.time())


def test_a_search_that_cannot_finish_never_resends_the_part_waits_and_says_why(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    pipeline = _pipeline(gcs_stack, metrika_client)
    name = f"incoming/{COUNTER}/leads.csv"
    event = _drop(gcs_stack, name, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    jobs = JobStore(gcs_stack.store, "metrika-offline/")

    def part_now() -> Any:
        loaded = jobs.load(name, event.generation)
        assert loaded is not None
        return loaded[0].part(1)

    # The answer is lost, then every look-up fails: the client gives up without resending.
    fake_metrika.script(Fault.drop(), *[Fault.http(503, endpoint="uploadings")] * 3)
    with pytest.raises(RetryLater):
        pipeline.uploader.upload_part(name, event.generation, 1, Deadline())
    assert (part_now().state.value, part_now().wait.code) == ("waiting", "metrika-unavailable")
    # The next delivery looks the marker up first; it cannot finish either: the part waits.
    fake_metrika.script(*[Fault.http(503, endpoint="uploadings")] * 4)
    with pytest.raises(RetryLater):
        pipeline.uploader.upload_part(name, event.generation, 1, Deadline())
    waiting = part_now()
    assert (waiting.state.value, waiting.wait.code) == ("waiting", "marker-search-unfinished")
    assert "never sent blind" in waiting.wait.message
    assert len([e for e in fake_metrika.journal if e.endpoint == "upload"]) == 1
    # When Metrica answers again, the upload the lost answer made is found and adopted.
    pipeline.uploader.upload_part(name, event.generation, 1, Deadline())
    [made] = fake_metrika.uploads
    assert read_result(gcs_stack.store, name)["parts"][0]["uploading"]["id"] == made.id
    assert len([e for e in fake_metrika.journal if e.endpoint == "upload"]) == 1


# --- 3. every list call names its type, the follow-up's too --------------------------------------


def test_the_follow_up_lists_calls_uploads_with_their_type_in_one_request(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    settings = Settings(max_event_age_s=3600, max_part_bytes=2000)
    pipeline = _pipeline(gcs_stack, metrika_client, settings=settings, inline=True)
    name = f"incoming/{COUNTER}/calls/big.csv"
    pipeline.process_source(_drop(gcs_stack, name, samples.big_calls_csv(60)), Deadline())
    parts = read_result(gcs_stack.store, name)["parts"]
    assert len(parts) >= 2
    assert {u.type for u in fake_metrika.uploads} == {"CALLS"}
    fake_metrika.advance(3600)
    before = len(fake_metrika.journal)
    poller = Poller(
        FlowContext.build(store=gcs_stack.store, metrika=metrika_client, settings=settings)
    )
    summary = poller.poll()
    asked = fake_metrika.journal[before:]
    assert [(e.endpoint, e.type) for e in asked] == [("uploadings", "CALLS")]
    assert (summary.final, summary.requests) == (len(parts), 1)
    assert read_result(gcs_stack.store, name)["metrika"]["outcome"] == "processed"


# --- 4. a counter that is not ready yet ----------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, fake_metrika: FakeMetrika) -> FakeMetrika:
    monkeypatch.setenv("METRIKA_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("METRIKA_API_URL", fake_metrika.url)
    for name in ("TIMEZONE", "MAX_PART_BYTES", "STRICT", "MAX_INVALID_RATIO", "QUOTA_RETRY_S",
                 "IGNORE_VISIT_JOIN_THRESHOLD", "DEFAULT_COUNTER_ID"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return fake_metrika


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move this process's wall clock on (the CLI's, and the fake's with it)."""
    real = time.time
    shift = [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + shift[0])

    def move(seconds: float) -> None:
        shift[0] += seconds

    return move


def test_the_cli_waits_for_a_new_counter_and_the_same_command_sends_it_then(
    cli_env: FakeMetrika,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    later: Callable[[float], None],
) -> None:
    opens = time.time() + 2 * DAY_S
    cli_env.set_not_ready(COUNTER, opens)
    source = tmp_path / "leads.csv"
    source.write_bytes(CSV)
    command = ["upload", str(source), "--counter", str(COUNTER), "--type", "basic"]
    assert cli.main(command) == 1
    out = capsys.readouterr().out
    # The day Metrica named (in Moscow) is read as its midnight there: 21:00 UTC the day before.
    shown = time.strftime("%Y-%m-%d 21:00 UTC", time.gmtime(opens + 3 * 3600 - DAY_S))
    assert "metrika-not-ready" in out
    assert shown in out
    assert "run the same command again then" in out
    assert "--ignore-visit-join-threshold" in out
    assert cli_env.uploads == []
    assert cli.main(command) == 1  # before the date: the part still waits, nothing is sent
    assert [e.endpoint for e in cli_env.journal if e.endpoint == "upload"] == ["upload"]
    capsys.readouterr()
    later(2 * DAY_S)
    assert cli.main(command) == 0
    assert "uploaded, 3 of 3 rows" in capsys.readouterr().out
    [made] = cli_env.uploads
    assert made.rows == 3


@pytest.mark.parametrize(
    ("kind", "data", "parameter", "window"),
    [
        ("basic", CSV, "ignore_visit_join_threshold", "offline_conversion_extended_threshold"),
        ("calls", samples.big_calls_csv(3), "ignore_calls_visit_join_threshold",
         "offline_calls_extended_threshold"),
    ],
    ids=["basic", "calls"],  # the data holds the time: every pytest worker must see one id
)  # fmt: skip
def test_ignore_visit_join_threshold_sends_to_a_new_counter_now(  # noqa: PLR0917
    cli_env: FakeMetrika,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    data: bytes,
    parameter: str,
    window: str,
) -> None:
    cli_env.set_not_ready(COUNTER, time.time() + 2 * DAY_S)
    source = tmp_path / "leads.csv"
    source.write_bytes(data)
    command = ["upload", str(source), "--counter", str(COUNTER), "--type", kind]
    assert cli.main([*command, "--ignore-visit-join-threshold"]) == 0
    [sent] = [e for e in cli_env.journal if e.endpoint == "upload"]
    assert (parameter, "1") in sent.query
    assert len(cli_env.uploads) == 1
    # Metrica's tests show the ignored threshold turns the extended linking window on.
    assert cli_env.offline_options(COUNTER)[window] == 1


def test_the_environment_and_the_folder_settings_give_the_option_too(
    cli_env: FakeMetrika,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli_env.set_not_ready(COUNTER, time.time() + 2 * DAY_S)
    first, second = tmp_path / "a" / "leads.csv", tmp_path / "b" / "leads.csv"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(CSV)
    (second.parent / "metrika-offline.json").write_text(
        json.dumps({"counter_id": str(COUNTER), "ignore_visit_join_threshold": True})
    )
    monkeypatch.setenv("IGNORE_VISIT_JOIN_THRESHOLD", "true")
    assert cli.main(["upload", str(first), "--counter", str(COUNTER), "--type", "basic"]) == 0
    monkeypatch.delenv("IGNORE_VISIT_JOIN_THRESHOLD")
    assert cli.main(["upload", str(second), "--type", "basic"]) == 0
    sent = [e for e in cli_env.journal if e.endpoint == "upload"]
    assert [("ignore_visit_join_threshold", "1") in e.query for e in sent] == [True, True]


@pytest.fixture
def webhooks_settings(webhooks: WebhookReceiver, fake_metrika: FakeMetrika) -> Settings:
    return Settings.from_env(
        {
            "METRIKA_TOKEN": FAKE_TOKEN,
            "METRIKA_API_URL": fake_metrika.url,
            "NOTIFY_WEBHOOK_URL": f"{webhooks.url}/hook/secret-path",
        },
        max_event_age_s=10 * DAY_S,
    )


def test_the_function_waits_for_a_new_counter_tells_once_and_its_task_comes_back_then(
    gcs_stack: GcsStack,
    fake_metrika: FakeMetrika,
    metrika_client: MetrikaClient,
    webhooks: WebhookReceiver,
    webhooks_settings: Settings,
) -> None:
    now = [time.time()]
    opens = now[0] + 2 * DAY_S
    fake_metrika.set_not_ready(COUNTER, opens, date_format="%Y-%m-%d %H:%M")
    notifier = Notifier.from_settings(webhooks_settings, sleep=lambda _s: None)
    pipeline = Pipeline(
        FlowContext.build(
            store=gcs_stack.store,
            settings=webhooks_settings,
            metrika=metrika_client,
            notifier=notifier,
            clock=lambda: now[0],
        )
    )
    queue = pipeline.queue
    assert isinstance(queue, HeldTasks)
    name = f"incoming/{COUNTER}/leads.csv"
    event = _drop(gcs_stack, name, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    (first,) = queue.tasks
    pipeline.run_task(first.task, Deadline())  # the part's task
    result = read_result(gcs_stack.store, name)
    assert result["status"] == "processing"
    (part,) = result["parts"]
    assert (part["state"], part["wait"]["code"]) == ("waiting", "metrika-not-ready")
    [warning] = [w for w in result["warnings"] if w["code"] == "metrika-not-ready"]
    assert time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(opens)) in warning["message"]
    assert "ignore_visit_join_threshold" in warning["message"]
    # The task is put back for the date Metrica named, under a name of its own.
    (_, later) = queue.tasks
    assert later.task == first.task
    assert later.name != first.name
    assert later.not_before is not None
    assert abs(later.not_before - opens) < 60
    # The task delivered again before the date asks nothing and puts back nothing new; the
    # person was told once.
    before = len(fake_metrika.journal)
    pipeline.run_task(first.task, Deadline())
    assert len(fake_metrika.journal) == before
    assert len(queue.tasks) == 2
    told = [r.body for r in webhooks.to("/hook/")]
    assert [b["kind"] for b in told] == ["wait"]
    assert "metrika-not-ready" in told[0]["text"]
    # At the date the scheduled task comes and sends it.
    now[0] += 2 * DAY_S
    fake_metrika.advance(2 * DAY_S)
    pipeline.run_task(later.task, Deadline())
    result = read_result(gcs_stack.store, name)
    assert result["status"] == "uploaded"
    assert [w for w in result["warnings"] if w["code"] == "metrika-not-ready"] == []
    assert len(fake_metrika.uploads) == 1
    assert [r.body["kind"] for r in webhooks.to("/hook/")] == ["wait", "file"]


# --- 5. daily quotas wait, they are not retried within the run ---------------------------------


@pytest.mark.parametrize(
    ("per_token", "per_counter", "error_type"),
    [(1, None, "quota_requests_by_uid"), (None, 1, "quota_requests_by_counter_id")],
)
def test_a_daily_quota_is_raised_at_once_not_retried(
    metrika_client_for: Callable[..., MetrikaClient],
    per_token: int | None,
    per_counter: int | None,
    error_type: str,
) -> None:
    with FakeMetrika(daily_requests_per_token=per_token,
                     daily_requests_per_counter=per_counter) as fake:  # fmt: skip
        client = metrika_client_for(fake)
        upload(client)
        with pytest.raises(errors.MetrikaDailyQuota) as caught:
            upload(client, part=1)
        assert caught.value.error_type == error_type
        assert caught.value.metrika_message.startswith("Превышена квота на количество")
        assert [e.status for e in fake.journal] == [200, 429]


def test_the_cli_stops_on_a_daily_quota_and_the_same_command_resumes_later(
    cli_env: FakeMetrika,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    later: Callable[[float], None],
) -> None:
    cli_env.set_goals(COUNTER, samples.GOALS)
    source = tmp_path / "calls.csv"
    source.write_bytes(samples.big_calls_csv(60))
    monkeypatch.setenv("MAX_PART_BYTES", "2000")
    command = ["upload", str(source), "--counter", str(COUNTER), "--type", "calls"]
    cli_env.script(Fault.quota(error_type="quota_requests_by_uid", endpoint="upload"))
    assert cli.main(command) == 1
    out = capsys.readouterr().out
    assert "quota_requests_by_uid" in out
    assert "run the same command again then to resume" in out
    uploads_asked = [e for e in cli_env.journal if e.endpoint == "upload"]
    assert len(uploads_asked) == 1  # the quota's answer, and no call after it
    assert cli_env.uploads == []
    assert cli.main(command) == 1  # within QUOTA_RETRY_S: nothing is asked
    assert len([e for e in cli_env.journal if e.endpoint == "upload"]) == 1
    capsys.readouterr()
    later(3600)
    assert cli.main(command) == 0
    result = json.loads((tmp_path / "calls.csv.result.json").read_text())
    assert result["status"] == "uploaded"
    assert len(cli_env.uploads) == len(result["parts"]) >= 2


def test_not_ready_and_daily_quota_errors_carry_what_the_part_waits_for(
    fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    opens = time.time() + DAY_S
    fake_metrika.set_not_ready(COUNTER, opens, date_format="%d.%m.%Y %H:%M:%S")
    with pytest.raises(errors.MetrikaNotReady) as caught:
        upload(metrika_client)
    assert caught.value.not_before == pytest.approx(opens, abs=1)
    assert caught.value.metrika_message.startswith("Загрузить данные сейчас невозможно")
    assert len(fake_metrika.journal) == 1  # not retried


# --- 6. goals as documented: an exact JavaScript-event condition ---------------------------------


def test_a_target_matching_only_a_loose_goal_condition_is_sent_with_a_warning(
    cli_env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.set_goals(
        COUNTER,
        [
            {"id": 1, "name": "Заявка", "type": "action",
             "conditions": [{"type": "exact", "url": "lead_form_sent"}]},
            {"id": 2, "name": "Любая оплата", "type": "action",
             "conditions": [{"type": "contain", "url": "paid"}]},
            {"id": 3, "name": "Звонок", "type": "action",
             "conditions": [{"type": "regexp", "url": "^call_.*"}]},
        ],
    )  # fmt: skip
    source = tmp_path / "leads.csv"
    source.write_text(
        "ClientId,Target,DateTime\n"
        f"111,lead_form_sent,{NOW - 3600}\n222,order_paid,{NOW - 3500}\n"
        f"333,order_paid,{NOW - 3400}\n444,call_back,{NOW - 3300}\n"
    )
    code = cli.main(["upload", str(source), "--counter", str(COUNTER), "--type", "basic"])
    capsys.readouterr()
    assert code == 0
    result = json.loads((tmp_path / "leads.csv.result.json").read_text())
    [warning] = [w for w in result["warnings"] if w["code"] == "goal-condition-not-exact"]
    assert (warning["count"], warning["line"], warning["column"]) == (3, 3, "Target")
    assert [(v["value"], v["rows"]) for v in warning["values"]] == [
        ("order_paid", 2),
        ("call_back", 1),
    ]
    assert "goal not found" in warning["message"]
    assert [w["code"] for w in result["warnings"] if w["code"] == "unknown-goal"] == []
    [made] = cli_env.uploads
    assert made.rows == 4


def test_the_function_asks_at_most_once_per_part_per_quota_interval(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    now = [time.time()]
    settings = Settings(max_event_age_s=3 * 3600, quota_retry_s=3600)
    pipeline = _pipeline(gcs_stack, metrika_client, settings=settings, clock=lambda: now[0])
    queue = pipeline.queue
    assert isinstance(queue, HeldTasks)
    name = f"incoming/{COUNTER}/leads.csv"
    event = _drop(gcs_stack, name, samples.basic_csv(3))
    pipeline.process_source(event, Deadline())
    (first,) = queue.tasks
    fake_metrika.script(Fault.quota(error_type="quota_requests_by_uid", endpoint="upload"))
    pipeline.run_task(first.task, Deadline())  # returns: nothing to retry now
    (part,) = read_result(gcs_stack.store, name)["parts"]
    assert (part["state"], part["wait"]["code"]) == ("waiting", "metrika-daily-quota")
    (_, later) = queue.tasks  # put back for QUOTA_RETRY_S from now
    assert later.not_before == now[0] + 3600
    asked = len(fake_metrika.journal)
    for _ in range(3):  # the task delivered again within the interval asks nothing
        pipeline.run_task(first.task, Deadline())
        now[0] += 1000
    assert len(fake_metrika.journal) == asked
    assert len(queue.tasks) == 2
    now[0] += 600
    pipeline.run_task(later.task, Deadline())
    assert read_result(gcs_stack.store, name)["status"] == "uploaded"
    assert len(fake_metrika.uploads) == 1
