"""Real exports: what Metrica would count is kept. Encodings, repairs of Russian CRM defaults,
blanked optional values, unnamed columns, time zones said out loud, hints that point the
right way, and rejects a person can open in Excel."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from typing import Any

import msgspec
import pytest

from metrika_offline.check.checker import CheckOptions, Report, check_file
from metrika_offline.check.choices import DateOrder
from metrika_offline.check.columns import Column, Kind
from metrika_offline.check.decoding import DecodeProblem, TextBlocks
from metrika_offline.check.values import CHECKS, Context
from metrika_offline.errors import ConfigError
from metrika_offline.types import ConversionType
from tests.unit.check.helpers import MemorySink, MemoryWriter

NOW = 1_795_900_000  # 2026-11-28
R = NOW - 3_600
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def _check(data: bytes | str, kind: str = "BASIC", **options: Any) -> tuple[Report, MemorySink]:
    raw = data.encode() if isinstance(data, str) else data
    sink = MemorySink()
    report = check_file(
        io.BytesIO(raw), CheckOptions(type=ConversionType(kind), now=NOW, **options), sink=sink
    )
    return report, sink


def _part(sink: MemorySink) -> list[list[str]]:
    (writer,) = sink.parts.values()
    return list(csv.reader(io.StringIO(writer.data.decode())))


def _warnings(report: Report) -> dict[str, str]:
    return {w.code: w.message for w in report.warnings}


# --- encoding --------------------------------------------------------------------------------


def test_windows_1251_with_no_letters_is_still_windows_1251() -> None:
    text = f"ClientId;Target;DateTime;Price\n1;«goal»;{R};2\u00a0990,50\n2;goal;{R};№5\n"
    report, sink = _check(text.replace("«goal»", "goal").encode("cp1251"))
    assert report.encoding == "windows-1251"
    assert "windows-1251" in _warnings(report)
    assert _part(sink)[1][3] == "2990.50"


def test_control_characters_are_not_windows_1251_text() -> None:
    data = b"ClientId,Target,DateTime\n1,goal\xa0x,1700000000\x01\n"
    blocks = TextBlocks(io.BytesIO(data))
    with pytest.raises(DecodeProblem) as caught:
        list(blocks)
    assert caught.value.code == "bad-encoding"


def test_a_chosen_encoding_replaces_the_detection() -> None:
    text = f"ClientId,Target,DateTime,Tag\n1,goal,{R},Заявка\n"
    report, _ = _check(text.encode("cp1251"), encoding="windows-1251")
    assert report.encoding == "windows-1251"
    assert "encoding setting" in _warnings(report)["windows-1251"]
    report, _ = _check(text.encode("cp1251"), encoding="utf-8")
    assert report.rejected_reason is not None
    assert report.rejected_reason.code == "bad-encoding"
    with pytest.raises(ConfigError):
        CheckOptions(type=ConversionType.BASIC, encoding="koi8-r")


# --- keep the conversion, drop the bad value -------------------------------------------------


def test_a_bad_optional_value_is_blanked_and_price_goes_with_currency() -> None:
    text = (
        "UserId,DateTime,Price,Currency,FirstTimeCaller,PhoneNumber\n"
        f"u1,{R},notNumber,RUB,2,+79123456789\n"
        f"u2,{R},10,0,1,\n"
        f"u3,{R},5,RUB,1,12\n"
        f"u4,nope,5,RUB,1,\n"
    )
    report, sink = _check(text, "CALLS")
    assert msgspec.to_builtins(report.rows) == {
        "total": 4,
        "valid": 3,
        "invalid": 1,
        "duplicates": 0,
        "already_sent": 0,
    }
    assert dict(report.error_counts) == {"bad-datetime": 1}
    rows = _part(sink)
    assert rows[1] == ["u1", str(R), "", "", "", "+79123456789"]
    assert rows[2] == ["u2", str(R), "", "", "1", ""]
    assert rows[3] == ["u3", str(R), "5", "RUB", "1", ""]
    blanked = {(w.column, w.count) for w in report.warnings if w.code == "invalid-value-blanked"}
    assert blanked == {("Price", 2), ("Currency", 2), ("FirstTimeCaller", 1), ("PhoneNumber", 1)}


def test_strict_and_drop_row_keep_rejecting_the_row() -> None:
    text = f"UserId,DateTime,Price\nu1,{R},x\nu2,{R},1\nu3,{R},2\n"
    for options in ({"strict": True}, {"on_bad_optional": "drop-row"}):
        report, _ = _check(text, "CALLS", **options)
        assert dict(report.error_counts) == {"bad-price": 1}, options
        assert report.rows.invalid == 1


def test_a_bad_phone_that_is_a_chats_only_contact_stays_a_row_error() -> None:
    text = (
        "ClientID,DateTime,ChatPlatform,ChatUsername,PhoneNumber\n"
        f"1,{R},telegram,,12\n"
        f"2,{R},telegram,@ivan,12\n"
        f"3,{R},telegram,@anna,+79123456789\n"
    )
    report, sink = _check(text, "CHATS")
    assert dict(report.error_counts) == {"bad-phone": 1}
    assert [e.line for e in report.errors] == [2]
    assert _part(sink)[1] == ["2", str(R), "telegram", "@ivan", ""]


def test_ids_and_required_values_are_never_blanked() -> None:
    text = f"ClientId,Target,DateTime\n1.3E+17,goal,{R}\n2,,{R}\n3,goal,{R}\n4,goal,{R}\n"
    report, _ = _check(text)
    assert dict(report.error_counts) == {"bad-id": 1, "missing-value": 1}


# --- repairs ---------------------------------------------------------------------------------


def _one(kind: Kind, value: str, ctx: Context | None = None, required: bool = False) -> Any:
    column = Column("X", kind, required=required)
    found = CHECKS[kind](["", value] if not required else [value], column, ctx or CTX)
    assert found is not None
    return found


CTX = Context(tz=dt.UTC, now=NOW)


@pytest.mark.parametrize(
    ("kind", "value", "repaired", "code"),
    [
        (Kind.UNIX_TIME, "1795812345.0", "1795812345", "fractional-seconds"),
        (Kind.UNIX_TIME, "1795812345,12345", "1795812345", "fractional-seconds"),
        (Kind.UNIX_TIME, "01.11.2026 14:30", "1793543400", "datetime-day-first"),
        (Kind.UNIX_TIME, "1.11.2026", "1793491200", "datetime-day-first"),
        (Kind.PRICE, "1 500,00", "1500.00", "thousands-spaces-removed"),
        (Kind.PRICE, "2\u00a0990,50", "2990.50", "thousands-spaces-removed"),
        (Kind.PRICE, "1\u202f250\u202f000", "1250000", "thousands-spaces-removed"),
        (Kind.CURRENCY, "руб", "RUB", "currency-rouble"),
        (Kind.CURRENCY, "р.", "RUB", "currency-rouble"),
        (Kind.CURRENCY, "RUR", "RUB", "currency-rouble"),
        (Kind.PHONE, "8 (912) 345-67-89", "+79123456789", "phone-national"),
        (Kind.PHONE, "9123456789", "+79123456789", "phone-national"),
        (Kind.PHONE, "79123456789", "+79123456789", "phone-national"),
        (Kind.PHONE, "375291234567", "+375291234567", "phone-national"),
    ],
)
def test_repairs_of_russian_crm_defaults(kind: Kind, value: str, repaired: str, code: str) -> None:
    found = _one(kind, value, required=kind is Kind.UNIX_TIME)
    assert not found.errors
    assert repaired in found.final
    assert code in found.notes


def test_phone_region_is_configurable_and_invalid_numbers_are_bad() -> None:
    kazakh = Context(tz=dt.UTC, now=NOW, phone_region="KZ")
    found = _one(Kind.PHONE, "8 (701) 234-56-78", kazakh)
    assert "+77012345678" in found.final
    found = _one(Kind.PHONE, "8 (012) 345-67-89")
    assert [code for code, _ in found.errors] == ["bad-phone"]
    assert "RU" in next(iter(found.errors))[1]


def test_slash_dates_need_a_date_order_and_are_never_guessed() -> None:
    found = _one(Kind.UNIX_TIME, "01/11/2026 14:30", required=True)
    assert [code for code, _ in found.errors] == ["ambiguous-date"]
    dmy = Context(tz=dt.UTC, now=NOW, date_order=DateOrder.DMY)
    mdy = Context(tz=dt.UTC, now=NOW, date_order=DateOrder.MDY)
    assert _one(Kind.UNIX_TIME, "01/11/2026 14:30", dmy, True).final == ["1793543400"]
    assert _one(Kind.UNIX_TIME, "11/01/2026 2:30 PM", mdy, True).final == ["1793543400"]
    assert "datetime-date-order" in _one(Kind.UNIX_TIME, "1/11/2026", dmy, True).notes


def test_the_time_zone_is_named_and_a_few_hours_ahead_suggests_setting_it() -> None:
    local = dt.datetime.fromtimestamp(NOW - 1800, MOSCOW).strftime("%Y-%m-%d %H:%M")
    text = f"ClientId,Target,DateTime\n1,goal,{local}\n2,goal,{local}\n3,goal,{R}\n"
    report, _ = _check(text, max_invalid_ratio=1.0)
    (error,) = {e.message for e in report.errors}
    assert "up to 3 h in the future" in error
    assert "TIMEZONE" in error
    assert "UTC" in error
    report, _ = _check(text, timezone="Europe/Moscow")
    assert report.rows.invalid == 0
    assert "Europe/Moscow" in _warnings(report)["datetime-converted"]


# --- header and unnamed columns --------------------------------------------------------------


def test_bracketed_quoted_and_spaced_names_match() -> None:
    text = f"[ClientId],[Target],'Price',Date Time\n1,goal,5,{R}\n"
    report, _ = _check(text)
    assert report.valid
    assert report.columns == ("ClientId", "Target", "Price", "DateTime")


def test_excels_empty_trailing_columns_and_a_pandas_index_are_dropped() -> None:
    rows = "".join(f"{i};{i};goal;{R};RUB;;\n" for i in range(3))
    report, sink = _check(f";ClientId;Target;DateTime;Currency;;\n{rows}")
    assert report.valid, report.rejected_reason
    assert {w.code for w in report.warnings} == {"index-column-dropped", "empty-column-dropped"}
    assert _part(sink)[0] == ["ClientId", "Target", "DateTime", "Currency"]


# --- hints and rejects -----------------------------------------------------------------------


def test_a_file_mostly_refused_for_slash_dates_says_so() -> None:
    rows = "".join(f"{i},goal,0{i}/11/2026 10:00\n" for i in range(1, 8))
    report, _ = _check(f"ClientId,Target,DateTime\n{rows}1,goal,{R}\n")
    assert report.rejected_reason is not None
    assert report.rejected_reason.code == "too-many-invalid-rows"
    assert "set date_order" in report.rejected_reason.message
    report, _ = _check(f"ClientId,Target,DateTime\n{rows}", date_order="DMY")
    assert report.valid


def test_rejects_keep_the_delimiter_and_open_in_excel() -> None:
    opened: list[MemoryWriter] = []

    def open_rejects() -> MemoryWriter:
        opened.append(MemoryWriter())
        return opened[-1]

    text = f"ClientId;Target;DateTime;Tag\n1;goal;{R};Заявка\n2;goal;потом;Звонок\n"
    check_file(
        io.BytesIO(text.encode("cp1251")),
        CheckOptions(type=ConversionType.BASIC, now=NOW, max_invalid_ratio=1.0),
        rejects=open_rejects,
    )
    (writer,) = opened
    assert writer.data.startswith(b"\xef\xbb\xbf")
    lines = writer.data.decode("utf-8-sig").splitlines()
    assert lines == [
        "line;errors;ClientId;Target;DateTime;Tag",
        "3;bad-datetime;2;goal;потом;Звонок",
    ]
