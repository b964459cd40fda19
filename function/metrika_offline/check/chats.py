"""CHATS rows of one file that share a chat key: the latest version of each chat is kept.

Metrica identifies a chat by `DateTime + ChatPlatform + contact` and updates it when it is
uploaded again (the chats guide: "if you add ChatAnswered=1 and the Price value later"). An
export lists a chat's latest state last, so inside one file, of the rows with the same chat
key:
- a row identical to the version kept so far (same key, same values after repairs) is a
  duplicate (`duplicate-row`), as for BASIC and CALLS;
- a row with other values replaces it: the version kept so far is left out
  (`chat-superseded-in-file`) and the new row is kept.

The file is checked in one streaming pass and a batch's rows are written before the next batch
is read, so a row may replace one already written. `Versions.late` then says so: the checker
reads the file a second time with a `Replay` of this pass's decisions (rows are numbered in
file order, the same in both passes), and only the second pass writes parts.

Keys and versions are Python's `hash()` of the cells (keyed per process, only compared within
this process), or the ledger's stable keys when the check takes them anyway. A chat held costs
about 150 bytes (its key, the row holding its latest version, and every row's version by row
number, so that no tuple is built per row); past `max_keys` chats, new ones are not remembered
(the checker says so, as for the other types).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

DUPLICATE = "duplicate-row"
SUPERSEDED = "chat-superseded-in-file"


@dataclasses.dataclass(frozen=True)
class Decided:
    """One batch's rows (batch-relative) left out because of other rows of the file."""

    duplicates: list[int]
    superseded: list[int]
    late: int = 0  # rows of earlier batches, already written, replaced by rows of this one
    stopped: int | None = None  # the first row whose chat could not be remembered


class Versions:
    """The first pass: per chat key, the row that holds the version kept so far."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._kept: dict[int, int] = {}  # chat key -> row number
        self._versions: list[int] = []  # by row number (0 for an invalid row)
        self.decided: dict[int, str] = {}  # row number -> why it was left out
        self.late = 0
        self.stopped: int | None = None  # row number of the first chat not remembered
        self._next = 0  # the file-wide number of the batch's first row

    def check(
        self,
        rows: Sequence[int],
        keys: Iterable[int],
        versions: Iterable[int],
        count: int,
    ) -> Decided:
        """`rows`: the batch's valid rows, in order; `keys` and `versions` theirs; `count`:
        the batch's rows, valid or not."""
        base = self._next
        self._next += count
        keys, versions = list(keys), list(versions)
        if len(versions) == count:
            self._versions.extend(versions)
        else:
            aligned = [0] * count
            for row, version in zip(rows, versions, strict=True):
                aligned[row] = version
            self._versions.extend(aligned)
        kept = self._kept
        room = self.max_keys - len(kept)
        if len(keys) <= room and kept.keys().isdisjoint(keys) and len(set(keys)) == len(keys):
            # Every chat of the batch is new, as in most batches: remembered at C speed.
            kept.update(zip(keys, map(base.__add__, rows), strict=True))
            return Decided([], [])
        return self._one_by_one(rows, keys, versions, base, room)

    def _one_by_one(
        self, rows: Sequence[int], keys: list[int], versions: list[int], base: int, room: int
    ) -> Decided:
        kept, decided, known = self._kept, self.decided, self._versions
        duplicates: list[int] = []
        superseded: list[int] = []
        late = 0
        stopped: int | None = None
        for row, key, version in zip(rows, keys, versions, strict=True):
            number = base + row
            earlier = kept.get(key)
            if earlier is None:
                if room > 0:
                    kept[key] = number
                    room -= 1
                elif stopped is None:
                    stopped = row
                continue
            if known[earlier] == version:
                duplicates.append(row)
                decided[number] = DUPLICATE
                continue
            decided[earlier] = SUPERSEDED
            if earlier >= base:
                superseded.append(earlier - base)
            else:
                late += 1
            kept[key] = number
        self.late += late
        if stopped is not None and self.stopped is None:
            self.stopped = base + stopped
        return Decided(duplicates, sorted(superseded), late, stopped)


class Replay:
    """The second pass: the first pass's decisions, applied by row number."""

    def __init__(self, decided: Mapping[int, str], stopped: int | None = None) -> None:
        self._decided = decided
        self._stopped = stopped
        self._next = 0

    def check(self, rows: Sequence[int], count: int) -> Decided:
        base = self._next
        self._next += count
        duplicates: list[int] = []
        superseded: list[int] = []
        decided = self._decided
        if decided:
            for row in rows:
                code = decided.get(base + row)
                if code == DUPLICATE:
                    duplicates.append(row)
                elif code == SUPERSEDED:
                    superseded.append(row)
        stopped = self._stopped
        here = stopped - base if stopped is not None and base <= stopped < base + count else None
        return Decided(duplicates, superseded, stopped=here)
