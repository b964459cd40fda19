"""A set of 64-bit row-key hashes in 8 bytes each: duplicates inside one file, memory bounded.

A Python `set` of ints costs about 90 bytes a key (the int object and its slot): 5 million keys
would be 450 MB. Here the hashes live in open-addressing tables (linear probing) of unsigned
64-bit slots (`array('Q')`), split into 16 shards by the low bits, that grow one at a time, so
growing never needs more than one extra shard's worth of memory. A key's slot is its top
bits, so a table is in key order and growing is mostly a sort of nearly sorted keys, in C (see
`_placed`). Tables grow fourfold while small and twofold near the end, and
never past what `max_keys` needs at a load of 0.7: 64 MB for the default 5 million. At the
limit the set stops taking new keys (and says where), but keeps comparing with those it holds.

Keys are hashed with Python's own `hash()` of the key's tuple of strings: each string's SipHash
(keyed per process), mixed into 64 bits. Two different keys collide with probability about
n²/2⁶⁵ (under one in a million at 5 million keys), which is the only way a row could be
dropped wrongly. Hashes are only compared within one process, so the per-process key does
not matter.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from itertools import compress, count, islice, repeat
from operator import le, rshift

_SHARD_BITS = 4
_SHARDS = 1 << _SHARD_BITS
_SHARD_MASK = _SHARDS - 1
_MIN_BITS = 10
_MAX_LOAD = 0.7
#: Turns Python's signed hash into the unsigned 64 bits stored.
UNSIGNED = (1 << 64) - 1


def _empty_table(slots: int) -> array[int]:
    return array("Q", bytes(8 * slots))


def _shard_share(incoming: int) -> int:
    """A bound on how many of `incoming` uniformly hashed keys one of the shards gets: the
    mean plus six standard deviations and a little (never reached in practice)."""
    mean = incoming / _SHARDS
    return int(mean + 6 * mean**0.5) + 32


def _placed(keys: list[int], bits: int) -> tuple[array[int], list[int]]:
    """A linear-probing table of `2**bits` slots holding `keys`, built mostly in C. A key's
    home slot is its top bits, so in sorted order each key takes its home slot, or the slot
    just past the previous key's when that one is already there or beyond. Homes are
    computed and compared in C; only the (few) runs of clashing keys are walked in Python.
    Returns the table and the keys that ran off its end (the caller wraps them)."""
    slots = 1 << bits
    keys.sort()  # nearly sorted already: the old table was in the same order
    finals = list(map(rshift, keys, repeat(64 - bits)))
    clashes = compress(count(1), map(le, islice(finals, 1, None), finals))
    done = 0
    for start in clashes:
        if start < done:
            continue  # already pushed along by the run before
        index = start
        while index < len(finals) and finals[index] <= finals[index - 1]:
            finals[index] = finals[index - 1] + 1
            index += 1
        done = index
    fit = bisect_left(finals, slots)
    table = _empty_table(slots)
    deque(map(table.__setitem__, islice(finals, fit), keys), maxlen=0)
    return table, keys[fit:]


class KeySet:
    """Remembers row keys (as unsigned 64-bit hashes) and tells which it has seen before."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.size = 0
        self._bits = _MIN_BITS
        # Enough for max_keys at the load limit: growing stops there.
        needed = max_keys / _SHARDS / _MAX_LOAD + _shard_share(max_keys)
        self._max_bits = max(_MIN_BITS, max(0, math.ceil(needed) - 1).bit_length())
        self._tables = [_empty_table(1 << _MIN_BITS) for _ in range(_SHARDS)]

    @property
    def full(self) -> bool:
        return self.size >= self.max_keys

    @property
    def memory_bytes(self) -> int:
        return 8 * _SHARDS << self._bits

    def _reserve(self, incoming: int) -> None:
        """Grow until every shard, given its share of `incoming`, stays under the load limit:
        then no insert below can fill a table."""
        while (
            self.size / _SHARDS + _shard_share(incoming) > _MAX_LOAD * (1 << self._bits)
            and self._bits < self._max_bits
        ):
            # Four times while small: each growth moves every key, so fewer is cheaper.
            self._grow(min(self._bits + 2, self._max_bits))

    def _grow(self, bits: int) -> None:
        mask = (1 << bits) - 1
        for index, old in enumerate(self._tables):
            table, wrapped = _placed(list(filter(None, old)), bits)
            for u in wrapped:  # past the last slot: on from the first, as a probe would go
                slot = 0
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = u
            self._tables[index] = table  # the old shard is freed here, before the next grows
        self._bits = bits

    def add_all(self, hashes: Iterable[int], count: int) -> tuple[list[int], int | None]:
        """Look up `count` unsigned hashes in order, remembering the new ones while there is
        room. Returns the positions (0-based) of those seen before, and the position of the
        first new one that could not be remembered (None while under the limit). Past the
        limit, hashes are still compared with the ones remembered."""
        room = self.max_keys - self.size
        self._reserve(max(0, min(count, room)))
        tables = self._tables
        shift = 64 - self._bits
        mask = (1 << self._bits) - 1
        repeats: list[int] = []
        stopped: int | None = None
        for position, u in enumerate(hashes):
            table = tables[u & _SHARD_MASK]
            slot = u >> shift
            seen = table[slot]
            while seen:
                if seen == u:
                    repeats.append(position)
                    break
                slot = (slot + 1) & mask
                seen = table[slot]
            else:
                if room > 0:
                    table[slot] = u
                    room -= 1
                elif stopped is None:
                    stopped = position
        self.size = self.max_keys - room
        return repeats, stopped
