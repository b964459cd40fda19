"""CHATS rows of one file with the same chat key: the latest version of each chat is sent.

The chats guide: a chat uploaded again with the same DateTime + ChatPlatform + contact is an
update ("if you add ChatAnswered=1 and the Price value later"), and an export lists a chat's
latest state last. So within one file an identical row is a duplicate, and a row with other
values replaces the earlier one, whether or not that one was already written to a part.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.report import Report
from metrika_offline.types import ConversionType
from tests.unit.check.helpers import MemorySink, MemoryWriter

NOW = 1_796_515_200  # 2026-12-06
DAY1 = NOW - 86_400
HEADER = "ClientID,DateTime,ChatPlatform,PhoneNumber,ChatAnswered,Price,Currency\n"


class OneWayStream(io.RawIOBase):
    """A stream read once, from the start: it cannot seek (as a download does not)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._inner.readinto(buffer)


def _chat(n: int, answered: str = "", price: str = "") -> str:
    currency = "RUB" if price else ""
    return f"1336{n:014d},{DAY1 + n},whatsapp,+7912{n:07d},{answered},{price},{currency}\n"


class KeysSink:
    """Where a part's ledger keys go; asking for them makes the checker take stable keys,
    which the in-file rule then uses instead of hashing the cells again."""

    def open_keys(self, index: int) -> MemoryWriter:  # noqa: ARG002
        return MemoryWriter()


#: Without the ledger's keys and with them: the same decisions.
keyed = pytest.mark.parametrize("ledger_keys", [False, True], ids=["hash", "stable"])


def _check(text: str, ledger_keys: bool = False, **options: Any) -> tuple[Report, MemorySink]:
    sink = MemorySink()
    report = check_file(
        io.BytesIO(text.encode()),
        CheckOptions(type=ConversionType.CHATS, now=NOW, **options),
        sink=sink,
        part_keys=KeysSink() if ledger_keys else None,
    )
    return report, sink


def _sent(sink: MemorySink) -> list[list[str]]:
    return [row for part in sink.records() for row in part[1:]]


def _warning(report: Report, code: str) -> dict[str, Any] | None:
    return next((w for w in report.to_json()["warnings"] if w["code"] == code), None)


@keyed
def test_a_later_row_of_the_same_chat_with_other_values_is_sent_instead_of_the_earlier(
    ledger_keys: bool,
) -> None:
    text = HEADER + _chat(1) + _chat(2) + _chat(1, "1", "1500.00")
    report, sink = _check(text, ledger_keys)
    sent = _sent(sink)
    assert [row[4:6] for row in sent] == [["", ""], ["1", "1500.00"]]
    assert report.rows.valid == 2
    assert report.rows.duplicates == 1
    superseded = _warning(report, "chat-superseded-in-file")
    assert superseded is not None
    assert (superseded["count"], superseded["line"]) == (1, 2)
    assert _warning(report, "duplicate-row") is None


@keyed
def test_an_identical_row_is_still_a_duplicate(ledger_keys: bool) -> None:
    report, sink = _check(HEADER + _chat(1, "1", "10") + _chat(1, "1", "10"), ledger_keys)
    assert len(_sent(sink)) == 1
    assert _warning(report, "duplicate-row") is not None
    assert _warning(report, "chat-superseded-in-file") is None


@keyed
def test_the_last_state_wins_even_when_it_repeats_an_earlier_one(ledger_keys: bool) -> None:
    # answered, then a price, then the price taken back: the export's last word is no price
    text = HEADER + _chat(1, "1") + _chat(1, "1", "900") + _chat(1, "1")
    report, sink = _check(text, ledger_keys)
    assert [row[4:6] for row in _sent(sink)] == [["1", ""]]
    assert report.rows.duplicates == 2
    assert report.rows.valid == 1


def test_keep_first_keeps_the_earlier_row_as_before() -> None:
    text = HEADER + _chat(1) + _chat(1, "1", "1500.00")
    report, sink = _check(text, chat_same_key="keep-first")
    assert [row[4:6] for row in _sent(sink)] == [["", ""]]
    assert _warning(report, "duplicate-row") is not None
    assert _warning(report, "chat-superseded-in-file") is None


def _long_file() -> tuple[str, int]:
    """Chat 0 on the first line, 30,000 other chats (well over one 256 KB block), then
    chat 0 again, answered and priced."""
    middle = "".join(_chat(n) for n in range(1, 30_001))
    return HEADER + _chat(0) + middle + _chat(0, "1", "1500.00"), 30_001


@keyed
def test_a_row_already_written_is_replaced_by_reading_the_file_again(ledger_keys: bool) -> None:
    text, kept = _long_file()
    report, sink = _check(text, ledger_keys)
    sent = _sent(sink)
    assert len(sent) == kept == report.rows.valid
    chat0 = [row for row in sent if row[3] == "+79120000000"]
    assert [row[4:6] for row in chat0] == [["1", "1500.00"]]
    assert sent[-1] == chat0[0]
    superseded = _warning(report, "chat-superseded-in-file")
    assert superseded is not None
    assert (superseded["count"], superseded["line"]) == (1, 2)
    assert sink.discards == 1  # the first pass's parts


def test_a_stream_that_cannot_seek_is_read_again_from_reopen() -> None:
    text, kept = _long_file()
    data = text.encode()
    rejects: list[MemoryWriter] = []

    def open_rejects() -> MemoryWriter:
        rejects.append(MemoryWriter())
        return rejects[-1]

    sink = MemorySink()
    report = check_file(
        OneWayStream(data),  # type: ignore[arg-type]
        CheckOptions(type=ConversionType.CHATS, now=NOW),
        sink=sink,
        rejects=open_rejects,
        reopen=lambda: OneWayStream(data),  # type: ignore[arg-type,return-value]
    )
    assert report.rows.valid == kept == len(_sent(sink))
    assert rejects == []


def test_without_a_second_read_both_versions_are_sent_and_the_report_says_so() -> None:
    text, kept = _long_file()
    sink = MemorySink()
    report = check_file(
        OneWayStream(text.encode()),  # type: ignore[arg-type]
        CheckOptions(type=ConversionType.CHATS, now=NOW),
        sink=sink,
    )
    assert len(_sent(sink)) == kept + 1 == report.rows.valid
    warning = _warning(report, "chat-superseded-in-file")
    assert warning is not None
    assert "both are sent" in warning["message"]


def test_invalid_rows_are_written_to_the_rejects_once_when_the_file_is_read_twice() -> None:
    text, kept = _long_file()
    text = text.replace(_chat(5), _chat(5).replace("whatsapp", "icq"))
    writer = MemoryWriter()
    opened: list[int] = []

    def open_rejects() -> MemoryWriter:
        opened.append(1)
        return writer

    report = check_file(
        io.BytesIO(text.encode()),
        CheckOptions(type=ConversionType.CHATS, now=NOW),
        sink=MemorySink(),
        rejects=open_rejects,
    )
    assert report.rows.invalid == 1
    assert report.rows.valid == kept - 1
    assert opened == [1]
    assert writer.data.decode().count("bad-chat-platform") == 1
