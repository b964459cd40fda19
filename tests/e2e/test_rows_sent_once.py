"""Rolling exports through the whole stack: every conversion reaches Metrica once, whether the
daily files come one by one or all at once; `resend` sends again on purpose."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from metrika_offline.check.sent import KEY_VERSION, ROW_VERSION
from tests.e2e.conftest import COUNTER, LocalStack

DAY = 86_400
PER_DAY = 6
NOW = int(time.time())


def _conversion(day: int, i: int) -> tuple[int, int, str]:
    """The i-th conversion of `day` days ago: (ClientId, DateTime, Target)."""
    return 133591247640000000 + day * 100 + i, NOW - day * DAY - i * 611, "lead_form_sent"


def _export(last_day: int) -> bytes:
    """A CRM's nightly export: the 7 days up to `last_day` days ago, newest first."""
    lines = ["ClientId,DateTime,Target,Price"]
    for day in range(last_day, last_day + 7):
        for i in range(PER_DAY):
            client, when, target = _conversion(day, i)
            lines.append(f"{client},{when},{target},{100 + i}.50")
    return ("\n".join(lines) + "\n").encode()


def _key(client: int, when: int, target: str) -> int:
    text = "\x1f".join([target, str(when), str(client), "", "", ""])
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8, person=KEY_VERSION).digest(), "little"
    )


def _sent_keys(stack: LocalStack, kind: str = "BASIC") -> list[int]:
    """Every key the ledger holds as sent (the parts' rows as they were uploaded)."""
    prefix = f"metrika-offline/ledger/{COUNTER}/{kind}/"
    infos = list(stack.work.list(prefix))
    sent = {i.name[len(prefix) + 5 : -5] for i in infos if i.name.startswith(prefix + "sent/")}
    keys: list[int] = []
    for info in infos:
        path = info.name[len(prefix) + 5 : -5]
        if info.name.startswith(prefix + "keys/") and path in sent:
            found = stack.work.read_bytes(info.name)
            assert found is not None
            keys += np.frombuffer(found[0], dtype="<u8").tolist()
    return keys


def _expected(days: range) -> list[int]:
    return sorted(_key(*_conversion(day, i)) for day in days for i in range(PER_DAY))


def test_three_overlapping_daily_exports_send_each_conversion_once(
    local_stack: LocalStack,
) -> None:
    names = [f"incoming/{COUNTER}/crm/export-{n}.csv" for n in (1, 2, 3)]
    for n, name in enumerate(names):  # night 1 covers days 2..8 ago, night 3 days 0..6
        local_stack.drop(name, _export(2 - n))
        local_stack.settle()

    results = [local_stack.result(name) for name in names]
    assert [r["status"] for r in results] == ["uploaded"] * 3
    assert [r["rows"]["valid"] for r in results] == [7 * PER_DAY, PER_DAY, PER_DAY]
    assert [r["rows"]["already_sent"] for r in results] == [0, 6 * PER_DAY, 6 * PER_DAY]
    warning = next(w for w in results[2]["warnings"] if w["code"] == "already-sent")
    assert warning["count"] == 6 * PER_DAY
    assert warning["line"] == 2 + PER_DAY  # the first row of day 1, right after day 0's
    assert "export-2.csv" in warning["message"]  # the newest file that sent it
    assert results[2]["check"]["ledger"]["entries_read"] == 2

    uploads = local_stack.uploads()
    assert sum(u.rows for u in uploads) == 9 * PER_DAY
    sent = _sent_keys(local_stack)
    assert sorted(sent) == _expected(range(9))  # every conversion, none twice


def test_exports_dropped_together_wait_for_each_other(local_stack: LocalStack) -> None:
    names = [f"incoming/{COUNTER}/backfill/export-{n}.csv" for n in (1, 2, 3)]
    for n, name in enumerate(names):
        local_stack.drop(name, _export(2 - n))
    local_stack.settle(timeout=120)

    results = [local_stack.result(name) for name in names]
    assert {r["status"] for r in results} == {"uploaded"}
    assert sum(r["rows"]["valid"] for r in results) == 9 * PER_DAY
    assert sum(r["rows"]["already_sent"] for r in results) == 12 * PER_DAY
    assert sum(u.rows for u in local_stack.uploads()) == 9 * PER_DAY
    assert sorted(_sent_keys(local_stack)) == _expected(range(9))


