"""`metrika-offline validate` and `split`: exit codes, output, files written."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metrika_offline import cli
from metrika_offline.cli.display import Display
from metrika_offline.cli.main import build_parser
from tests import samples

R = int(time.time()) - 3_600
CLEAN = f"ClientId,Target,DateTime\n1,goal,{R}\n2,goal,{R}\n"
# A bad DateTime rejects its row (a bad Price would only be left empty).
SOME_BAD = f"ClientId,Target,DateTime,Price\n1,goal,{R},1\n2,goal,later,1\n3,goal,{R},2\n"


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIMEZONE", "STRICT", "MAX_INVALID_RATIO", "MAX_PART_BYTES"):
        monkeypatch.delenv(name, raising=False)


def _file(tmp_path: Path, text: str, name: str = "in.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_validate_clean_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", _file(tmp_path, CLEAN), "--type", "basic"]) == 0
    out = capsys.readouterr().out
    assert "rows: 2 total, 2 valid, 0 invalid, 0 duplicates" in out
    assert out.rstrip().endswith("valid")


def test_validate_with_bad_rows_exits_1_and_json_is_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["validate", _file(tmp_path, SOME_BAD), "--type", "BASIC", "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["rows"] == {
        "total": 3,
        "valid": 2,
        "invalid": 1,
        "duplicates": 0,
        "already_sent": 0,
    }
    assert report["errors"][0]["code"] == "bad-datetime"
    assert report["errors"][0]["line"] == 3


def test_strict_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", _file(tmp_path, SOME_BAD), "--type", "basic", "--strict"]) == 1
    assert "rejected: strict-invalid-row" in capsys.readouterr().out


def test_split_writes_parts_and_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, rejects = tmp_path / "parts", tmp_path / "bad" / "rejects.csv"
    rows = "".join(f"{i},goal,{R},1\n" for i in range(30))
    text = "ClientId,Target,DateTime,Price\n" + rows + "99,goal,later,1\n"
    args = ["split", _file(tmp_path, text), "--type", "basic", "--out", str(out)]
    code = cli.main([*args, "--max-part-bytes", "200", "--rejects", str(rejects)])
    assert code == 1
    parts = sorted(out.iterdir())
    assert [p.name for p in parts][:2] == ["part-00001.csv", "part-00002.csv"]
    assert all(p.stat().st_size <= 200 for p in parts)
    assert sum(len(p.read_text().splitlines()) - 1 for p in parts) == 30
    assert (
        rejects.read_text(encoding="utf-8-sig").splitlines()[1] == "32,bad-datetime,99,goal,later,1"
    )
    assert "written to" in capsys.readouterr().out


def test_split_refuses_a_folder_holding_parts(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    out.mkdir()
    (out / "part-00001.csv").write_text("old")
    args = ["split", _file(tmp_path, CLEAN), "--type", "basic", "--out", str(out)]
    assert cli.main(args) == 2
    assert (out / "part-00001.csv").read_text() == "old"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(tmp_path / "missing.csv"), "--type", "basic"]) == 2
    with pytest.raises(SystemExit) as caught:
        cli.main(["validate", _file(tmp_path, CLEAN), "--type", "sales"])
    assert caught.value.code == 2
    code = cli.main(["validate", _file(tmp_path, CLEAN), "--type", "basic", "--timezone", "X/Y"])
    assert code == 2
    assert "unknown time zone" in capsys.readouterr().err


def test_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Stdin:
        buffer = io.BytesIO(CLEAN.encode())

    monkeypatch.setattr("sys.stdin", Stdin())
    assert cli.main(["validate", "-", "--type", "basic"]) == 0
    assert capsys.readouterr().out.startswith("-: BASIC, utf-8, comma")


def test_progress_bar_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = io.StringIO()
    meter = Display(quiet).phase("checking", 100)
    meter.update(50, rows=7)
    meter.close()
    assert quiet.getvalue() == ""
    terminal = Terminal()
    meter = Display(terminal).phase("checking", 200_000_000)
    meter.update(100_000_000, rows=1_234_567)
    meter.close()
    screen = terminal.getvalue()
    assert "checking:  50%" in screen
    assert "100M/200M" in screen
    assert "1,234,567 rows" in screen


_IMPORTED = """
import sys
from metrika_offline import cli
code = cli.main(sys.argv[1:])
heavy = ("google.cloud.storage", "requests", "functions_framework")
print(",".join(name for name in heavy if name in sys.modules))
sys.exit(code)
"""


@pytest.mark.parametrize("command", ["validate", "split"])
def test_validate_and_split_start_without_the_storage_and_http_libraries(
    tmp_path: Path, command: str
) -> None:
    args = [command, _file(tmp_path, CLEAN), "--type", "basic"]
    if command == "split":
        args += ["--out", str(tmp_path / "parts")]
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ""
    if command == "split":
        assert (tmp_path / "parts" / "part-00001.csv").exists()


def test_other_commands_still_parse_after_lazy_registration() -> None:
    parser = build_parser("process")
    assert parser.parse_args(["process", "x.csv", "--counter", "1"]).command == "process"


def test_validate_rejects_writes_a_formula_cell_as_text(tmp_path: Path) -> None:
    """`validate --rejects`: the rejected row's `=HYPERLINK(…)` comment is there with a `'`
    first, so the spreadsheet that opens the file shows it instead of running it."""
    source = tmp_path / "calls.csv"
    source.write_bytes(samples.calls_with_a_formula_csv())
    rejects = tmp_path / "calls.rejected.csv"
    args = ["validate", str(source), "--type", "calls", "--rejects", str(rejects)]
    assert cli.main(args) == 1
    rows = list(csv.reader(rejects.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0] == ["line", "errors", "UserId", "DateTime", "PhoneNumber", "Tag", "Comment"]
    assert rows[1:] == [
        [
            "6",
            "bad-datetime",
            "user4",
            "вчера",
            "+7 (912) 345-67-04",
            "Звонок с сайта",
            "'" + samples.FORMULA_CELL,
        ]
    ]
