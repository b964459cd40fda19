"""A bounded set of 64-bit row-key hashes: the duplicate check inside one file.

Most files have a few thousand rows, so the keys start in a Python `set`: C-level inserts and
lookups, and no numpy to import at a command's start. A batch costs one
`intersection` (the keys of earlier batches, usually none) and one `update`; a batch is walked
key by key only when a key comes twice within it, or near `max_keys`. Past `SET_KEYS` keys
(about 70 bytes each in a set, 35 MB there) they move, once, into a `keytable.KeyTable`:
8 bytes a slot, probed a whole batch at a time, sized for `max_keys`; the set is freed before
the table fills.

At `max_keys` the set stops taking new keys (and says where), but keeps comparing with those
it holds. Hashes are Python's `hash()` of the key (keyed per process) or the ledger's stable
keys; they are only compared within one process. Two different keys collide with probability
about n²/2⁶⁵ (under one in a million at 5 million keys), the only way a row could be dropped
wrongly.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress, count
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metrika_offline.check.keytable import KeyTable

#: Keys held in a Python set before they move into the numpy table. Below it the set is both
#: faster and smaller than the table, which is sized for `max_keys` and faulted in page by
#: page; past it the set's int objects stay resident in the allocator's arenas beside the
#: table, so a file of more rows peaks a little higher than with the table from the first
#: row. The figures are in the README ("Check and split").
SET_KEYS = 500_000


class KeySet:
    """Remembers row keys and tells which it has seen, in batches."""

    def __init__(self, max_keys: int, *, set_keys: int = SET_KEYS) -> None:
        self.max_keys = max_keys
        self.set_keys = set_keys
        self._set: set[int] = set()
        self._table: KeyTable | None = None
        self._unsigned = False  # the keys are stable keys (unsigned), not hash() values

    @property
    def size(self) -> int:
        return self._table.size if self._table is not None else len(self._set)

    @property
    def full(self) -> bool:
        return self.size >= self.max_keys

    @property
    def in_table(self) -> bool:
        """Whether the keys have moved into the numpy table."""
        return self._table is not None

    def add_all(self, hashes: Iterable[int], count: int) -> tuple[list[int], int | None]:
        """Look up `count` hashes in order, remembering the new ones while there is room.
        Returns the positions (0-based) of those seen before (earlier in this call
        included), and the position of the first new one that could not be remembered
        (None while under the limit). Past the limit, hashes are still compared with the
        ones remembered."""
        outgrown = len(self._set) + count > self.set_keys and self.max_keys > self.set_keys
        if self._table is None and outgrown:
            # numpy, only for large files
            from metrika_offline.check.keytable import KeyTable, as_array  # noqa: PLC0415

            held = as_array(self._set, unsigned=self._unsigned)
            self._set = set()  # freed before the table fills: the two never add up
            self._table = KeyTable(self.max_keys, held)
        if self._table is not None:
            return self._table.add_all(hashes, count)
        # The ledger's stable keys come as a numpy array: as Python ints, they hash natively.
        as_list = getattr(hashes, "tolist", None)
        if as_list is None:
            return self._add_to_set(list(hashes))
        self._unsigned = True
        return self._add_to_set(as_list())

    def _add_to_set(self, keys: list[int]) -> tuple[list[int], int | None]:
        seen = self._set
        room = self.max_keys - len(seen)
        if len(keys) > room:
            return self._near_the_limit(keys, room)
        old = seen.intersection(keys)  # keys of earlier batches: usually none
        before = len(seen)
        seen.update(keys)
        repeats = list(compress(count(), map(old.__contains__, keys))) if old else []
        if len(seen) - before == len(keys) - len(repeats):
            return repeats, None  # every new key came once: the repeats are the old ones
        # Some new key comes twice in the batch: its first sighting is not a repeat.
        first: set[int] = set()
        repeats = []
        for position, key in enumerate(keys):
            if key in old or key in first:
                repeats.append(position)
            else:
                first.add(key)
        return repeats, None

    def _near_the_limit(self, keys: list[int], room: int) -> tuple[list[int], int | None]:
        """Key by key, so that exactly the first `room` new keys are remembered."""
        seen = self._set
        repeats: list[int] = []
        stopped: int | None = None
        for position, key in enumerate(keys):
            if key in seen:
                repeats.append(position)
            elif room > 0:
                seen.add(key)
                room -= 1
            elif stopped is None:
                stopped = position
        return repeats, stopped
