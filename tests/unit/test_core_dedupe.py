"""The bounded set of row keys behind duplicate detection."""

from __future__ import annotations

import random

from metrika_offline.dedupe import KeySet


def _hashes(count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(64) - (1 << 63) for _ in range(count)]


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
