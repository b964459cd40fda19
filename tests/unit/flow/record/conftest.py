"""The job store the job record's and the job store's tests write to: a local store, a fixed
clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.store.local import LocalStore


@pytest.fixture
def jobs(tmp_path: Path) -> JobStore:
    return JobStore(LocalStore(tmp_path), "work/", clock=lambda: 1_800_000_000.0)
