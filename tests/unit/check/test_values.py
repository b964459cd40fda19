"""Column checks: repairs, errors, and that a value's fate never depends on its neighbours
(the whole-column fast path and the per-value path must agree)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrika_offline.check.columns import Column, Kind
from metrika_offline.check.values import CHECKS, Context, Findings

NOW = 1_700_000_000
CTX = Context(tz=dt.UTC, now=NOW)


def _column(kind: Kind, *, required: bool = False, name: str = "X") -> Column:
    return Column(name, kind, required=required)


def _verdicts(found: Findings | None, n: int) -> list[tuple[str | None, frozenset[str]]]:
    """Per row: the repaired value (None if unchanged) and its error codes."""
    out: list[tuple[str | None, frozenset[str]]] = []
    for row in range(n):
        value = None
        codes: set[str] = set()
        if found is not None:
            if row in found.changed:
                value = found.final[row]
            codes = {code for (code, _), rows in found.errors.items() if row in rows}
        out.append((value, frozenset(codes)))
    return out


def _check(kind: Kind, values: list[str], *, required: bool = False) -> Findings | None:
    return CHECKS[kind](list(values), _column(kind, required=required), CTX)


def test_every_kind_has_a_check() -> None:
    assert set(CHECKS) == set(Kind)


# Values worth mixing: clean ones (the fast path) and every sort of trouble (the slow one).
_SAMPLES: dict[Kind, list[str]] = {
    Kind.UNIX_TIME: [
        str(NOW - 100),
        str(NOW - 40 * 86_400),
        str(NOW + 86_400),
        str(NOW + 60),
        " 1699999000 ",
        "2023-11-09 10:00",
        "2023-11-09T10:00:00+03:00",
        "1699999000000",
        "12345",
        "",
        "x",
        "0999999999",
    ],
    Kind.PRICE: [
        "",
        "0",
        "10",
        "10.5",
        "10,5",
        "-1",
        "1 500,00",
        "1,500",
        "abc",
        " 7 ",
        ".5",
        "5.",
        "1.2.3",
    ],
    Kind.CURRENCY: ["", "RUB", "USD", "rub", " EUR", "RUR", "руб", "XYZ", "R"],
    Kind.FLAG: ["", "0", "1", " 1", "2", "yes"],
    Kind.DURATION: ["", "0", "125", " 5", "-3", "1.5"],
    Kind.TAG: ["", "lead", "a, b", " x ", "я" * 100, "x" * 101, " " + "y" * 100],
    Kind.URL: [
        "",
        "https://example.com/a",
        "http://e.com",
        "HTTPS://E.COM",
        "https://",
        "https:///x",
        "example.com",
        "ftp://e.com",
        " https://e.com ",
        "https://a b",
        "https://пример.рф",
        "https://?q",
    ],
    Kind.PHONE: [
        "",
        "+79123456789",
        "+7 (912) 345-67-89",
        "89123456789",
        "79123456789",
        "9123456",
        "+7",
        "+7912345678901234",
        "0079123456789",
        "+7 912 call",
    ],
    Kind.CHAT_PLATFORM: ["whatsapp", "telegram", "viber", "WhatsApp", " viber ", "icq", ""],
    Kind.GOAL: ["order_paid", "goal", "Оплата", "order paid", " goal ", "", "  "],
    Kind.NUMERIC_ID: ["", "133591247640966458", " 1 ", "1.33591247640966E+17", "12a"],
    Kind.TEXT: ["", "u1", " u2", "u3 ", "a b", "юзер", "\tx"],
}


@pytest.mark.parametrize("kind", list(Kind))
def test_clean_columns_report_nothing(kind: Kind) -> None:
    clean = {
        Kind.UNIX_TIME: [str(NOW - 10), str(NOW - 20)],
        Kind.PRICE: ["1.50", "", "20"],
        Kind.CURRENCY: ["RUB", "RUB", ""],
        Kind.FLAG: ["1", "0", ""],
        Kind.DURATION: ["0", "15", ""],
        Kind.TAG: ["lead", "a, b", ""],
        Kind.URL: ["https://example.com/x?y=1", "", "http://a.b"],
        Kind.PHONE: ["+79123456789", "", "+12025550123"],
        Kind.CHAT_PLATFORM: ["telegram", "viber"],
        Kind.GOAL: ["order_paid", "lead"],
        Kind.NUMERIC_ID: ["133591247640966458", ""],
        Kind.TEXT: ["u1", "", "a b"],
    }[kind]
    assert _check(kind, clean, required=kind in (Kind.UNIX_TIME, Kind.CHAT_PLATFORM)) is None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_values_fate_does_not_depend_on_its_neighbours(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(list(Kind)))
    values = data.draw(st.lists(st.sampled_from(_SAMPLES[kind]), min_size=1, max_size=12))
    required = kind in (Kind.UNIX_TIME, Kind.CHAT_PLATFORM, Kind.GOAL)
    together = _verdicts(_check(kind, values, required=required), len(values))
    alone = [_verdicts(_check(kind, [v], required=required), 1)[0] for v in values]
    assert together == alone


def test_datetime_conversions_and_time_zones() -> None:
    found = _check(
        Kind.UNIX_TIME,
        ["2023-11-09 10:00", "2023-11-09T10:00:00Z", "2023-11-09 13:00:00+03:00"],
        required=True,
    )
    assert found is not None
    assert found.final == ["1699524000"] * 3
    assert found.notes["datetime-converted"][0] == 3
    moscow = Context(tz=zoneinfo.ZoneInfo("Europe/Moscow"), now=NOW)
    found = CHECKS[Kind.UNIX_TIME](["2023-11-09 13:00"], _column(Kind.UNIX_TIME), moscow)
    assert found is not None
    assert found.final == ["1699524000"]


def test_datetime_errors_explain_themselves() -> None:
    found = _check(Kind.UNIX_TIME, ["1699999000000", "12345", "", str(NOW + 3600)], required=True)
    assert found is not None
    by_code = {code: (message, rows) for (code, message), rows in found.errors.items()}
    assert by_code["future-datetime"][1] == [3]
    assert by_code["missing-value"][1] == [2]
    messages = [message for (code, message) in found.errors if code == "bad-datetime"]
    assert any("milliseconds" in message for message in messages)
    assert any("before 2000" in message for message in messages)


def test_old_rows_are_counted_not_rejected() -> None:
    old = str(NOW - 30 * 86_400)
    found = _check(Kind.UNIX_TIME, [str(NOW), old, old], required=True)
    assert found is not None
    assert not found.errors
    assert found.notes["older-than-linking-window"] == [2, 1]


def test_repairs() -> None:
    cases = [
        (Kind.PRICE, "1500,50", "1500.50", "decimal-comma"),
        (Kind.PHONE, "+7 (912) 345-67-89", "+79123456789", "phone-normalized"),
        (Kind.PHONE, "0049 30 1234567", "+49301234567", "phone-normalized"),
        (Kind.CURRENCY, "usd", "USD", "currency-uppercased"),
        (Kind.CHAT_PLATFORM, "WhatsApp", "whatsapp", "chat-platform-lowercased"),
        (Kind.TEXT, "  u1 ", "u1", "whitespace-trimmed"),
        (Kind.NUMERIC_ID, " 42 ", "42", "whitespace-trimmed"),
    ]
    for kind, value, repaired, code in cases:
        found = _check(kind, ["", value] if kind is not Kind.CHAT_PLATFORM else [value])
        assert found is not None, (kind, value)
        assert repaired in found.final
        assert code in found.notes
        assert not found.errors


def test_messages_never_quote_a_cell() -> None:
    secrets = ["+7 912 call me", "79123456abc", "john@example.com", "133591247640966458x"]
    for kind in (Kind.PHONE, Kind.NUMERIC_ID, Kind.PRICE, Kind.URL, Kind.FLAG, Kind.CURRENCY):
        found = _check(kind, secrets)
        assert found is not None
        for code, message in found.errors:
            assert not any(secret in message for secret in secrets), (kind, code, message)
