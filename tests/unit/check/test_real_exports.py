"""Real exports, round two: what Bitrix24, amoCRM, spreadsheets and chat services really write
is read as Metrica would take it. Repeated columns that are dropped anyway, dashed day-first
dates, durations as clocks and words, yes and no, exports joined together and their totals,
Excel's text formulas, chat platforms under other names, and notes in unnamed columns."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from metrika_offline import cli
from metrika_offline.check.checker import CheckOptions, Report, check_file
from metrika_offline.check.choices import DateOrder, DurationFormat
from metrika_offline.check.columns import Column, Kind
from metrika_offline.check.values import CHECKS, Context
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.flow.record.result import routing_of
from metrika_offline.flow.source.claim import job_key
from metrika_offline.flow.source.folder_settings import parse_settings
from metrika_offline.flow.source.routing import PARSERS, route
from metrika_offline.types import ConversionType
from tests.unit.check.helpers import MemorySink, MemoryWriter

NOW = 1_796_560_000  # 2026-12-06 12:26:40 UTC
R = NOW - 3_600
ROOT = Path(__file__).resolve().parents[3]


def _check(data: bytes | str, kind: str = "CALLS", **options: Any) -> tuple[Report, MemorySink]:
    raw = data.encode() if isinstance(data, str) else data
    sink = MemorySink()
    report = check_file(
        io.BytesIO(raw), CheckOptions(type=ConversionType(kind), now=NOW, **options), sink=sink
    )
    return report, sink


def _rows(sink: MemorySink) -> list[list[str]]:
    (part,) = sink.records()
    return part


def _warnings(report: Report) -> dict[str, Any]:
    return {w.code: w for w in report.warnings}


def _value(kind: Kind, value: str, ctx: Context | None = None) -> tuple[str, set[str], str]:
    """One value through its check, beside a clean one: what it becomes, the warnings and the
    error text."""
    column = Column("X", kind)
    clean = "telegram" if kind is Kind.CHAT_PLATFORM else ""
    found = CHECKS[kind]([clean, value], column, ctx or Context(tz=dt.UTC, now=NOW))
    if found is None:
        return value, set(), ""
    errors = " ".join(message for (_, message) in found.errors)
    return found.final[1], set(found.notes), errors


# --- 1. repeated columns ----------------------------------------------------------------------


def test_repeated_columns_that_are_dropped_anyway_cost_nothing() -> None:
    # amoCRM's deals export writes the deal's and the contact's tracking fields under one name.
    header = "_ym_uid;Дата;roistat;Товар;cid;roistat;Товар;cid"
    report, sink = _check(
        f"{header}\n1795812345123456789;{R};a;b;c;d;e;f\n", column_map={"Дата": "DateTime"}
    )
    assert report.valid, report.rejected_reason
    assert report.rows.valid == 1
    dropped = [w for w in report.warnings if w.code == "duplicate-column-dropped"]
    assert sorted(w.column or "" for w in dropped) == ["cid", "roistat", "Товар"]
    assert "header cells 3 and 6" in next(w.message for w in dropped if w.column == "roistat")
    assert _rows(sink)[0] == ["ClientId", "DateTime"]


def test_a_repeated_column_that_is_kept_still_rejects_the_file() -> None:
    # Which of two phone columns is the caller's? Not a guess to make.
    text = f"UserId,DateTime,Телефон,PhoneNumber\nu1,{R},+79123456789,+79123456780\n"
    report, sink = _check(text, column_map={"Телефон": "PhoneNumber"})
    assert report.rejected_reason is not None
    assert report.rejected_reason.code == "duplicate-column"
    assert sink.parts == {}


# --- 2. day-month-year dates, whatever the separator -------------------------------------------


@pytest.mark.parametrize(
    ("order", "value", "expected"),
    [
        (DateOrder.DMY, "06-12-2026 09:03:11", dt.datetime(2026, 12, 6, 9, 3, 11)),
        (DateOrder.MDY, "06-12-2026 09:03:11", dt.datetime(2026, 6, 12, 9, 3, 11)),
        (DateOrder.DMY, "6-12-2026", dt.datetime(2026, 12, 6)),
        (DateOrder.MDY, "2026-06-12 14:03", dt.datetime(2026, 6, 12, 14, 3)),  # ISO stays ISO
        (DateOrder.MDY, "12.06.2026 14:03", dt.datetime(2026, 6, 12, 14, 3)),  # dots: day first
    ],
)
def test_date_order_reads_every_day_month_year_date_with_the_year_last(
    order: DateOrder, value: str, expected: dt.datetime
) -> None:
    ctx = Context(tz=dt.UTC, now=NOW, date_order=order)
    column = Column("DateTime", Kind.UNIX_TIME, required=True)
    found = CHECKS[Kind.UNIX_TIME]([value], column, ctx)
    assert found is not None
    assert not found.errors
    assert found.final == [str(int(expected.replace(tzinfo=dt.UTC).timestamp()))]


def test_a_dashed_day_month_date_without_date_order_is_never_guessed() -> None:
    text = f"UserId,DateTime\nu1,06-12-2026 10:03:11\nu2,{R}\n"
    report, _ = _check(text)
    assert report.error_counts == {"ambiguous-date": 1}
    assert "date_order" in report.errors[0].message
    report, sink = _check(text, date_order="DMY", timezone="Europe/Moscow")
    assert report.rows.valid == 2
    utc = dt.datetime(2026, 12, 6, 7, 3, 11, tzinfo=dt.UTC)
    assert _rows(sink)[1][1] == str(int(utc.timestamp()))


# --- 3. durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:01:35", "95"),
        ("1:02:03", "3723"),
        ("1 мин, 35 сек", "95"),
        ("2 ч 3 мин", "7380"),
        ("95 сек", "95"),
        ("1 час 5 секунд", "3605"),
        ("3 мин.", "180"),
    ],
)
def test_durations_as_clocks_and_words_become_seconds(value: str, seconds: str) -> None:
    repaired, notes, errors = _value(Kind.DURATION, value)
    assert (repaired, notes, errors) == (seconds, {"duration-converted"}, "")


@pytest.mark.parametrize(
    ("chosen", "seconds"), [(DurationFormat.MS, "95"), (DurationFormat.HMS, "5700")]
)
def test_a_two_part_duration_is_read_by_duration_format(
    chosen: DurationFormat, seconds: str
) -> None:
    ctx = Context(tz=dt.UTC, now=NOW, duration_format=chosen)
    assert _value(Kind.DURATION, "01:35", ctx)[:2] == (seconds, {"duration-converted"})


def test_a_two_part_duration_without_duration_format_is_blanked_with_a_hint() -> None:
    report, sink = _check(f"UserId,DateTime,TalkDuration\nu1,{R},01:35\nu2,{R},0:01:35\n")
    assert report.rows.valid == 2
    blanked = _warnings(report)["invalid-value-blanked"]
    assert "duration_format" in blanked.message
    assert [row[2] for row in _rows(sink)[1:]] == ["", "95"]
    for bad in ("1:75", "мин", "1.5 мин"):
        assert _value(Kind.DURATION, bad)[2], bad


def test_duration_format_flows_from_every_source_like_date_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(default_counter_id=1)
    assert route("incoming/calls/a.csv", {"duration-format": "MS"}, settings).duration_format == (
        "ms"
    )
    bad = route("incoming/calls/a.csv", {"duration-format": "sm"}, settings)
    assert bad.problem is not None
    assert "duration-format" in bad.problem.message
    folder = parse_settings(b'{"duration_format": "hms"}', "metrika-offline.json", PARSERS)
    assert route("incoming/a.csv", {}, settings, folder).duration_format == "hms"
    from_env = Settings.from_env({"DURATION_FORMAT": "ms"})
    options = CheckOptions.from_settings(from_env, type=ConversionType.CALLS)
    assert options.duration_format == "ms"
    assert route("incoming/a.csv", {}, from_env).duration_format == "ms"
    with pytest.raises(ConfigError):
        CheckOptions(type=ConversionType.CALLS, duration_format="minutes")
    # Part of a job's identity once set; unset, the key is what it was before the setting.
    routed = route("incoming/a.csv", {}, settings)
    plain = CheckOptions(type=ConversionType.CALLS)
    chosen = dataclasses.replace(plain, duration_format="ms")
    assert job_key(routed, plain, settings) != job_key(
        dataclasses.replace(routed, duration_format=DurationFormat.MS), chosen, settings
    )
    check = {
        k: v for k, v in dataclasses.asdict(plain).items() if k not in {"now", "duration_format"}
    }
    shown = msgspec.to_builtins(routing_of(routed))
    before = {k: v for k, v in shown.items() if k not in {"sources", "duration_format"}}
    if not before.get("ignore_visit_join_threshold"):  # another switch that came later
        before.pop("ignore_visit_join_threshold", None)
    material = json.dumps({"routing": before, "check": check}, sort_keys=True, default=str)
    assert job_key(routed, plain, settings) == hashlib.sha256(material.encode()).hexdigest()[:12]
    export = tmp_path / "calls.csv"
    export.write_text(f"UserId,DateTime,TalkDuration\nu1,{R},01:35\n")
    args = ["validate", str(export), "--type", "CALLS", "--json", "--duration-format", "ms"]
    assert cli.main(args) == 0
    codes = {w["code"] for w in json.loads(capsys.readouterr().out)["warnings"]}
    assert "duration-converted" in codes
    assert "invalid-value-blanked" not in codes


# --- 4. yes and no -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        ("Да", "1"),
        ("нет", "0"),
        ("YES", "1"),
        ("no", "0"),
        ("True", "1"),
        ("false", "0"),
        ("y", "1"),
        ("N", "0"),
    ],
)
def test_yes_and_no_in_words_are_flags(value: str, flag: str) -> None:
    assert _value(Kind.FLAG, value) == (flag, {"flag-words"}, "")


def test_a_flag_that_is_neither_stays_an_error() -> None:
    assert "1 or 0" in _value(Kind.FLAG, "может быть")[2]
    assert _value(Kind.FLAG, "2")[2]


# --- 5. joined exports and totals --------------------------------------------------------------


def test_a_repeated_header_and_totals_rows_are_skipped_not_counted() -> None:
    header = "UserId;DateTime;TalkDuration"
    text = (
        f"{header}\nu1;{R};95\nu2;{R + 1};60\nИтого:;;155\n"
        f"\ufeff{header}\nu3;{R + 2};30\nВсего;;30\nTotal;\n"
    )
    rejects = MemoryWriter()
    sink = MemorySink()
    report = check_file(
        io.BytesIO(text.encode()),
        CheckOptions(type=ConversionType.CALLS, now=NOW, strict=True),
        sink=sink,
        rejects=lambda: rejects,
    )
    assert report.valid, report.rejected_reason
    assert msgspec.to_builtins(report.rows) == {
        "total": 3,
        "valid": 3,
        "invalid": 0,
        "duplicates": 0,
        "already_sent": 0,
    }
    warnings = _warnings(report)
    assert (warnings["repeated-header"].count, warnings["repeated-header"].line) == (1, 5)
    assert (warnings["totals-row"].count, warnings["totals-row"].line) == (3, 4)
    assert [row[0] for row in _rows(sink)] == ["UserId", "u1", "u2", "u3"]
    assert rejects.data == b""


def test_a_row_that_only_starts_with_a_totals_word_is_a_conversion() -> None:
    # A user called Total, with a DateTime: a conversion like any other.
    report, sink = _check(f"UserId,DateTime\nTotal,{R}\nИтого,not a date\n")
    assert report.rows.valid == 1
    assert report.error_counts == {"bad-datetime": 1}
    assert _rows(sink)[1][0] == "Total"


# --- 6. ="…" IDs ------------------------------------------------------------------------------


def test_an_id_kept_as_text_by_an_excel_formula_becomes_its_digits() -> None:
    assert _value(Kind.NUMERIC_ID, '="01795812345123456789"') == (
        "01795812345123456789",
        {"id-formula-unwrapped"},
        "",
    )
    assert "digits only" in _value(Kind.NUMERIC_ID, "=1795812345123456789")[2]
    text = 'ClientId;Target;DateTime\n"=""1795812345123456789""";order;' + f"{R}\n"
    report, sink = _check(text, kind="BASIC")
    assert report.valid
    assert _rows(sink)[1][0] == "1795812345123456789"


