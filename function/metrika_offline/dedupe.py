"""A set of 64-bit row-key hashes in 8 bytes each: duplicates inside one file, memory bounded.

A Python `set` of ints costs about 90 bytes a key (the int object and its slot): 5 million keys
would be 450 MB. Here the hashes live in open-addressing tables of signed 64-bit slots
(`array('q')`), split into 16 shards that grow one at a time, so growing never needs more
than one extra shard's worth of memory. Tables grow fourfold while small (every growth
re-inserts every key, so fewer growths are faster) and twofold near the end; they never grow
past what `max_keys` needs at a load of 0.7: 64 MB for the default 5 million. At the limit
the set stops taking new keys (and says where), but keeps comparing with those it holds.

Keys are hashed with Python's own `hash()` of the key string: SipHash, 64 bits, keyed per
process. Two different keys collide with probability about n²/2⁶⁵ (under one in a million
at 5 million keys), which is the only way a row could be dropped wrongly. Hashes are only
compared within one process, so the per-process key does not matter.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Iterable
from itertools import compress, repeat
from operator import and_, ne, rshift

_SHARD_BITS = 4
_SHARDS = 1 << _SHARD_BITS
_SHARD_MASK = _SHARDS - 1
_MIN_SLOTS = 1 << 10
_MAX_LOAD = 0.7


def _empty_table(slots: int) -> array[int]:
    return array("q", bytes(8 * slots))


def _shard_share(incoming: int) -> int:
    """A bound on how many of `incoming` uniformly hashed keys one of the shards gets: the
    mean plus six standard deviations and a little (never reached in practice)."""
    mean = incoming / _SHARDS
    return int(mean + 6 * mean**0.5) + 32


class KeySet:
    """Remembers row keys (as hashes) and tells which ones it has seen before."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.size = 0
        self._slots = _MIN_SLOTS
        # Enough for max_keys at the load limit: growing stops there.
        needed = max_keys / _SHARDS / _MAX_LOAD + _shard_share(max_keys)
        self._max_slots = max(_MIN_SLOTS, 1 << max(0, math.ceil(needed) - 1).bit_length())
        self._tables = [_empty_table(_MIN_SLOTS) for _ in range(_SHARDS)]

    @property
    def full(self) -> bool:
        return self.size >= self.max_keys

    @property
    def memory_bytes(self) -> int:
        return 8 * self._slots * _SHARDS

    def _reserve(self, incoming: int) -> None:
        """Grow until every shard, given its share of `incoming`, stays under the load limit:
        then no insert below can fill a table."""
        while (
            self.size / _SHARDS + _shard_share(incoming) > _MAX_LOAD * self._slots
            and self._slots < self._max_slots
        ):
            # Four times while small: each growth re-inserts every key, so fewer is cheaper.
            factor = 4 if self._slots * 4 <= self._max_slots else 2
            self._grow(self._slots * factor)

    def _grow(self, slots: int) -> None:
        mask = slots - 1
        for index, old in enumerate(self._tables):
            keys = list(filter(None, old))
            homes = list(map(and_, map(rshift, keys, repeat(_SHARD_BITS)), repeat(mask)))
            # Most keys land on a free home slot: place those in C (one per slot, the last
            # wins in the dict); probe in Python only for the ones a collision displaced.
            placed = dict(zip(homes, keys, strict=True))
            table = _empty_table(slots)
            deque(map(table.__setitem__, placed.keys(), placed.values()), maxlen=0)
            if len(placed) != len(keys):
                displaced = compress(keys, map(ne, map(placed.__getitem__, homes), keys))
                for h in displaced:
                    slot = (h >> _SHARD_BITS) & mask
                    while table[slot]:
                        slot = (slot + 1) & mask
                    table[slot] = h
            self._tables[index] = table  # the old shard is freed here, before the next grows
        self._slots = slots

    def add_all(self, hashes: Iterable[int], count: int) -> tuple[list[int], int | None]:
        """Look up `count` hashes in order, remembering the new ones while there is room.
        Returns the positions (0-based) of those seen before, and the position of the first
        new one that could not be remembered (None while under the limit). Past the limit,
        hashes are still compared with the ones remembered."""
        room = self.max_keys - self.size
        self._reserve(max(0, min(count, room)))
        tables = self._tables
        mask = self._slots - 1
        repeats: list[int] = []
        stopped: int | None = None
        for position, h in enumerate(hashes):
            table = tables[h & _SHARD_MASK]
            slot = (h >> _SHARD_BITS) & mask
            seen = table[slot]
            while seen:
                if seen == h:
                    repeats.append(position)
                    break
                slot = (slot + 1) & mask
                seen = table[slot]
            else:
                if room > 0:
                    table[slot] = h
                    room -= 1
                elif stopped is None:
                    stopped = position
        self.size = self.max_keys - room
        return repeats, stopped
