"""pytest fixtures for the fake Metrica server (tests/fakes/metrika.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika


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
