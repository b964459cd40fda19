"""pytest fixtures for the fake Metrica and clients of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.retry import RetryPolicy
from metrika_offline.metrika.transport import Timeouts
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika


@dataclasses.dataclass
class ManualTime:
    """A clock and a sleep for the client: sleeping records the wait and moves the clock."""

    now: float = 1000.0
    waits: list[float] = dataclasses.field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_metrika() -> Iterator[FakeMetrika]:
    """A fake Metrica on a free port, accepting `FAKE_TOKEN`; its clock moves only on
    `advance()`. Stopped (and every parked request released) after the test."""
    with FakeMetrika(tokens={FAKE_TOKEN}) as fake:
        yield fake


@pytest.fixture
def fake_metrika_token() -> str:
    """The token `fake_metrika` accepts."""
    return FAKE_TOKEN


@pytest.fixture
def manual_time() -> ManualTime:
    return ManualTime()


@pytest.fixture
def metrika_client_for(
    manual_time: ManualTime,
) -> Iterator[Callable[..., MetrikaClient]]:
    """Build clients of a fake: `metrika_client_for(fake, token=…, retry=…, timeouts=…)`.

    They sleep and tell time through `manual_time`, so retries never really wait. Closed
    after the test.
    """
    made: list[MetrikaClient] = []

    def build(fake: FakeMetrika | str, **overrides: Any) -> MetrikaClient:
        options: dict[str, Any] = {
            "base_url": fake if isinstance(fake, str) else fake.url,
            "timeouts": Timeouts(connect_s=5.0, read_s=10.0),
            "retry": RetryPolicy(max_attempts=4, base_delay_s=1.0, max_delay_s=8.0),
            "sleep": manual_time.sleep,
            "clock": manual_time.clock,
        }
        token = overrides.pop("token", FAKE_TOKEN)
        options.update(overrides)
        client = MetrikaClient(token, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def metrika_client(
    fake_metrika: FakeMetrika, metrika_client_for: Callable[..., MetrikaClient]
) -> MetrikaClient:
    """A client of `fake_metrika` with `manual_time` (4 attempts, 1 s base delay)."""
    return metrika_client_for(fake_metrika)
