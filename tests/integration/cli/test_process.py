"""`metrika-offline process` and `status FILE --refresh`, against the fake Metrica over HTTP,
on a local folder and on the emulated bucket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metrika_offline.cli.main import main
from tests import samples
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika
from tests.schema import result_beside


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, fake_metrika: FakeMetrika, fake_metrika_token: str
) -> FakeMetrika:
    monkeypatch.setenv("METRIKA_TOKEN", fake_metrika_token)
    monkeypatch.setenv("METRIKA_API_URL", fake_metrika.url)
    monkeypatch.delenv("DEFAULT_COUNTER_ID", raising=False)
    return fake_metrika


def test_process_a_local_file_then_follow_it_up(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(4))
    original = source.read_bytes()
    assert main(["process", str(source), "--counter", "51234567"]) == 0
    assert "leads.csv: uploaded" in capsys.readouterr().out
    result = result_beside(source)
    assert result["status"] == "uploaded"
    assert result["routing"]["sources"]["counter_id"] == "metadata"
    assert [(u.counter_id, u.rows) for u in env.uploads] == [(51234567, 4)]
    assert source.read_bytes() == original  # never rewritten

    env.advance(3 * 3600)
    assert main(["status", str(source), "--refresh"]) == 0
    out = capsys.readouterr().out
    assert "Metrica: processed, 4 of 4 rows linked" in out
    assert result_beside(source)["metrika"]["outcome"] == "processed"


def test_dry_run_sends_nothing(env: FakeMetrika, tmp_path: Path) -> None:
    source = tmp_path / "calls.csv"
    source.write_bytes(samples.calls_cp1251_csv(3))
    assert main(["process", str(source), "--type", "calls", "--dry-run", "--json"]) == 0
    assert result_beside(source)["status"] == "validated"
    assert env.journal == []


def test_a_rejected_file_exits_1_and_says_why(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "broken.csv"
    source.write_bytes(samples.broken_csv())
    assert main(["process", str(source), "--counter", "1"]) == 1
    assert "missing-column" in capsys.readouterr().out
    assert result_beside(source)["status"] == "rejected"
    assert env.journal == []


def test_process_an_object_in_the_bucket(
    env: FakeMetrika, gcs_stack: GcsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_stack.url)
    gcs_stack.store.write_bytes("incoming/77/chats/c.csv", samples.chats_csv())
    uri = f"gs://{gcs_stack.bucket}/incoming/77/chats/c.csv"
    assert main(["process", uri]) == 0
    found = gcs_stack.store.read_bytes("incoming/77/chats/c.csv.result.json")
    assert found is not None
    result = json.loads(found[0])
    assert (result["routing"]["counter_id"], result["routing"]["type"]) == (77, "CHATS")
    assert [u.type for u in env.uploads] == ["CHATS"]


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "1234"],  # an upload id needs --counter
        ["status", "no-such-file.csv"],
        ["process", "gs://bucket-only"],
    ],
)
def test_usage_errors_exit_2(env: FakeMetrika, argv: list[str]) -> None:
    assert main(argv) == 2


def test_process_refuses_a_lease_shorter_than_the_invocation(
    env: FakeMetrika,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEASE_S", "4")
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(2))
    assert main(["process", str(source), "--counter", "51234567"]) == 2
    err = capsys.readouterr().err
    assert "LEASE_S (4 s)" in err
    assert "INVOCATION_TIMEOUT_S (540 s)" in err
    assert env.journal == []
    assert not source.with_name("leads.csv.result.json").exists()
    assert not (tmp_path / ".metrika-offline").exists()


def test_a_rolling_export_sends_only_new_rows_and_resend_sends_again(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = 1_795_996_800.0  # both nights' exports hold the same conversions for the same days
    first, second = tmp_path / "export-1.csv", tmp_path / "export-2.csv"
    first.write_bytes(samples.basic_csv(4, now=now))
    second.write_bytes(samples.basic_csv(6, now=now))  # the first four again, and two new
    assert main(["process", str(first), "--counter", "51234567"]) == 0
    capsys.readouterr()
    assert main(["process", str(second), "--counter", "51234567"]) == 0
    out = capsys.readouterr().out
    assert "rows: 6 total, 2 valid, 0 invalid, 0 duplicates, 4 already sent" in out
    assert "already-sent" in out
    assert result_beside(second)["rows"]["already_sent"] == 4
    assert [u.rows for u in env.uploads] == [4, 2]

    assert main(["process", str(second), "--counter", "51234567", "--resend", "--force"]) == 0
    resent = result_beside(second)
    assert (resent["routing"]["mode"], resent["rows"]["valid"]) == ("resend", 6)
    assert [u.rows for u in env.uploads] == [4, 2, 6]


def test_a_chat_sent_again_with_its_outcome_is_sent_as_an_update(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chats guide's story from the command line: the chat, then the same chat answered
    and priced (an update, sent), then day 2 again (nothing sent); --resend sends it anyway."""
    at = 1_796_428_800  # 2026-12-05
    header = "ClientID,DateTime,ChatPlatform,PhoneNumber,ChatAnswered,Price,Currency\n"
    chat = f"133591247640966458,{at},whatsapp,+71234567890,"
    day1, day2, day3 = (tmp_path / f"chats-day{n}.csv" for n in (1, 2, 3))
    day1.write_text(header + chat + ",,\n")
    day2.write_text(header + chat + "1,1500.00,RUB\n")
    day3.write_bytes(day2.read_bytes())
    counter = ["--counter", "51234567", "--type", "chats"]

    assert main(["process", str(day1), *counter]) == 0
    capsys.readouterr()
    assert main(["process", str(day2), *counter]) == 0
    out = capsys.readouterr().out
    assert "rows: 1 total, 1 valid, 0 invalid, 0 duplicates\n" in out
    assert "chat-update" in out
    update = result_beside(day2)
    warning = next(w for w in update["warnings"] if w["code"] == "chat-update")
    assert warning["count"] == 1
    assert "chats-day1.csv" in warning["message"]

    assert main(["process", str(day3), *counter]) == 0
    out = capsys.readouterr().out
    assert "rows: 1 total, 0 valid, 0 invalid, 0 duplicates, 1 already sent" in out
    assert result_beside(day3)["rows"]["already_sent"] == 1
    assert [(u.type, u.rows) for u in env.uploads] == [("CHATS", 1), ("CHATS", 1)]

    assert main(["process", str(day3), *counter, "--resend", "--force"]) == 0
    assert result_beside(day3)["rows"]["valid"] == 1
    assert [u.rows for u in env.uploads] == [1, 1, 1]