# --- 7. chat platforms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "platform"),
    [
        ("tg", "telegram"),
        ("telegrambot", "telegram"),
        ("Telegram Bot", "telegram"),
        ("wa", "whatsapp"),
        ("WhatsApp Business", "whatsapp"),
        ("vb", "viber"),
    ],
)
def test_a_platform_named_another_way_is_mapped(value: str, platform: str) -> None:
    assert _value(Kind.CHAT_PLATFORM, value) == (platform, {"chat-platform-alias"}, "")


@pytest.mark.parametrize("value", ["instagram", "vk", "avito"])
def test_other_platforms_say_which_three_metrica_takes(value: str) -> None:
    column = Column("ChatPlatform", Kind.CHAT_PLATFORM, required=True)
    found = CHECKS[Kind.CHAT_PLATFORM]([value], column, Context(tz=dt.UTC, now=NOW))
    assert found is not None
    ((code, message),) = found.errors
    assert code == "bad-chat-platform"
    assert "telegram, viber, whatsapp" in message
    assert "Metrica takes these three only" in message


# --- 8. unnamed columns with values ------------------------------------------------------------


def test_a_note_in_a_column_without_a_name_is_dropped_not_the_file() -> None:
    text = f"ClientId,Target,DateTime,\n1,goal,{R},\n2,goal,{R},перезвонить\n3,goal,{R},vip\n"
    report, sink = _check(text, kind="BASIC")
    assert report.valid, report.rejected_reason
    assert report.rows.valid == 3
    (warning,) = report.warnings
    assert (warning.code, warning.column, warning.line) == (
        "unnamed-column-dropped",
        "column 4",
        1,
    )
    assert "header cell 4" in warning.message
    assert "held 2 values" in warning.message
    assert _rows(sink)[0] == ["ClientId", "Target", "DateTime"]


