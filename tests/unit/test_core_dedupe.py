"""The bounded set of row keys behind duplicate detection."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from metrika_offline.dedupe import KeySet


def _hashes(count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(64) for _ in range(count)]


def test_repeats_within_and_across_batches_are_found_in_order() -> None:
    keys = KeySet(max_keys=1_000)
    first, stopped = keys.add_all([11, 22, 11, 33], 4)
    assert (first, stopped) == ([2], None)
    second, _ = keys.add_all([44, 22, 55, 44], 4)
    assert second == [1, 3]
    assert keys.size == 5


def test_growing_keeps_every_key() -> None:
    keys = KeySet(max_keys=200_000)
    hashes = _hashes(60_000, seed=1)
    for start in range(0, len(hashes), 7_000):
        batch = hashes[start : start + 7_000]
        assert keys.add_all(batch, len(batch))[0] == []
    assert keys.size == len(hashes)
    # 8 bytes a slot, a load of at least 0.7 / 4 (tables grow fourfold while small).
    assert keys.memory_bytes <= 8 * len(hashes) / 0.7 * 4
    again, stopped = keys.add_all(hashes, len(hashes))
    assert stopped is None
    assert again == list(range(len(hashes)))


def test_past_the_limit_new_keys_are_not_kept_but_old_ones_still_match() -> None:
    keys = KeySet(max_keys=10)
    hashes = _hashes(25, seed=2)
    repeats, stopped = keys.add_all(hashes, 25)
    assert (repeats, stopped) == ([], 10)
    assert keys.full
    assert keys.add_all([hashes[20], hashes[3], hashes[21]], 3) == ([1], 0)
    assert keys.size == 10


def test_memory_stays_near_eight_bytes_a_key_at_the_limit() -> None:
    keys = KeySet(max_keys=50_000)
    hashes = _hashes(80_000, seed=3)
    for start in range(0, len(hashes), 8_000):
        batch = hashes[start : start + 8_000]
        keys.add_all(batch, len(batch))
    assert keys.size == 50_000
    # 8 bytes a slot, at most a load of 0.7 and one doubling of slack.
    assert keys.memory_bytes <= 8 * 50_000 / 0.7 * 2 + 16 * 8 * 1024


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    crowd=st.sampled_from([0, 48, 60]),
    batch=st.integers(min_value=1, max_value=3_000),
    limit=st.sampled_from([50, 5_000, 1_000_000]),
)
def test_agrees_with_a_plain_set_through_growth_and_wrap_around(
    seed: int, crowd: int, batch: int, limit: int
) -> None:
    """Keys crowded into the top of the range (`crowd` top bits set) make long clusters
    that run off the end of the tables and wrap: growth must keep every key findable."""
    rng = random.Random(seed)
    high = ((1 << crowd) - 1) << (64 - crowd) if crowd else 0
    pool = [high | rng.getrandbits(64 - crowd) for _ in range(4_000)]
    stream = [rng.choice(pool) for _ in range(9_000)]
    keys = KeySet(max_keys=limit)
    remembered: set[int] = set()
    for start in range(0, len(stream), batch):
        chunk = stream[start : start + batch]
        repeats, stopped = keys.add_all(iter(chunk), len(chunk))
        expected_repeats, expected_stop = [], None
        for position, key in enumerate(chunk):
            if key in remembered:
                expected_repeats.append(position)
            elif len(remembered) < limit:
                remembered.add(key)
            elif expected_stop is None:
                expected_stop = position
        assert (repeats, stopped) == (expected_repeats, expected_stop)
    assert keys.size == len(remembered)


def test_keys_that_wrap_past_the_last_slot_survive_every_growth() -> None:
    rng = random.Random(4)
    top = ((1 << 24) - 1) << 40  # home: the last slot, whatever the table size
    crowded = [top | (rng.getrandbits(36) << 4) for _ in range(20)]  # all in shard 0
    keys = KeySet(max_keys=1_000_000)
    keys.add_all(iter(crowded), len(crowded))
    spread = _hashes(300_000, seed=5)
    for start in range(0, len(spread), 4_000):
        batch = spread[start : start + 4_000]
        keys.add_all(iter(batch), len(batch))
    assert keys.memory_bytes > 16 * 8 * 1024 * 16  # it did grow, several times
    repeats, _ = keys.add_all(iter(crowded), len(crowded))
    assert repeats == list(range(len(crowded)))
