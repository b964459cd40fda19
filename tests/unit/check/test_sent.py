"""Row keys that outlive the process, the checker dropping rows the ledger holds, and each
part's keys cut exactly where the part is cut."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys

import msgspec
import numpy as np
import numpy.typing as npt
import pytest

from metrika_offline.check import sent as sent_module
from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.check.report import Report
from metrika_offline.check.sent import KEY_VERSION, Keys, held, stable_hashes
from metrika_offline.types import ConversionType
from tests.unit.check.helpers import MemorySink, MemoryWriter

NOW = 1_795_996_800  # 2026-11-30
DAY = 86_400


class FakeLedger:
    """A SentKeys over a fixed set of keys."""

    def __init__(self, keys: Keys) -> None:
        self.keys = np.sort(keys)
        self.asked: list[int] = []

    def sent(self, keys: Keys) -> npt.NDArray[np.bool_]:
        return np.isin(keys, self.keys)

    def who_sent(self, key: int) -> str:
        self.asked.append(key)
        return "leads-2026-11-29.csv, upload 1001"


class KeysSink:
    def __init__(self) -> None:
        self.keys: dict[int, MemoryWriter] = {}

    def open_keys(self, index: int) -> MemoryWriter:
        assert index not in self.keys, "a part's keys opened twice"
        self.keys[index] = MemoryWriter()
        return self.keys[index]

    def of(self, index: int) -> Keys:
        return np.frombuffer(self.keys[index].data, dtype="<u8").astype(np.uint64)


def _basic(rows: list[tuple[str, int, str]], header: str = "ClientId,Target,DateTime") -> bytes:
    lines = [header] + [f"{client},{target},{when}" for target, when, client in rows]
    return ("\n".join(lines) + "\n").encode()


def _key(target: str, when: int, client: str) -> int:
    # BASIC's key: Target, DateTime, ClientId, UserId, Yclid, PurchaseId.
    text = "\x1f".join([target, str(when), client, "", "", ""])
    digest = hashlib.blake2b(text.encode(), digest_size=8, person=KEY_VERSION).digest()
    return int.from_bytes(digest, "little")


def _rows(count: int, start: int = 0) -> list[tuple[str, int, str]]:
    return [
        ("lead", NOW - DAY - i * 60, str(1_700_000_000_000_000_000 + i))
        for i in range(start, start + count)
    ]


def _run(
    data: bytes, ledger: FakeLedger | None, **options: object
) -> tuple[Report, MemorySink, KeysSink]:
    sink, keys = MemorySink(), KeysSink()
    report = check_file(
        io.BytesIO(data),
        CheckOptions(type=ConversionType.BASIC, now=NOW, **options),  # type: ignore[arg-type]
        sink=sink,
        sent=ledger,
        part_keys=keys,
    )
    return report, sink, keys


def test_the_key_is_blake2b_of_the_normalized_cells_whatever_the_process() -> None:
    rows = _rows(3)
    columns = [
        ["lead"] * 3,
        [str(w) for _, w, _ in rows],
        [c for _, _, c in rows],
        None,
        None,
        None,
    ]
    here = stable_hashes(columns, [0, 1, 2]).tolist()
    assert here == [_key(*row) for row in rows]
    script = (
        "from metrika_offline.check.sent import stable_hashes as h;"
        f"print(h({columns!r}, [0, 1, 2]).tolist())"
    )
    for seed in ("1", "4242"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == str(here)


def test_rows_the_ledger_holds_are_dropped_counted_and_attributed() -> None:
    rows = _rows(10)
    ledger = FakeLedger(np.array([_key(*rows[3]), _key(*rows[7])], dtype=np.uint64))
    report, sink, keys = _run(_basic(rows), ledger)

    assert msgspec.to_builtins(report.rows) == {
        "total": 10,
        "valid": 8,
        "invalid": 0,
        "duplicates": 0,
        "already_sent": 2,
    }
    (warning,) = [w for w in report.warnings if w.code == "already-sent"]
    assert warning.count == 2
    assert warning.line == 5  # header on line 1, rows[3] on line 5
    assert "leads-2026-11-29.csv, upload 1001" in warning.message
    assert ledger.asked == [_key(*rows[3])]
    (body,) = sink.texts()
    for i, (_, when, client) in enumerate(rows):
        assert (f"{client},lead,{when}" in body) is (i not in {3, 7})
    assert sorted(keys.of(1).tolist()) == sorted(
        _key(*r) for i, r in enumerate(rows) if i not in {3, 7}
    )
    assert keys.of(1).tolist() == sorted(keys.of(1).tolist())


def test_an_export_in_another_shape_has_the_same_keys() -> None:
    rows = _rows(4)
    first, _, keys = _run(_basic(rows), None)
    assert first.rows.already_sent == 0
    ledger = FakeLedger(keys.of(1))
    # Russian Excel: semicolons, Windows-1251, other column order, an empty optional column,
    # dates written out in Moscow time.
    lines = ["Target;ClientId;UserId;DateTime;Comment"]
    for target, when, client in rows:
        local = np.datetime64(when + 3 * 3600, "s").astype(str).replace("T", " ")
        lines.append(f"{target};{client};;{local};звонок")
    data = ("\r\n".join(lines) + "\r\n").encode("cp1251")
    second, sink, _ = _run(data, ledger, timezone="Europe/Moscow")
    assert second.rows.already_sent == 4, second.to_json()
    assert second.rows.valid == 0
    assert second.rejected_reason is None  # nothing left to send is not an error
    assert sink.parts == {}


def test_duplicates_inside_the_file_are_not_also_counted_as_sent() -> None:
    rows = _rows(3)
    ledger = FakeLedger(np.array([_key(*rows[0])], dtype=np.uint64))
    report, _, keys = _run(_basic([*rows, rows[0], rows[1]]), ledger)
    assert (report.rows.duplicates, report.rows.already_sent, report.rows.valid) == (2, 1, 2)
    assert sorted(keys.of(1).tolist()) == sorted([_key(*rows[1]), _key(*rows[2])])


def test_each_part_gets_exactly_its_rows_keys_in_sorted_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sent_module, "RUN_KEYS", 7)
    rows = _rows(100)
    ledger = FakeLedger(np.array([_key(*rows[i]) for i in range(0, 100, 10)], dtype=np.uint64))
    report, sink, keys = _run(_basic(rows), ledger, max_part_bytes=900)
    assert len(report.parts) > 3
    assert sorted(keys.keys) == [p.index for p in report.parts]
    by_line = {f"{client},lead,{when}": _key("lead", when, client) for _, when, client in rows}
    for part in report.parts:
        lines = sink.parts[part.name].data.decode().splitlines()[1:]
        assert len(lines) == part.rows
        held = keys.of(part.index)
        assert sorted(held.tolist()) == sorted(by_line[line] for line in lines)
        assert keys.keys[part.index].closed
    assert sum(len(keys.of(p.index)) for p in report.parts) == report.rows.valid == 90


def test_a_rejected_file_leaves_no_keys_open() -> None:
    rows = _rows(5)
    data = _basic(rows) + b"oops,lead,not-a-date\n" * 20
    report, sink, keys = _run(data, None)
    assert report.rejected_reason is not None
    assert sink.discards == 1
    assert all(writer.closed for writer in keys.keys.values())


def test_held_answers_in_the_keys_order_whatever_their_order() -> None:
    rng = np.random.default_rng(7)
    table = np.sort(rng.integers(0, 2**64 - 1, size=5000, dtype=np.uint64))
    keys = np.concatenate([table[::3], rng.integers(0, 2**64 - 1, size=4000, dtype=np.uint64)])
    rng.shuffle(keys)
    keys = np.concatenate([keys, np.array([table[-1], table[0], 2**64 - 1], dtype=np.uint64)])
    assert held(table, keys).tolist() == np.isin(keys, table).tolist()
    assert held(table[:0], keys).tolist() == [False] * len(keys)


# --- CHATS: a row's version beside its chat key ---------------------------------------------------

CHAT_HEADER = "ClientID,DateTime,ChatPlatform,PhoneNumber,ChatAnswered,Price,Currency"


def _chats(count: int, answered: str = "", price: str = "") -> bytes:
    currency = "RUB" if price else ""
    lines = [CHAT_HEADER] + [
        f"13359124764{i:07d},{NOW - DAY - i * 60},whatsapp,+7912{i:07d},{answered},{price},"
        f"{currency}"
        for i in range(count)
    ]
    return ("\n".join(lines) + "\n").encode()


def _chat_run(data: bytes, ledger: FakeLedger | None) -> tuple[Report, MemorySink, KeysSink]:
    sink, keys = MemorySink(), KeysSink()
    report = check_file(
        io.BytesIO(data),
        CheckOptions(type=ConversionType.CHATS, now=NOW, max_part_bytes=400),
        sink=sink,
        sent=ledger,
        part_keys=keys,
    )
    return report, sink, keys


def _all_keys(keys: KeysSink) -> Keys:
    return np.concatenate([keys.of(index) for index in sorted(keys.keys)])


def test_a_chat_part_holds_each_row_version_and_chat_key_cut_with_the_part() -> None:
    report, _, keys = _chat_run(_chats(12), None)
    assert len(report.parts) > 1
    for part in report.parts:
        assert len(keys.of(part.index)) == 2 * part.rows
    _, _, answered_keys = _chat_run(_chats(12, "1", "1500.00"), None)
    first, again = set(_all_keys(keys).tolist()), set(_all_keys(answered_keys).tolist())
    assert len(first) == len(again) == 24
    assert len(first & again) == 12  # the chat keys are shared, the versions are not


def test_a_chat_sent_with_other_values_is_an_update_and_the_same_version_is_dropped() -> None:
    _, _, day1 = _chat_run(_chats(6), None)
    ledger = FakeLedger(_all_keys(day1))
    update, sink, day2 = _chat_run(_chats(6, "1", "1500.00"), ledger)
    assert (update.rows.valid, update.rows.already_sent) == (6, 0)
    warning = next(w for w in update.warnings if w.code == "chat-update")
    assert (warning.count, warning.line) == (6, 2)
    assert "leads-2026-11-29.csv" in warning.message
    assert sink.rows() == 6

    repeat, sink, _ = _chat_run(_chats(6, "1", "1500.00"), FakeLedger(_all_keys(day2)))
    assert (repeat.rows.valid, repeat.rows.already_sent) == (0, 6)
    assert all(w.code != "chat-update" for w in repeat.warnings)
    assert sink.rows() == 0
