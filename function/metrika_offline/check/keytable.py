"""The large half of the duplicate check (see `dedupe`): row-key hashes, 8 bytes a slot.

A Python `set` of ints costs about 70 bytes a key (the int object and its slot): 5 million keys
would be 350 MB; and a hash table probed in Python, a row at a time, costs as much as checking
the row. So past a few hundred thousand keys they live in one numpy array (linear
probing, a key's home slot its top bits) probed a whole batch at a time: each round gathers
every pending key's slot at once, keys that met themselves are duplicates, keys that met an
empty slot claim it (when two claim the same slot, one wins and the other probes on), the rest
move one slot along.

The table is sized once for `max_keys` at a load of at most 0.6 (64 MB for the default 5
million) and allocated zeroed by the system, so a page only becomes resident when a key lands
on it: memory follows the keys up to that bound, and nothing ever has to be rehashed. At the
limit the set stops taking new keys (and says where), but keeps comparing with those it holds.

Keys are hashed with Python's own `hash()` of the key's tuple of strings: each string's SipHash
(keyed per process), mixed into 64 bits. Two different keys collide with probability about
n²/2⁶⁵ (under one in a million at 5 million keys), which is the only way a row could be
dropped wrongly. Hashes are only compared within one process, so the per-process key does
not matter.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable

import numpy as np
import numpy.typing as npt

_MAX_LOAD = 0.6
_MIN_BITS = 10
#: Keys moved into a new table per probe.
_MOVE_KEYS = 1 << 16
_UNSIGNED = (1 << 64) - 1
_Keys = npt.NDArray[np.uint64]


def as_array(keys: Collection[int], *, unsigned: bool) -> _Keys:
    """Python ints as the table's unsigned 64-bit keys: `hash()` values (signed) or, with
    `unsigned`, the ledger's stable keys."""
    if unsigned:
        return np.fromiter(keys, dtype=np.uint64, count=len(keys))
    return np.fromiter(keys, dtype=np.int64, count=len(keys)).view(np.uint64)


class KeyTable:
    """Remembers row keys (as 64-bit hashes, stored unsigned) and tells which it has seen."""

    def __init__(self, max_keys: int, held: _Keys | None = None) -> None:
        """`held`: keys to start with (distinct, as `as_array` gives them)."""
        self.max_keys = max_keys
        self.size = 0
        bits = max(_MIN_BITS, math.ceil(math.log2(max(max_keys, 1) / _MAX_LOAD)))
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._table: _Keys = np.zeros(1 << bits, dtype=np.uint64)
        if held is not None and len(held):
            if not held.all():  # 0 marks an empty slot: it becomes 1, which may repeat a key
                held = np.unique(np.where(held == 0, np.uint64(1), held))
            held.sort()  # sorted, the keys fill the table from one end to the other
            # A slice at a time: probing costs about 60 bytes a key in temporaries, which for
            # the half a million keys a set hands over would be 30 MB on top of the table.
            for at in range(0, len(held), _MOVE_KEYS):
                self._probe(held[at : at + _MOVE_KEYS], insert=True)
            self.size = len(held)

    @property
    def full(self) -> bool:
        return self.size >= self.max_keys

    @property
    def memory_bytes(self) -> int:
        """The table's size; only the pages keys have landed on are resident."""
        return int(self._table.nbytes)

    def add_all(self, hashes: Iterable[int], count: int) -> tuple[list[int], int | None]:
        """Look up `count` hashes (Python `hash()` values) in order, remembering the new ones
        while there is room. Returns the positions (0-based) of those seen before (earlier in
        this call included), and the position of the first new one that could not be
        remembered (None while under the limit). Past the limit, hashes are still compared
        with the ones remembered."""
        if isinstance(hashes, np.ndarray):  # stable keys, already 64-bit
            keys: _Keys = hashes.astype(np.uint64)  # a copy: zeros are changed below
        else:
            keys = np.fromiter(hashes, dtype=np.int64, count=count).view(np.uint64)
        keys[keys == 0] = 1  # 0 marks an empty slot
        room = self.max_keys - self.size
        if room <= 0:
            seen = self._probe(keys, insert=False)
            return np.flatnonzero(seen).tolist(), None if seen.all() else int(np.argmin(seen))
        # Sorted, the keys probe the table from one end to the other (kind to caches), and
        # repeats inside the batch sit side by side.
        order = np.argsort(keys)
        ordered = keys[order]
        twins = ordered[1:] == ordered[:-1]
        if twins.any():
            unique, first = np.unique(keys, return_index=True)
        else:
            unique, first = ordered, order
        if len(unique) > room:
            return self._one_by_one(keys, room)
        seen = self._probe(unique, insert=True)
        self.size += len(unique) - int(seen.sum())
        earlier = np.ones(len(keys), dtype=bool)
        earlier[first[~seen]] = False  # the first sighting of a new key is not a repeat
        return np.flatnonzero(earlier).tolist(), None

    def _probe(self, keys: _Keys, *, insert: bool) -> npt.NDArray[np.bool_]:
        """Which of `keys` (distinct, when inserting) the table holds; with `insert`, the
        others are added."""
        table, mask = self._table, self._mask
        slots = (keys >> self._shift).astype(np.int64)
        seen = np.zeros(len(keys), dtype=bool)
        pending = np.arange(len(keys))
        while pending.size:
            at = slots[pending]
            found = table[at]
            wanted = keys[pending]
            hit = found == wanted
            seen[pending[hit]] = True
            empty = found == 0
            if insert and empty.any():
                claims, claimed = pending[empty], at[empty]
                table[claimed] = keys[claims]  # one of several claimants per slot wins
                lost = claims[table[claimed] != keys[claims]]
                pending = np.concatenate((pending[~hit & ~empty], lost))
            else:
                pending = pending[~hit & ~empty]
            slots[pending] = (slots[pending] + 1) & mask
        return seen

    def _one_by_one(self, keys: _Keys, room: int) -> tuple[list[int], int | None]:
        """The batch that reaches the limit: in file order, so that exactly the first `room`
        new keys are remembered and the stop is where the first one was not."""
        table, mask, shift = self._table, self._mask, int(self._shift)
        repeats: list[int] = []
        stopped: int | None = None
        for position, key in enumerate(keys.tolist()):
            slot = key >> shift
            while table[slot] and table[slot] != key:
                slot = (slot + 1) & mask
            if table[slot]:
                repeats.append(position)
            elif room > 0:
                table[slot] = key
                room -= 1
                self.size += 1
            elif stopped is None:
                stopped = position
        return repeats, stopped