def test_an_index_column_that_turns_into_data_is_reported_as_data() -> None:
    rows = "".join(f"{i},{i},goal,{R}\n" for i in range(1, 4))
    report, _ = _check(f",ClientId,Target,DateTime\n{rows}x,9,goal,{R}\n", kind="BASIC")
    assert report.rows.valid == 4
    assert {w.code for w in report.warnings} == {"unnamed-column-dropped"}


# --- 9. the folder settings examples, on files shaped after their exports -----------------------


def _example(name: str) -> dict[str, Any]:
    example = json.loads((ROOT / "docs/folder-settings" / name).read_text(encoding="utf-8"))
    keys = {"timezone", "phone_region", "date_order", "duration_format", "column_map"}
    return {key: value for key, value in example.items() if key in keys}


def test_the_bitrix24_example_reads_the_call_detail_and_leaves_its_cost_out() -> None:
    data = (ROOT / "tests/data/bitrix24-call-detail.csv").read_bytes()
    report, sink = _check(data, **_example("bitrix24-calls.json"))
    assert report.valid, report.rejected_reason
    rows = _rows(sink)
    assert "Price" not in rows[0]  # Стоимость is telephony's cost, not the call's value
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["TalkDuration"] == "95"  # 1 мин, 35 сек
    assert record["PhoneNumber"] == "+79123456789"
    moscow = dt.datetime(2026, 12, 6, 10, 3, 11, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert record["DateTime"] == str(int(moscow.timestamp()))
    # Without the ClientID column the example says to add, nothing links the calls to visits.
    without = b"\r\n".join(line.rsplit(b";", 1)[0] for line in data.split(b"\r\n"))
    report, _ = _check(without, **_example("bitrix24-calls.json"))
    assert report.rejected_reason is not None
    assert report.rejected_reason.code == "no-linking-id"


def test_the_amocrm_example_reads_the_deals_export() -> None:
    data = (ROOT / "tests/data/amocrm-deals.csv").read_bytes()
    report, sink = _check(data, **_example("amocrm-deals.json"))
    assert report.valid, report.rejected_reason
    rows = _rows(sink)
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [(r["ClientId"], r["Yclid"]) for r in records] == [
        ("1795812345123456789", ""),
        ("", "3845912057391048511"),
        ("1795812345123456790", ""),
    ]
    moscow = dt.datetime(2026, 12, 6, 10, 3, 11, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert records[0]["DateTime"] == str(int(moscow.timestamp()))
    assert records[0]["Price"] == "15000"
    dropped = [w.column for w in report.warnings if w.code == "duplicate-column-dropped"]
    assert sorted(dropped) == sorted(["roistat", "Товар", "cid", "uid", "tid", "Источник"])


def test_both_examples_say_what_their_export_lacks() -> None:
    bitrix = json.loads((ROOT / "docs/folder-settings/bitrix24-calls.json").read_text())
    assert "no Metrica ID" in bitrix["description"]
    assert "Стоимость" in bitrix["description"]
    assert "Стоимость" not in bitrix["column_map"]
    amo = json.loads((ROOT / "docs/folder-settings/amocrm-deals.json").read_text())
    assert "_ym_uid" in amo["description"]


def test_parts_of_a_repaired_export_read_back_as_csv() -> None:
    text = f'UserId,DateTime,TalkDuration,CallMissed\nu1,{R},"1 мин, 35 сек",Да\n'
    report, sink = _check(text)
    assert report.valid
    (part,) = sink.texts()
    assert list(csv.reader(io.StringIO(part))) == [
        ["UserId", "DateTime", "TalkDuration", "CallMissed"],
        ["u1", str(R), "95", "1"],
    ]
