"""`check_file` as the pipeline calls it: policy, parts, rejects, caps, deadline, JSON shape."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.codes import ERROR_CODES, WARNING_CODES
from metrika_offline.check.report import Report
from metrika_offline.errors import ConfigError, DeadlineReached
from metrika_offline.types import ConversionType
from tests.unit.check.helpers import MemorySink, MemoryWriter

NOW = 1_700_000_000
R = NOW - 86_400
SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[3] / "function/metrika_offline/result.schema.json"
    ).read_text()
)


def _check(text: str, kind: str = "BASIC", **options: Any) -> tuple[Report, MemorySink]:
    """Bad Price values are these tests' way of making a row invalid: they keep rejecting
    the row (`drop-row`) unless a test asks for the default."""
    options.setdefault("on_bad_optional", "drop-row")
    sink = MemorySink()
    report = check_file(
        io.BytesIO(text.encode()),
        CheckOptions(type=ConversionType(kind), now=NOW, **options),
        sink=sink,
    )
    return report, sink


def _basic(rows: list[str]) -> str:
    return "ClientId,Target,DateTime,Price\n" + "".join(row + "\n" for row in rows)


def test_report_json_has_the_documented_shape() -> None:
    report, _ = _check(_basic([f"1,goal,{R},1,5", f"2,goal,{R},x", f"3,goal,{R},2"]))
    data = report.to_json()
    assert set(data) == {
        "valid",
        "type",
        "encoding",
        "delimiter",
        "columns",
        "rows",
        "errors",
        "error_counts",
        "errors_truncated",
        "warnings",
        "parts",
        "rejected_reason",
        "dedupe_tracking_stopped_at_line",
        "bytes_read",
        "ledger",
    }
    assert data["ledger"] is None  # the checker alone knows no ledger
    assert data["rows"] == {
        "total": 3,
        "valid": 1,
        "invalid": 2,
        "duplicates": 0,
        "already_sent": 0,
    }
    assert data["columns"] == ["ClientId", "Target", "DateTime", "Price"]
    defs = {"$defs": SCHEMA["$defs"]}
    jsonschema.validate(
        data["errors"], {**defs, "type": "array", "items": {"$ref": "#/$defs/issue"}}
    )
    jsonschema.validate(
        data["warnings"], {**defs, "type": "array", "items": {"$ref": "#/$defs/warning"}}
    )
    jsonschema.validate(data["parts"], {**defs, "type": "array", "items": {"$ref": "#/$defs/part"}})
    assert json.loads(json.dumps(data)) == data


def test_errors_are_capped_but_counted_exactly_in_line_order() -> None:
    rows = [f"{i},goal,{R},bad" for i in range(10)] + [f"{i},goal,later,1" for i in range(5)]
    report, _ = _check(_basic(rows), max_errors=3, max_invalid_ratio=1.0)
    assert [e.line for e in report.errors] == [2, 3, 4]
    assert report.errors_truncated
    assert dict(report.error_counts) == {"bad-price": 10, "bad-datetime": 5}
    assert report.rows.invalid == 15
    assert not report.valid
    assert report.rejected_reason is not None
    assert report.rejected_reason.code == "no-valid-rows"


def test_line_numbers_count_physical_lines_and_quoted_newlines() -> None:
    text = _basic([f'1,"go\nal",{R},1', f"2,goal,{R},x", "", f'3,goal,"{R}\n",y'])
    report, _ = _check(text, max_invalid_ratio=1.0)
    assert [(e.line, e.code) for e in report.errors] == [(4, "bad-price"), (6, "bad-price")]


def test_invalid_share_above_the_limit_rejects_and_discards_parts() -> None:
    rows = [f"{i},goal,{R},1" for i in range(5)] + [f"{i},goal,{R},x" for i in range(6)]
    report, sink = _check(_basic(rows), max_part_bytes=60)
    assert report.rejected_reason is not None
    assert report.rejected_reason.code == "too-many-invalid-rows"
    assert sink.discards == 1
    assert sink.opened  # parts were written before the verdict, then dropped
    assert (report.parts, sink.parts) == ((), {})
    report, sink = _check(_basic(rows), max_invalid_ratio=0.6)
    assert report.valid
    assert sink.rows() == 5


def test_strict_mode_stops_writing_at_the_first_bad_row() -> None:
    rows = [f"{i},goal,{R},1" for i in range(3)] + [f"9,goal,{R},x"]
    report, sink = _check(_basic(rows) * 1, strict=True)
    assert report.rejected_reason is not None
    assert (report.rejected_reason.code, report.rejected_reason.line) == ("strict-invalid-row", 5)
    assert sink.parts == {}


def test_rejected_rows_go_to_a_csv_with_line_and_codes_opened_lazily() -> None:
    opened: list[MemoryWriter] = []

    def open_rejects() -> MemoryWriter:
        opened.append(MemoryWriter())
        return opened[-1]

    clean = _basic([f"1,goal,{R},1"])
    check_file(
        io.BytesIO(clean.encode()),
        CheckOptions(type=ConversionType.BASIC, now=NOW),
        rejects=open_rejects,
    )
    assert opened == []
    text = _basic([f"1,goal,{R},1", f" 2 ,goal,{R},-1", f"3,goal,{R},x,extra", "4,,soon,1"])
    check_file(
        io.BytesIO(text.encode()),
        CheckOptions(
            type=ConversionType.BASIC, now=NOW, max_invalid_ratio=1.0, on_bad_optional="drop-row"
        ),
        rejects=open_rejects,
    )
    (writer,) = opened
    assert writer.closed
    assert writer.data.startswith(b"\xef\xbb\xbf")  # so that Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(writer.data.decode("utf-8-sig"))))
    assert rows == [
        ["line", "errors", "ClientId", "Target", "DateTime", "Price"],
        ["3", "negative-price", " 2 ", "goal", str(R), "-1"],
        ["4", "too-many-cells", "3", "goal", str(R), "x", "extra"],
        ["5", "missing-value bad-datetime", "4", "", "soon", "1"],
    ]


def test_duplicates_are_dropped_and_tracking_stops_at_the_limit() -> None:
    rows = [f"{i % 3},goal,{R},1" for i in range(9)]
    report, sink = _check(_basic(rows))
    assert msgspec.to_builtins(report.rows) == {
        "total": 9,
        "valid": 3,
        "invalid": 0,
        "duplicates": 6,
        "already_sent": 0,
    }
    assert sink.rows() == 3
    report, sink = _check(_basic(rows), max_dedupe_keys=2)
    assert report.dedupe_tracking_stopped_at_line == 4  # key 2 did not fit
    # Later rows are still compared with keys 0 and 1; repeats of key 2 go through.
    assert report.rows.duplicates == 4
    assert "dedupe-stopped" in {w.code for w in report.warnings}
    report, _ = _check(_basic(rows), max_dedupe_keys=0)
    assert (report.rows.duplicates, report.dedupe_tracking_stopped_at_line) == (0, None)


def test_a_row_too_large_for_a_part_rejects_the_file() -> None:
    report, sink = _check(_basic([f"1,goal,{R},1", f"2,{'g' * 100},{R},1"]), max_part_bytes=80)
    assert report.rejected_reason is not None
    assert (report.rejected_reason.code, report.rejected_reason.line) == ("row-too-large", 3)
    assert sink.parts == {}


def test_the_deadline_discards_parts_and_raises() -> None:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    rejects: list[MemoryWriter] = []
    sink = MemorySink()
    big = _basic([f"{i},goal,{R},{'x' if i == 1 else 1}" for i in range(40_000)])
    with pytest.raises(DeadlineReached):
        check_file(
            io.BytesIO(big.encode()),
            CheckOptions(type=ConversionType.BASIC, now=NOW),
            sink=sink,
            rejects=lambda: rejects.append(MemoryWriter()) or rejects[-1],
            should_stop=should_stop,
        )
    assert sink.discards == 1
    assert sink.parts == {}
    assert all(writer.closed for writer in rejects)


def test_progress_is_reported_up_to_the_whole_file() -> None:
    seen: list[int] = []
    text = _basic([f"{i},goal,{R},1" for i in range(50_000)]).encode()
    check_file(
        io.BytesIO(text), CheckOptions(type=ConversionType.BASIC, now=NOW), progress=seen.append
    )
    assert len(seen) > 1
    assert seen == sorted(seen)
    assert seen[-1] == len(text)


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError):
        CheckOptions(type=ConversionType.BASIC, max_invalid_ratio=1.5)
    with pytest.raises(ConfigError):
        CheckOptions(type=ConversionType.BASIC, max_part_bytes=0)
    with pytest.raises(ConfigError):
        _check(_basic([]), timezone="Mars/Olympus")


def test_every_code_reported_is_a_published_code() -> None:
    texts = [
        _basic([f"1,goal,{R},x", f",goal,{R},1", f"1,goal,{R},1", f"1,goal,{R},1", "bad"]),
        "UserId,DateTime,Tag,Comment\n u ,2023-11-01 10:00," + "t" * 101 + ",c\n",
    ]
    for text in texts:
        report, _ = _check(text, "CALLS" if text.startswith("UserId") else "BASIC")
        assert set(report.error_counts) <= set(ERROR_CODES)
        assert {w.code for w in report.warnings} <= set(WARNING_CODES)


def test_no_cell_value_reaches_the_report() -> None:
    secrets = ["+7 912 call", "john.doe@example.com", "1.2E+17", "4111 1111 1111 1111"]
    header = "ClientId,UserId,DateTime,PhoneNumber,Price,Currency,URL\n"
    rows = [f"{s},{s},{s},{s},{s},{s},{s}\n" for s in secrets]
    report, _ = _check(header + "".join(rows), "CALLS", max_invalid_ratio=1.0)
    assert report.rows.invalid == len(secrets)
    dumped = json.dumps(report.to_json(), ensure_ascii=False)
    for secret in secrets:
        assert secret not in dumped


def test_a_rejected_cell_that_would_start_a_formula_is_written_as_text() -> None:
    """A visitor's `=HYPERLINK(…)` in a CRM field reaches the rejects file with a `'` first
    (Excel then shows it as text); phone numbers and negative amounts stay as they are."""
    opened: list[MemoryWriter] = []

    def open_rejects() -> MemoryWriter:
        opened.append(MemoryWriter())
        return opened[-1]

    header = "ClientId,Target,DateTime,Price,Phone,=Comment\n"
    cells = [
        '"=HYPERLINK(""http://evil.example"",""open"")"',
        "@SUM(1+9)",
        "\"-2+3+cmd|' /C calc'!A0\"",
        "+HYPERLINK(1)",
        '"\t=1+1"',
        "-1 250.50",
        "+7 (912) 345-67-89",
        "-",
        "ok = fine",
    ]
    rows = "".join(f"{i},goal,soon,1,+79123456789,{cell}\n" for i, cell in enumerate(cells))
    check_file(
        io.BytesIO((header + rows).encode()),
        CheckOptions(type=ConversionType.BASIC, now=NOW, max_invalid_ratio=1.0),
        rejects=open_rejects,
    )
    (writer,) = opened
    read = list(csv.reader(io.StringIO(writer.data.decode("utf-8-sig"), newline="")))
    assert read[0][-1] == "'=Comment"  # the source's header is a person's text too
    assert [row[-1] for row in read[1:]] == [
        '\'=HYPERLINK("http://evil.example","open")',
        "'@SUM(1+9)",
        "'-2+3+cmd|' /C calc'!A0",
        "'+HYPERLINK(1)",
        "'\t=1+1",
        "-1 250.50",
        "+7 (912) 345-67-89",
        "-",
        "ok = fine",
    ]
    assert {row[-2] for row in read[1:]} == {"+79123456789"}
