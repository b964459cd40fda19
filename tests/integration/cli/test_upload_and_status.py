"""`metrika-offline upload` and `status` against the fake Metrica, in-process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from metrika_offline import cli
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika, Fault

COUNTER = 51234567
NOW = int(time.time())


def basic_csv(rows: int) -> str:
    lines = ["ClientId,Target,DateTime,Price,Currency"]
    lines += [f"{1000 + i},purchase,{NOW - 3600 - i},{i}.50,RUB" for i in range(rows)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, fake_metrika: FakeMetrika) -> FakeMetrika:
    monkeypatch.setenv("METRIKA_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("METRIKA_API_URL", fake_metrika.url)
    for name in ("TIMEZONE", "MAX_PART_BYTES", "STRICT", "MAX_INVALID_RATIO"):
        monkeypatch.delenv(name, raising=False)
    return fake_metrika


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_upload_prints_the_uploading_and_sends_the_file_once(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(basic_csv(3))
    code = cli.main(
        ["upload", str(source), "--counter", str(COUNTER), "--type", "basic", "--comment", "Oct #1"]
    )
    out = capsys.readouterr().out
    assert code == 0
    [upload] = env.uploads
    assert (upload.counter_id, upload.type, upload.rows) == (COUNTER, "BASIC", 3)
    assert upload.comment.startswith("Oct 1 mo")
    assert f"upload {upload.id} UPLOADED: 3 of 3 rows accepted" in out
    assert "uploaded, 3 of 3 rows in 1 part(s)" in out


def test_upload_splits_and_reports_every_part_as_json(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "big.csv"
    source.write_text(basic_csv(60))
    code, document = run_json(
        capsys,
        "upload",
        str(source),
        "--counter",
        str(COUNTER),
        "--type",
        "BASIC",
        "--max-part-bytes",
        "1000",
    )
    assert code == 0
    assert document["status"] == "uploaded"
    parts = document["parts"]
    assert isinstance(parts, list)
    assert len(parts) == len(env.uploads) > 1
    assert sum(part["rows"] for part in parts) == 60 == sum(u.rows for u in env.uploads)
    assert {part["uploading"]["id"] for part in parts} == {u.id for u in env.uploads}
    assert len({part["marker"] for part in parts}) == len(parts)
    assert all(entry.bytes <= 1000 for entry in env.journal)


def test_a_rejected_file_uploads_nothing_and_exits_1(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("ClientId,DateTime\n1,1700000000\n")  # no Target: not a BASIC file
    code, document = run_json(
        capsys, "upload", str(source), "--counter", str(COUNTER), "--type", "BASIC"
    )
    assert code == 1
    assert document["status"] == "rejected"
    assert env.journal == []


def test_a_part_metrica_refuses_does_not_stop_the_others(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "big.csv"
    source.write_text(basic_csv(40))
    env.script(
        Fault.http(
            400, "invalid_uploading", message="bad data format, error in line 2", endpoint="upload"
        )
    )
    code, document = run_json(
        capsys,
        "upload",
        str(source),
        "--counter",
        str(COUNTER),
        "--type",
        "BASIC",
        "--max-part-bytes",
        "1000",
    )
    assert code == 1
    assert document["status"] == "partially_uploaded"
    parts = document["parts"]
    assert isinstance(parts, list)
    assert parts[0]["error"]["error_type"] == "invalid_uploading"
    assert "bad data format, error in line 2" in parts[0]["error"]["message"]
    assert all(part["uploading"] for part in parts[1:])
    assert len(env.uploads) == len(parts) - 1


def test_a_token_metrica_refuses_stops_at_the_first_part_and_exits_2(
    env: FakeMetrika,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METRIKA_TOKEN", "revoked")
    source = tmp_path / "big.csv"
    source.write_text(basic_csv(40))
    argv = ["upload", str(source), "--counter", str(COUNTER), "--type", "BASIC"]
    code = cli.main([*argv, "--max-part-bytes", "1000", "--json"])
    assert code == 2
    # The goals could not be read either (the check goes on), then the first part stops it.
    assert [e.endpoint for e in env.journal] == ["goals", "upload"]
    assert "invalid_token" in capsys.readouterr().err
    result = json.loads((tmp_path / "big.csv.result.json").read_text())
    assert result["status"] == "processing"  # waits for a token that works
    assert all(part["uploading"] is None and part["error"] is None for part in result["parts"])

    # With a token Metrica takes, the same command resumes: every part once.
    monkeypatch.setenv("METRIKA_TOKEN", FAKE_TOKEN)
    assert cli.main([*argv, "--max-part-bytes", "1000"]) == 0
    assert len(env.uploads) == len(result["parts"])
    assert len({u.comment for u in env.uploads}) == len(env.uploads)


@pytest.mark.parametrize(
    "argv",
    [
        ["upload", "missing.csv", "--counter", "1", "--type", "BASIC"],
        ["upload", "x.csv", "--counter", "abc", "--type", "BASIC"],
        ["upload", "x.csv", "--counter", "1", "--type", "LEADS"],
        ["status", "latest", "--counter", "1"],
    ],
)
def test_usage_errors_exit_2(env: FakeMetrika, argv: list[str]) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse refuses before a handler runs
        code = int(exc.code or 0)
    assert code == 2
    assert env.journal == []


def test_no_token_exits_2_before_reading_the_file(
    env: FakeMetrika,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("METRIKA_TOKEN")
    source = tmp_path / "leads.csv"
    source.write_text(basic_csv(1))
    assert cli.main(["upload", str(source), "--counter", "1", "--type", "BASIC"]) == 2
    assert "METRIKA_TOKEN" in capsys.readouterr().err
    assert env.journal == []


def test_status_follows_an_upload_to_its_end(
    env: FakeMetrika, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(basic_csv(2))
    cli.main(["upload", str(source), "--counter", str(COUNTER), "--type", "BASIC"])
    capsys.readouterr()
    [upload] = env.uploads
    code, document = run_json(capsys, "status", str(upload.id), "--counter", str(COUNTER))
    assert code == 0
    assert document["uploading"] == env.uploading_json(upload.id)
    env.advance(3600)
    assert cli.main(["status", str(upload.id), "--counter", str(COUNTER)]) == 0
    out = capsys.readouterr().out
    assert f"upload {upload.id} PROCESSED: 2 of 2 rows accepted, 2 linked" in out


def test_status_of_an_unknown_upload_exits_1(
    env: FakeMetrika, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = run_json(capsys, "status", "424242", "--counter", str(COUNTER))
    assert code == 1
    error = document["error"]
    assert isinstance(error, dict)
    assert error["error_type"] == "not_found"
