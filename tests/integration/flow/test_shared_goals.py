"""A counter's goals kept in the work bucket for every checker instance: one instance at a
time asks Metrica, and a 429 never costs a file its goal check when goals were read before."""

from __future__ import annotations

import threading
from pathlib import Path

from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.flow.source.goal_check import GoalCache, SharedGoals
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.store.local import LocalStore
from tests import samples
from tests.fakes.metrika import FakeMetrika, Fault

COUNTER = 51234567
LAYOUT = WorkLayout("metrika-offline/")


def instance(store: LocalStore, client: MetrikaClient, now: list[float]) -> GoalCache:
    """One checker instance: its own memory, the work bucket shared."""
    shared = SharedGoals(store, LAYOUT, clock=lambda: now[0], wait_s=5.0)
    return GoalCache(MetrikaAccounts.of(client), clock=lambda: now[0], shared=shared)


def asked(fake: FakeMetrika) -> int:
    return [e.endpoint for e in fake.journal].count("goals")


def test_ten_instances_at_once_ask_metrica_once(
    tmp_path: Path, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.set_goals(COUNTER, samples.GOALS)
    store = LocalStore(tmp_path)
    now = [1_800_000_000.0]
    gate = fake_metrika.hold("goals")  # the first asker's answer waits until all have come
    found: list[object] = []
    threads = [
        threading.Thread(
            target=lambda: found.append(instance(store, metrika_client, now).goals(COUNTER))
        )
        for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    assert gate.wait_for(1, timeout=30)
    gate.release()
    for thread in threads:
        thread.join()
    assert asked(fake_metrika) == 1
    assert len(found) == 10
    assert all(goals is not None and goals[0] for goals in found)  # type: ignore[index]


def test_a_429_uses_the_goals_read_before(
    tmp_path: Path, fake_metrika: FakeMetrika, metrika_client: MetrikaClient
) -> None:
    fake_metrika.set_goals(COUNTER, samples.GOALS)
    store = LocalStore(tmp_path)
    now = [1_800_000_000.0]
    first, _ = instance(store, metrika_client, now).goals(COUNTER)
    assert first
    now[0] += 3600  # stale everywhere: a fresh instance asks again, and is refused
    fake_metrika.script(*[Fault.quota(endpoint="goals")] * 4)
    goals, unreadable = instance(store, metrika_client, now).goals(COUNTER)
    assert (goals, unreadable) == (first, None)
    assert asked(fake_metrika) >= 2
