"""`upload` and `process` are one pipeline: reruns, changed settings, --force, Ctrl-C, the shared
options, exit codes and what a person sees. Over real HTTP against the fake Metrica."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from metrika_offline.cli.main import main
from tests import samples
from tests.fakes.metrika import FakeMetrika, Fault
from tests.schema import result_beside

COUNTER = "51234567"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, fake_metrika: FakeMetrika, fake_metrika_token: str
) -> FakeMetrika:
    monkeypatch.setenv("METRIKA_TOKEN", fake_metrika_token)
    monkeypatch.setenv("METRIKA_API_URL", fake_metrika.url)
    for name in ("DEFAULT_COUNTER_ID", "TIMEZONE", "MAX_PART_BYTES", "STRICT", "LEASE_S"):
        monkeypatch.delenv(name, raising=False)
    return fake_metrika


def markers_sent(fake: FakeMetrika) -> Counter[str]:
    """How often each part's marker reached Metrica in an accepted upload."""
    return Counter(u.comment.split()[-1] for u in fake.uploads)


def test_upload_twice_sends_once_and_says_the_result_is_reused(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(4))
    argv = ["upload", str(source), "--counter", COUNTER, "--type", "basic"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert f"{source}: uploaded, 4 of 4 rows in 1 part(s) to counter {COUNTER}" in first.out
    assert first.err == ""  # no log lines, nothing to note

    assert main(argv) == 0
    again = capsys.readouterr()
    assert len(env.uploads) == 1
    assert "done with the same settings" in again.err
    assert "--force starts over" in again.err
    assert result_beside(source)["status"] == "uploaded"

    assert main(["status", str(source)]) == 0  # status FILE works after upload
    assert f"{source}: uploaded" in capsys.readouterr().out


def test_a_rerun_with_a_counter_gets_a_new_outcome(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(3))
    assert main(["process", str(source)]) == 1
    out = capsys.readouterr().out
    assert out.count("no-counter") == 1
    assert "give --counter" in out
    assert "incoming/" not in out  # a local file has no bucket folders to suggest
    assert result_beside(source)["error"]["code"] == "no-counter"

    assert main(["process", str(source), "--counter", COUNTER]) == 0
    assert result_beside(source)["status"] == "uploaded"
    assert [u.counter_id for u in env.uploads] == [int(COUNTER)]


def test_another_type_is_another_job_with_its_own_parts(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(3))  # ClientId and DateTime: a CALLS file too
    assert main(["upload", str(source), "--counter", COUNTER, "--type", "BASIC"]) == 0
    capsys.readouterr()
    assert main(["upload", str(source), "--counter", COUNTER, "--type", "CALLS"]) == 0
    assert "type BASIC -> CALLS" in capsys.readouterr().err
    assert [u.type for u in env.uploads] == ["BASIC", "CALLS"]
    assert set(markers_sent(env).values()) == {1}  # other settings, other markers
    result = result_beside(source)
    assert (result["status"], result["routing"]["type"]) == ("uploaded", "CALLS")


def test_force_starts_over_without_sending_what_metrica_has(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(60))
    argv = ["upload", str(source), "--counter", COUNTER, "--type", "BASIC"]
    argv += ["--max-part-bytes", "2000"]
    assert main(argv) == 0
    parts = len(env.uploads)
    assert parts > 1
    capsys.readouterr()

    assert main([*argv, "--force"]) == 0
    err = capsys.readouterr().err
    assert "--force: a new job on this file" in err
    assert err.count("Metrica already has it") == parts
    assert len(env.uploads) == parts
    assert sum(1 for entry in env.journal if entry.endpoint == "uploadings") >= parts


def _child(argv: list[str], env: FakeMetrika, token: str) -> subprocess.Popen[str]:
    code = "import sys; from metrika_offline.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'function'}{os.pathsep}{ROOT}",
            "METRIKA_TOKEN": token,
            "METRIKA_API_URL": env.url,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigint_while_a_part_is_in_flight_then_an_immediate_rerun_sends_each_part_once(
    env: FakeMetrika, tmp_path: Path, fake_metrika_token: str
) -> None:
    source = tmp_path / "calls.csv"
    source.write_bytes(samples.big_calls_csv(300))
    argv = ["upload", str(source), "--counter", COUNTER, "--type", "CALLS"]
    argv += ["--max-part-bytes", "8000"]
    gate = env.hold("upload")  # the first POST is received, its answer parked
    child = _child(argv, env, fake_metrika_token)
    try:
        assert gate.wait_for(1, timeout=60), "the first part never reached Metrica"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        gate.release()
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    assert "interrupted while uploading" in err
    held = result_beside(source)
    assert f"0 of {len(held['parts'])} part(s) uploaded" in err
    assert "run the same command again to resume" in err
    assert [p["state"] for p in held["parts"]][:1] == ["sending"]

    # At once: no claim to wait out; the part in flight is found by its marker.
    start = time.monotonic()
    assert main(argv) == 0
    assert time.monotonic() - start < 60
    result = result_beside(source)
    assert result["status"] == "uploaded"
    sent = markers_sent(env)
    assert sorted(sent) == sorted(p["marker"] for p in result["parts"])
    assert set(sent.values()) == {1}


def test_sigint_while_checking_then_an_immediate_rerun_finishes(
    env: FakeMetrika, tmp_path: Path, fake_metrika_token: str
) -> None:
    source = tmp_path / "calls.csv"
    source.write_bytes(samples.big_calls_csv(600_000))  # some seconds of checking
    argv = ["upload", str(source), "--counter", COUNTER, "--type", "CALLS"]
    argv += ["--max-part-bytes", "20000000"]
    child = _child(argv, env, fake_metrika_token)
    result = tmp_path / "calls.csv.result.json"
    try:
        deadline = time.monotonic() + 60
        while not result.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the claim is recorded (result: processing) before the check
        assert json.loads(result.read_text())["parts"] == [], "the check ended too soon"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    assert "interrupted while checking" in err
    assert "nothing was sent" in err
    assert env.journal == []

    assert main(argv) == 0  # at once: the claim was handed back
    assert result_beside(source)["status"] == "uploaded"
    assert set(markers_sent(env).values()) == {1}


SHARED = [
    "--timezone", "Europe/Moscow",
    "--phone-region", "RU",
    "--date-order", "DMY",
    "--encoding", "utf-8",
    "--on-bad-optional", "drop-row",
    "--max-invalid-ratio", "0.4",
    "--max-part-bytes", "2000",
    "--max-errors", "5",
]  # fmt: skip


@pytest.mark.parametrize("command", ["validate", "split", "upload", "process"])
def test_every_checking_command_takes_the_shared_options(
    env: FakeMetrika, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(40))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"type": "BASIC", "description": "a CRM's export"}))
    argv = [command, str(source), *SHARED, "--settings", str(settings), "--strict"]
    argv += ["--rejects", str(tmp_path / "out" / "rejected.csv"), "--json"]
    if command == "split":
        argv += ["--out", str(tmp_path / "parts")]
    if command in {"upload", "process"}:
        argv += ["--counter", COUNTER, "--dry-run"]
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    if command in {"upload", "process"}:
        assert document["status"] == "validated"
        routing = document["routing"]
        assert (routing["timezone"], routing["date_order"]) == ("Europe/Moscow", "DMY")
        assert routing["sources"]["timezone"] == "metadata"
        assert routing["sources"]["type"] == "folder"  # from --settings
        assert document["rows"]["valid"] == 40
        assert env.journal == []
    else:
        assert document["rows"]["valid"] == 40
    if command == "split":
        parts = sorted((tmp_path / "parts").glob("part-*.csv"))
        assert len(parts) > 1
        assert all(p.stat().st_size <= 2000 for p in parts)


