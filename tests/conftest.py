"""Shared fixtures. Fixtures for the fakes live next to the fakes (tests/fakes/)."""

from __future__ import annotations

pytest_plugins = [
    "tests.fakes.metrika.fixtures",
    "tests.fakes.gcs_fixtures",
    "tests.fakes.webhooks",
]
