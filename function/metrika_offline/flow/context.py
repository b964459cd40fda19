"""What every stage of one bucket's flow works with, in one object: the buckets, the settings,
Metrica's accounts, the notifier, the job store, the clock, who watches, and the lease owners
this process made. Built once per bucket and process (`FlowContext.build`); the stages take it
instead of each copying the same long list of arguments."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable

from metrika_offline.config import Settings
from metrika_offline.flow.observe import QUIET, Observer
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import WorkLayout
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.notify.notifier import Notifier
from metrika_offline.store.base import ObjectStore


def _now() -> float:
    return time.time()  # looked up when called: `time.time` as it is then


class Owners:
    """The lease owners this process minted: one per invocation (a duplicate delivery may run
    in another thread of this very process), all handed back after a person's Ctrl-C."""

    def __init__(self) -> None:
        self._minted: set[str] = set()

    def new(self) -> str:
        owner = uuid.uuid4().hex
        self._minted.add(owner)
        return owner

    def all(self) -> frozenset[str]:
        return frozenset(self._minted)


@dataclasses.dataclass(frozen=True)
class FlowContext:
    store: ObjectStore  # the input bucket: the sources, and the results and rejects beside them
    work: ObjectStore  # the work bucket (WORK_BUCKET): job state, parts, ledger, pending index
    settings: Settings
    metrika: MetrikaAccounts
    notifier: Notifier
    jobs: JobStore
    layout: WorkLayout  # the work bucket's names (the job store's)
    clock: Callable[[], float] = _now
    observer: Observer = QUIET
    inline: bool = False  # a person runs it (the CLI): parts are uploaded here, at once
    owners: Owners = dataclasses.field(default_factory=Owners)

    @classmethod
    def build(
        cls,
        *,
        store: ObjectStore,
        settings: Settings,
        metrika: MetrikaAccounts | MetrikaClient | None,
        work: ObjectStore | None = None,
        inline: bool = False,
        clock: Callable[[], float] | None = None,
        observer: Observer = QUIET,
        notifier: Notifier | None = None,
    ) -> FlowContext:
        work = work if work is not None else store
        clock = clock if clock is not None else _now
        # The CLI's person watches the result: every change is written there. The function
        # writes news only, each write being an event of its trigger (`jobstore`).
        jobs = JobStore(work, settings.work_prefix, clock=clock, results=store, every_change=inline)
        return cls(
            store=store,
            work=work,
            settings=settings,
            metrika=MetrikaAccounts.of(metrika),
            notifier=notifier if notifier is not None else Notifier.from_settings(settings),
            jobs=jobs,
            layout=jobs.layout,
            clock=clock,
            observer=observer,
            inline=inline,
        )
