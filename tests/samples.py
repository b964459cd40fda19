"""Sample conversion files, with dates relative to now so they stay inside Metrica's window.

Used by `make demo` and by the end-to-end tests, so both show the same awkward inputs a CRM
export really produces.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DAY_S = 86_400


#: The goals of the counters the samples go to, as Metrica's goals call lists them: the
#: samples' Target (`lead_form_sent`) is the first goal's identifier.
GOALS: list[dict[str, Any]] = [
    {
        "id": 301001,
        "name": "Заявка с сайта",
        "type": "action",
        "is_retargeting": 0,
        "goal_source": "user",
        "conditions": [{"type": "exact", "url": "lead_form_sent"}],
    },
    {
        "id": 301002,
        "name": "Оплата заказа",
        "type": "action",
        "is_retargeting": 0,
        "goal_source": "user",
        "conditions": [{"type": "exact", "url": "order_paid"}],
    },
    {
        "id": 301003,
        "name": "Контакты",
        "type": "url",
        "is_retargeting": 0,
        "goal_source": "user",
        "conditions": [{"type": "contain", "url": "/contacts"}],
    },
]


def _recent(now: float, index: int) -> int:
    """A timestamp within the last few days, spread by row."""
    return int(now) - DAY_S - (index * 37) % (5 * DAY_S)


def basic_csv(rows: int = 5, *, now: float | None = None) -> bytes:
    """BASIC, clean apart from an ISO date and a decimal comma the checker repairs."""
    now = time.time() if now is None else now
    lines = ["ClientId,Target,DateTime,Price,Currency"]
    for i in range(rows):
        stamp = _recent(now, i)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)) if i == 0 else str(stamp)
        price = '"1500,50"' if i == 1 else f"{100 + i}.00"
        lines.append(f"{133591247640966458 + i},lead_form_sent,{when},{price},RUB")
    return ("\n".join(lines) + "\n").encode()


def calls_cp1251_csv(rows: int = 4, *, now: float | None = None) -> bytes:
    """CALLS from a Russian Excel: Windows-1251, semicolons, phones with spaces, a Cyrillic tag."""
    now = time.time() if now is None else now
    lines = ["UserId;DateTime;PhoneNumber;TalkDuration;CallMissed;Tag"]
    for i in range(rows):
        lines.append(f"user{i};{_recent(now, i)};+7 (912) 345-67-{i:02d};{30 + i};0;Звонок с сайта")
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


#: A file name whoever drops a file may choose: Slack markup for a ping and a hidden link.
SLACK_MARKUP_NAME = "<!channel> <https://evil.example|report>.csv"
#: What a website visitor may type into a CRM's comment field.
FORMULA_CELL = '=HYPERLINK("http://evil.example";"открыть")'


def calls_with_a_formula_csv(rows: int = 4, *, now: float | None = None) -> bytes:
    """CALLS from a CRM (UTF-8, semicolons) with a comment column; one more row, whose date
    cannot be read, holds FORMULA_CELL in its comment, so it goes to the rejects file."""
    now = time.time() if now is None else now
    lines = ["UserId;DateTime;PhoneNumber;Tag;Comment"]
    for i in range(rows):
        lines.append(
            f"user{i};{_recent(now, i)};+7 (912) 345-67-{i:02d};Звонок с сайта;перезвонить"
        )
    quoted = FORMULA_CELL.replace('"', '""')
    lines.append(f'user{rows};вчера;+7 (912) 345-67-{rows:02d};Звонок с сайта;"{quoted}"')
    return ("\r\n".join(lines) + "\r\n").encode()


def chats_csv(*, now: float | None = None) -> bytes:
    """The seed's CHATS sample, with recent dates."""
    now = time.time() if now is None else now
    a, b = _recent(now, 1), _recent(now, 2)
    return (
        "ClientID,DateTime,ChatPlatform,ChatUsername,ChatUserID,PhoneNumber,ChatAnswered,Tag,"
        "Price,Currency,URL,MessengerTrackerURL\n"
        f'133591247640966458,{a},whatsapp,,,"+71234567890",1,"WhatsApp Lead",1500.00,RUB,'
        "https://example.com/product/123,\n"
        f'133591247640966458,{b},telegram,"john_doe",123456789,,0,"TG Chat",,,,\n'
    ).encode()


def broken_csv() -> bytes:
    """BASIC without its required Target column: the whole file is rejected."""
    return b"ClientId,DateTime,Price\n133591247640966458,1700000000,10.00\n"


def big_calls_csv(rows: int, *, now: float | None = None) -> bytes:
    """CALLS with enough rows to be split into several parts under a small part size."""
    now = time.time() if now is None else now
    lines = ["ClientId,DateTime,PhoneNumber,TalkDuration,Tag,URL"]
    lines.extend(
        f"{100000000000000000 + i},{_recent(now, i)},+7912{i:07d},{i % 600},"
        f'"tag {i % 7}, repeat",https://example.com/p/{i}'
        for i in range(rows)
    )
    return ("\n".join(lines) + "\n").encode()


def bitrix24_calls_csv(rows: int = 5, *, now: float | None = None) -> bytes:
    """Bitrix24's call detail (telephony statistics) as a Russian Excel saves it: Windows-1251,
    semicolons, the export's own headers, Дата вызова as DD.MM.YYYY HH:MM:SS in Moscow time,
    Время звонка spelled out (1 мин, 35 сек), phones as +7 912 345-67-89, Стоимость as the
    call's telephony cost; plus the ClientID column the folder settings example says to add
    (the call detail has no Metrica ID of its own). Read through the column map of
    docs/folder-settings/bitrix24-calls.json."""
    now = time.time() if now is None else now
    header = (
        "Сотрудник;Номер портала;Номер телефона;Тип звонка;Время звонка;Дата вызова;Статус;"
        "Стоимость;Стоимость расшифровки;Оценка;CRM;Комментарий;ClientID"
    )
    lines = [header]
    moscow = 3 * 3600
    for i in range(rows):
        when = time.strftime("%d.%m.%Y %H:%M:%S", time.gmtime(_recent(now, i) + moscow))
        phone = f"+7 912 345-{10 + i:02d}-{20 + i:02d}"
        kind = "Входящий" if i % 2 == 0 else "Исходящий"
        talk = f"{1 + i % 3} мин, {(7 * i) % 60} сек" if i % 4 else f"{30 + i} сек"
        cost = "0,00 руб." if i % 2 == 0 else "1,20 руб."
        lines.append(
            f"Иван Петров;+7 (495) 123-45-67;{phone};{kind};{talk};{when};Успешный звонок;"
            f"{cost};;;Контакт: Олег Иванов;;{1795812345123456789 + i}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


def bitrix24_settings(counter_id: int = 51234567) -> bytes:
    """The folder settings for `bitrix24_calls_csv`: the docs' example, with the counter."""
    example = Path(__file__).resolve().parents[1] / "docs/folder-settings/bitrix24-calls.json"
    text = example.read_text(encoding="utf-8").replace("51234567", str(counter_id))
    return text.encode()
