"""Rows sent before: stable row keys, the checker's view of the ledger, and per-part key sets.

The ledger (see `flow/ledger/` and `docs/ledger.md`) remembers the key of every row Metrica
accepted, so that a rolling export (the last 7 days, every night) does not send a conversion
again. The key is the duplicate key of the type (`columns.TypeRules.dedupe_key`), taken after
repairs, over *every* key column of the type in a fixed order, an absent column counting as
empty: the same conversion gets the same key whichever optional columns a file has.

CHATS rows have a second key, their *version*: every column of the type in a fixed order (the
chat key and every value Metrica stores, after repairs), hashed with a tag of its own. Metrica
updates a chat uploaded again with the same chat key, so for CHATS the ledger holds both: a row
whose version was sent is skipped, one whose chat key alone was sent is an update and goes.
Both live in the same sorted set; a part's keys are then the version and the chat key of each
row, in that order.

Keys outlive the process, so their hash must not change between processes or versions (unlike
Python's `hash()`, keyed per process): BLAKE2b with an 8-byte digest, personalised with a
version tag, of the key's cells joined by the unit separator (U+001F); its cost a row is in
the README ("The ledger").
Two different keys share a hash with probability about (rows looked up × keys held) / 2⁶⁴:
under one in a million for a 1-million-row file against 20 million keys held.

This module is pure: the checker asks a `SentKeys` which keys were sent, and hands each part's
keys, as sorted runs of little-endian uint64, to a `KeyWriter` opened by a `PartKeysSink`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter
from typing import Protocol

import numpy as np
import numpy.typing as npt

from metrika_offline.check.report import PartInfo

Keys = npt.NDArray[np.uint64]

#: Bump when the key's definition changes: keys of another version never match.
KEY_VERSION = b"mo-ledger-v1"
#: The same for a CHATS row's version (every column): never equal to a chat key's hash.
ROW_VERSION = b"mo-ledger-row-v1"
_SEPARATOR = "\x1f"
#: A part's keys are written in sorted runs of about this many (2 MB): memory stays flat
#: whatever the part's size, and the reader sorts the whole ledger once anyway. Writing a run
#: holds it about four times over (taken, sorted, as bytes, in the writer's buffer): at 2²⁰
#: keys that was 32 MB at every flush.
RUN_KEYS = 1 << 18

EMPTY: Keys = np.zeros(0, dtype=np.uint64)
_TEMPLATE = hashlib.blake2b(digest_size=8, person=KEY_VERSION)
_ROW_TEMPLATE = hashlib.blake2b(digest_size=8, person=ROW_VERSION)


def stable_hashes(
    columns: Sequence[Sequence[str] | None], rows: Sequence[int], *, version: bool = False
) -> Keys:
    """The stable 64-bit key of each of `rows`, from the key columns in the type's order
    (None for a column the file does not have); with `version`, the row's version key, from
    every column of the type."""
    if not rows:
        return EMPTY
    picked: list[Sequence[str]] = []
    for column in columns:
        if column is None:
            picked.append(repeat("", len(rows)))  # type: ignore[arg-type]
        elif len(rows) == len(column):
            picked.append(column)
        else:
            chosen = itemgetter(*rows)(column)
            picked.append(chosen if len(rows) > 1 else (chosen,))
    # Copying a hasher set up once costs less than building one with its parameters for each
    # row; the digests are the same.
    fresh = (_ROW_TEMPLATE if version else _TEMPLATE).copy
    digests: list[bytes] = []
    for key in zip(*picked, strict=False):
        hasher = fresh()
        hasher.update(_SEPARATOR.join(key).encode())
        digests.append(hasher.digest())
    return np.frombuffer(b"".join(digests), dtype="<u8").astype(np.uint64)


def held(table: Keys, keys: Keys) -> npt.NDArray[np.bool_]:
    """Which of `keys` the sorted `table` holds. The keys are looked up in sorted order: the
    binary searches then walk the table from one end to the other, many times faster than in
    the rows' order once the table is larger than the caches (README, "The ledger")."""
    found = np.zeros(len(keys), dtype=bool)
    if not len(table) or not len(keys):
        return found
    order = np.argsort(keys)
    wanted = keys[order]
    at = np.searchsorted(table, wanted)
    at[at == len(table)] = 0
    found[order] = table[at] == wanted
    return found


class SentKeys(Protocol):
    """What the checker needs from the ledger."""

    def sent(self, keys: Keys) -> npt.NDArray[np.bool_]:
        """Which of `keys` were sent before. May raise to stop the check (for example while
        another file holding some of these keys is still being uploaded)."""

    def who_sent(self, key: int) -> str:
        """Which earlier file and upload sent `key`, in words, for the warning."""


def pairs(versions: Keys, keys: Keys) -> Keys:
    """CHATS: each row's version then its chat key, as a part's keys hold them."""
    both: Keys = np.empty(2 * len(keys), dtype=np.uint64)
    both[0::2] = versions
    both[1::2] = keys
    return both


class KeyWriter(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def close(self) -> None: ...


class PartKeysSink(Protocol):
    """Where each part's keys go; dropped with the parts when the file is rejected."""

    def open_keys(self, index: int) -> KeyWriter: ...


class PartKeys:
    """Follows the splitter: the kept rows' keys, in file order, cut where the parts are cut,
    each part's keys written in sorted runs as it fills."""

    def __init__(self, sink: PartKeysSink, per_row: int = 1) -> None:
        self._sink = sink
        self._per_row = per_row  # CHATS: 2 (the version and the chat key)
        self._pending: list[Keys] = []
        self._pending_count = 0
        self._done = 0  # parts whose keys are complete
        self._writer: KeyWriter | None = None  # the open part's
        self._part_flushed = 0  # keys of the open part written so far
        self.keys_written = 0

    def add(self, keys: Keys, closed: Sequence[PartInfo]) -> None:
        """`keys`: the kept rows of the batch just written; `closed`: every part closed so
        far (the splitter's `parts`)."""
        if len(keys):
            self._pending.append(keys)
            self._pending_count += len(keys)
        for part in closed[self._done :]:
            self._flush(part.index, part.rows * self._per_row - self._part_flushed)
            self._close()
        if self._pending_count >= RUN_KEYS:
            self._flush(len(closed) + 1, self._pending_count)

    def finish(self, parts: Sequence[PartInfo]) -> None:
        """The splitter finished with `parts`: write what is left."""
        self.add(EMPTY, parts)

    def close(self) -> None:
        """Close the open part's keys (the parts are being discarded)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _flush(self, index: int, count: int) -> None:
        if count <= 0:
            return
        taken = self._take(count)
        if self._writer is None:
            self._writer = self._sink.open_keys(index)
        taken.sort()
        self._writer.write(taken.astype("<u8", copy=False).tobytes())
        self._part_flushed += len(taken)
        self.keys_written += len(taken)

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._part_flushed = 0
        self._done += 1

    def _take(self, count: int) -> Keys:
        merged = np.concatenate(self._pending) if len(self._pending) != 1 else self._pending[0]
        taken, rest = merged[:count].copy(), merged[count:]
        self._pending = [rest] if len(rest) else []
        self._pending_count = len(rest)
        return taken