def test_a_setting_the_checker_refuses_is_a_usage_error(env: FakeMetrika, tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(2))
    for command in ("validate", "upload"):
        with pytest.raises(SystemExit) as stopped:
            main([command, str(source), "--type", "BASIC", "--date-order", "YDM"])
        assert stopped.value.code == 2
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"timezone": "Mars/Olympus"}))
    argv = ["upload", str(source), "--counter", COUNTER, "--settings", str(settings)]
    assert main(argv) == 2
    assert env.journal == []


def test_rows_left_out_exit_1_with_the_rejects_beside_the_file(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    good = samples.basic_csv(5).decode()
    source.write_text(good + "133591247640966999,lead_form_sent,yesterday,10.00,RUB\n")
    copy = tmp_path / "fix" / "bad-rows.csv"
    argv = ["upload", str(source), "--counter", COUNTER, "--type", "BASIC"]
    assert main([*argv, "--rejects", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "partially_uploaded, 5 of 6 rows" in out
    assert "bad-datetime" in out
    beside = tmp_path / "leads.csv.rejected.csv"
    assert f"rejected rows: {beside}" in out
    assert "yesterday" in beside.read_text()
    assert copy.read_bytes() == beside.read_bytes()
    assert [u.rows for u in env.uploads] == [5]


def test_a_local_file_looks_local(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(3))
    assert main(["process", str(source), "--counter", COUNTER]) == 0
    captured = capsys.readouterr()
    assert "gs://" not in captured.out + captured.err
    assert f"result: {source}.result.json" in captured.out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".metrika-offline",
        "leads.csv",
        "leads.csv.result.json",
    ]

    source.write_bytes(samples.basic_csv(4))  # a new version of the file: a new job
    assert main(["process", str(source), "--counter", COUNTER, "--verbose"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines
    assert all("severity" in line for line in lines)


def test_retries_say_what_came_back_and_how_long_they_wait(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(samples.basic_csv(2))
    env.script(Fault.http(503, retry_after=0, endpoint="upload"))
    assert main(["upload", str(source), "--counter", COUNTER, "--type", "BASIC"]) == 0
    err = capsys.readouterr().err
    assert "metrika-offline: 503 backend_error, retrying in 0 s (2/6)" in err
    assert len(env.uploads) == 1
