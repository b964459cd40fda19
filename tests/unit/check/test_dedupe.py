"""The bounded set of row keys behind duplicate detection."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrika_offline.check.dedupe import KeySet
from metrika_offline.check.keytable import KeyTable

#: The same tests for the set (small files), the numpy table (large ones), and a set that
#: moves into the table after a few keys.
KINDS = {
    "set": KeySet,
    "table": KeyTable,
    "moving": lambda limit: KeySet(limit, set_keys=7),
}
kinds = pytest.mark.parametrize("kind", sorted(KINDS))


def _hashes(count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [_signed(rng.getrandbits(64)) for _ in range(count)]


def _signed(value: int) -> int:
    """An unsigned 64-bit value as Python's hash() would give it."""
    return value - (1 << 64) if value >= 1 << 63 else value


@kinds
def test_repeats_within_and_across_batches_are_found_in_order(kind: str) -> None:
    keys = KINDS[kind](1_000)
    first, stopped = keys.add_all([11, 22, 11, 33], 4)
    assert (first, stopped) == ([2], None)
    second, _ = keys.add_all([44, 22, 55, 44], 4)
    assert second == [1, 3]
    assert keys.size == 5


@kinds
def test_many_keys_in_batches_are_all_found_again(kind: str) -> None:
    keys = KINDS[kind](200_000)
    hashes = _hashes(60_000, seed=1)
    for start in range(0, len(hashes), 7_000):
        batch = hashes[start : start + 7_000]
        assert keys.add_all(iter(batch), len(batch))[0] == []
    assert keys.size == len(hashes)
    again, stopped = keys.add_all(iter(hashes), len(hashes))
    assert stopped is None
    assert again == list(range(len(hashes)))


@kinds
def test_past_the_limit_new_keys_are_not_kept_but_old_ones_still_match(kind: str) -> None:
    keys = KINDS[kind](10)
    hashes = _hashes(25, seed=2)
    repeats, stopped = keys.add_all(hashes, 25)
    assert (repeats, stopped) == ([], 10)
    assert keys.full
    assert keys.add_all([hashes[20], hashes[3], hashes[21]], 3) == ([1], 0)
    assert keys.size == 10


def test_the_table_is_sized_for_the_limit_once() -> None:
    small, large = KeyTable(max_keys=1_000), KeyTable(max_keys=5_000_000)
    assert small.memory_bytes <= 8 * 1_000 / 0.6 * 2
    # 5 million keys at a load of at most 0.6: 2**23 slots of 8 bytes.
    assert large.memory_bytes == 64 * 1024 * 1024


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    crowded=st.sampled_from([0.0, 0.1]),
    batch=st.integers(min_value=1, max_value=3_000),
    limit=st.sampled_from([50, 5_000, 1_000_000]),
    kind=st.sampled_from(sorted(KINDS)),
)
def test_agrees_with_a_plain_set(
    seed: int, crowded: float, batch: int, limit: int, kind: str
) -> None:
    """Some keys crowded into the top 1/1024 of the range make clusters that run off the
    end of the table and wrap around."""
    rng = random.Random(seed)
    top = ((1 << 10) - 1) << 54

    def key() -> int:
        value = top | rng.getrandbits(54) if rng.random() < crowded else rng.getrandbits(64)
        return _signed(value)

    pool = [key() for _ in range(4_000)]
    stream = [rng.choice(pool) for _ in range(9_000)]
    keys = KINDS[kind](limit)
    remembered: set[int] = set()
    for start in range(0, len(stream), batch):
        chunk = stream[start : start + batch]
        repeats, stopped = keys.add_all(iter(chunk), len(chunk))
        expected_repeats, expected_stop = [], None
        for position, value in enumerate(chunk):
            if value in remembered:
                expected_repeats.append(position)
            elif len(remembered) < limit:
                remembered.add(value)
            elif expected_stop is None:
                expected_stop = position
        assert (repeats, stopped) == (expected_repeats, expected_stop)
    assert keys.size == len(remembered)


def test_keys_that_wrap_past_the_last_slot_are_found() -> None:
    rng = random.Random(4)
    top = ((1 << 24) - 1) << 40  # home: the last slot, whatever the table size
    crowded = [_signed(top | (rng.getrandbits(36) << 4)) for _ in range(20)]
    keys = KeyTable(max_keys=1_000_000)
    assert keys.add_all(iter(crowded), len(crowded)) == ([], None)
    spread = _hashes(300_000, seed=5)
    for start in range(0, len(spread), 4_000):
        batch = spread[start : start + 4_000]
        keys.add_all(iter(batch), len(batch))
    repeats, _ = keys.add_all(iter(crowded), len(crowded))
    assert repeats == list(range(len(crowded)))


def test_keys_move_into_the_table_once_the_set_is_outgrown_and_are_still_found() -> None:
    keys = KeySet(1_000, set_keys=100)
    hashes = _hashes(150, seed=6)
    assert keys.add_all(hashes[:90], 90) == ([], None)
    assert not keys.in_table
    assert keys.add_all(hashes[90:], 60) == ([], None)
    assert keys.in_table
    assert keys.size == 150
    assert keys.add_all(hashes[::-1], 150) == (list(range(150)), None)


def test_stable_keys_above_two_to_the_63_are_found_after_the_move() -> None:
    import numpy as np

    stable = np.array([(1 << 64) - 1, 1 << 63, 5, 0], dtype=np.uint64)
    keys = KeySet(1_000, set_keys=4)
    assert keys.add_all(stable, 4) == ([], None)
    assert keys.add_all(stable[:2], 2) == ([0, 1], None)
    more = np.array([7, 1 << 63], dtype=np.uint64)
    assert keys.add_all(more, 2) == ([1], None)
    assert keys.in_table
    assert keys.add_all(stable, 4) == ([0, 1, 2, 3], None)


def test_moving_into_the_table_holds_little_besides_the_table() -> None:
    """The set (about 64 bytes a stable key) is dropped before the table is filled, and the
    keys go in a slice at a time: at its peak the move holds the table and at most 48 bytes a
    key moved (151 when the set outlived the filling and all keys were probed at once)."""
    import tracemalloc

    import numpy as np

    import metrika_offline.check.keytable  # noqa: F401 (imported before the counting starts)

    held = 300_000
    rng = np.random.default_rng(9)
    first = rng.integers(0, 2**64 - 1, held, dtype=np.uint64, endpoint=True)
    more = rng.integers(0, 2**64 - 1, 1_000, dtype=np.uint64, endpoint=True)
    tracemalloc.start()
    try:
        keys = KeySet(5_000_000, set_keys=held)
        assert keys.add_all(first, held) == ([], None)
        assert not keys.in_table
        tracemalloc.reset_peak()
        assert keys.add_all(more, len(more)) == ([], None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert keys.in_table
    assert keys._table is not None
    assert peak - keys._table.memory_bytes < 48 * held
    assert keys.add_all(first, held)[0] == list(range(held))