def test_resend_sends_again_on_purpose(local_stack: LocalStack) -> None:
    name = f"incoming/{COUNTER}/crm/export.csv"
    local_stack.drop(name, _export(0))
    local_stack.settle()
    again = f"incoming/{COUNTER}/crm/export-again.csv"
    local_stack.drop(again, _export(0))
    local_stack.settle()
    skipped = local_stack.result(again)
    assert (skipped["status"], skipped["rows"]["already_sent"], skipped["parts"]) == (
        "uploaded",
        7 * PER_DAY,
        [],
    )

    local_stack.drop(again, _export(0), mode="resend")
    local_stack.settle()
    resent = local_stack.result(again)
    assert resent["routing"]["mode"] == "resend"
    assert (resent["status"], resent["rows"]["valid"], resent["rows"]["already_sent"]) == (
        "uploaded",
        7 * PER_DAY,
        0,
    )
    assert [u.rows for u in local_stack.uploads()] == [7 * PER_DAY, 7 * PER_DAY]


# --- CHATS: a later upload of the same chat is an update ------------------------------------------

CHAT_HEADER = "ClientID,DateTime,ChatPlatform,PhoneNumber,ChatAnswered,Price,Currency\n"
CHAT_AT = NOW - DAY - 3_600


def _chat_file(answered: str, price: str, currency: str) -> bytes:
    """The chats guide's story: the chat first, then whether it was answered and what it
    earned, with exactly the same DateTime, platform and contact."""
    row = f"133591247640966458,{CHAT_AT},whatsapp,+71234567890,{answered},{price},{currency}\n"
    return (CHAT_HEADER + row).encode()


def _chat_version(answered: str, price: str, currency: str) -> int:
    """A chat's version key as the ledger stores it: every CHATS column in the type's order."""
    cells = ["133591247640966458", "", "", "", str(CHAT_AT), "whatsapp", "", "", "+71234567890"]
    cells += [answered, "", price, currency, "", ""]
    digest = hashlib.blake2b("\x1f".join(cells).encode(), digest_size=8, person=ROW_VERSION)
    return int.from_bytes(digest.digest(), "little")


def test_a_chat_sent_again_with_its_outcome_is_an_update_and_a_repeat_is_not(
    local_stack: LocalStack,
) -> None:
    folder = f"incoming/{COUNTER}/CHATS"
    day1, day2, day3 = (f"{folder}/chats-day{n}.csv" for n in (1, 2, 3))
    local_stack.drop(day1, _chat_file("", "", ""))
    local_stack.settle()
    local_stack.drop(day2, _chat_file("1", "1500.00", "RUB"))
    local_stack.settle()
    local_stack.drop(day3, _chat_file("1", "1500.00", "RUB"))
    local_stack.settle()

    first, update, repeat = (local_stack.result(name) for name in (day1, day2, day3))
    assert [r["status"] for r in (first, update, repeat)] == ["uploaded"] * 3
    assert (update["rows"]["valid"], update["rows"]["already_sent"]) == (1, 0)
    warning = next(w for w in update["warnings"] if w["code"] == "chat-update")
    assert (warning["count"], warning["line"]) == (1, 2)
    assert "chats-day1.csv" in warning["message"]
    assert not any(w["code"] == "already-sent" for w in update["warnings"])
    assert (repeat["rows"]["valid"], repeat["rows"]["already_sent"], repeat["parts"]) == (
        0,
        1,
        [],
    )
    assert not any(w["code"] == "chat-update" for w in repeat["warnings"])

    uploads = local_stack.uploads()
    assert [(u.type, u.rows) for u in uploads] == [("CHATS", 1), ("CHATS", 1)]
    sent = set(_sent_keys(local_stack, "CHATS"))
    assert _chat_version("", "", "") in sent
    assert _chat_version("1", "1500.00", "RUB") in sent
