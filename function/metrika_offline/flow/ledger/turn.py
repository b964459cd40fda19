"""A file's turn at the ledger: the lock held, the view read, the keys staged; and a part's
upload recorded in it."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

from metrika_offline.check.report import LedgerSummary
from metrika_offline.config import Settings
from metrika_offline.flow.ledger.keys import StagedKeys, record_sent
from metrika_offline.flow.ledger.view import Ledger, LedgerView
from metrika_offline.flow.record.job import Job, PartState
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import LedgerLayout, WorkLayout
from metrika_offline.flow.record.result import utc_iso
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.store.base import ObjectStore


def window_days(routed: Route) -> float:
    """The window a file is checked with: metadata `ledger-window-days`, else the folder's
    `ledger_window_days` (metrika-offline.json), else `LEDGER_WINDOW_DAYS`."""
    return routed.ledger_window_days


@dataclasses.dataclass
class Turn:
    """What one file's check gets from the ledger."""

    mode: str  # "on", "resend" (keys written, none dropped) or "off"
    window_days: float
    view: LedgerView | None = None  # None: nothing is dropped
    staged: StagedKeys | None = None  # None: no keys written (dry run, or off)

    def summary(self) -> LedgerSummary:
        view = self.view
        if view is None:
            return LedgerSummary(self.mode, self.window_days)
        since = view.limited_since
        return LedgerSummary(
            self.mode,
            self.window_days,
            **view.counts(),
            limited_since=None if since is None else utc_iso(since),
        )


def _names(settings: Settings, job: Job) -> LedgerLayout | None:
    counter = job.routing.counter_id
    if counter is None:
        return None
    return WorkLayout(settings.work_prefix).ledger(counter, job.routing.type.value)


@contextlib.contextmanager
def ledger_turn(
    store: ObjectStore,
    jobs: JobStore,
    settings: Settings,
    job: Job,
    *,
    owner: str,
    clock: Callable[[], float],
) -> Iterator[Turn]:
    """Hold the ledger of the file's counter and type (if it has one) for its check: read
    it, and stage its parts' keys. ClaimHeld while another file holds it."""
    routed = job.routing
    days = window_days(routed)
    names = _names(settings, job)
    if names is None or routed.problem is not None or days <= 0:
        yield Turn("off", days)
        return
    source, generation = job.source.name, job.source.generation
    ledger = Ledger(store, jobs, names, clock=clock)
    dry = routed.mode is Mode.DRY_RUN
    if not dry:
        ledger.lock.acquire(owner, settings.lease_s, holder=source, job=f"{source}@{generation}")
    try:
        resend = routed.mode is Mode.RESEND
        view = None if resend else ledger.open(job, days * 86_400.0, settings.ledger_max_keys)
        staged = None if dry else StagedKeys(store, names, job)
        yield Turn("resend" if resend else "on", days, view, staged)
    finally:
        if not dry:
            ledger.lock.release(owner)


def record_uploaded(
    store: ObjectStore, settings: Settings, job: Job, index: int, now: float
) -> None:
    """The part's upload is recorded: its keys now count as sent (idempotent)."""
    names = _names(settings, job)
    if names is None or job.routing.ledger_window_days <= 0:
        return
    if job.part(index).state is PartState.UPLOADED:
        record_sent(store, names, job, index, now=now)
