"""The follow-up: ask Metrica how each upload ended, and write the truth into the result.

Metrica takes up to two hours to process an upload and only then says how many rows it linked.
`poll` finds the uploads that are not final through the pending index (a short prefix, not
the whole bucket), asks Metrica with as few requests as it can (one `uploadings` page per
counter and type covers many uploads: the list holds one type and up to 10000 of them; a
single pending upload, or one the pages missed, gets one `uploading/{id}`), and updates
each job with compare-and-swap writes, so two overlapping polls agree on one result. An
upload that is still not final after `POLL_GIVE_UP_S` ends as `status_unknown`, explicitly.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping

from metrika_offline.errors import (
    MetrikaDailyQuota,
    MetrikaError,
    MetrikaRejectedError,
    ObjectNotFound,
)
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.followup.news import tell_once
from metrika_offline.flow.followup.pending import PendingEntry, PendingUpload, list_pending
from metrika_offline.flow.record.job import (
    FINAL_OUTCOMES,
    Job,
    MetrikaOutcome,
)
from metrika_offline.flow.record.jobstore import Change
from metrika_offline.flow.record.machine import UploadNews, awaits, record_metrika_news
from metrika_offline.logs import get_logger, log_context
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.metrika.lookups import LIST_LIMIT
from metrika_offline.metrika.models import Uploading
from metrika_offline.notify.message import NewsKind
from metrika_offline.types import ConversionType

log = get_logger("poll")

#: One `uploadings` page: the most Metrica lists at once (its order is not documented).
PAGE_SIZE = LIST_LIMIT
#: Pages read per counter and type before falling back to one request per upload.
MAX_PAGES = 3


@dataclasses.dataclass(frozen=True)
class PollSummary:
    pending: int
    updated: int
    final: int
    requests: int

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class _CountingClient:
    """Counts the requests spent, for the summary (Metrica allows 5000 a day)."""

    def __init__(self, client: MetrikaAccounts) -> None:
        self.client = client
        self.requests = 0

    def get(self, counter_id: int, uploading_id: int) -> Uploading:
        self.requests += 1
        return self.client.get_uploading(counter_id, uploading_id)

    def page(self, counter_id: int, kind: ConversionType, offset: int) -> list[Uploading]:
        self.requests += 1
        return self.client.list_uploadings(counter_id, type=kind, limit=PAGE_SIZE, offset=offset)


def fetch_statuses(
    client: _CountingClient, counter_id: int, kind: str, wanted: set[int]
) -> dict[int, Uploading]:
    """Metrica's current view of `wanted` uploads of one counter and type (`kind`; "" when
    unknown: one request per upload), in few requests."""
    found: dict[int, Uploading] = {}
    if len(wanted) > 1 and kind:
        for page in range(MAX_PAGES):
            batch = client.page(counter_id, ConversionType(kind), page * PAGE_SIZE)
            found.update({u.id: u for u in batch if u.id in wanted})
            if len(batch) < PAGE_SIZE or wanted <= found.keys():
                break
    for uploading_id in sorted(wanted - found.keys()):
        try:
            found[uploading_id] = client.get(counter_id, uploading_id)
        except MetrikaRejectedError as exc:
            log.warning("Metrica does not know upload %d: %s", uploading_id, exc)
    return found


def _became_final(change: Change) -> bool:
    after, before = change.after.metrika, change.before.metrika
    return (
        change.written
        and after is not None
        and after.outcome in FINAL_OUTCOMES
        and (before is None or before.outcome not in FINAL_OUTCOMES)
    )


class Poller:
    """Brings pending uploads to their final status in the result JSON."""

    def __init__(self, ctx: FlowContext) -> None:
        """`ctx.store`: the input bucket (the results); `ctx.work`: the work bucket (the
        pending index and job state)."""
        self.ctx = ctx

    def poll(self) -> PollSummary:
        """One round over the pending index: one status look-up per counter and type, one
        compare-and-swap per file. (A waiting part is not the follow-up's: its task is
        scheduled for its time.)"""
        entries = list(list_pending(self.ctx.work, self.ctx.jobs.layout))
        client = _CountingClient(self.ctx.metrika)
        statuses = self._ask(client, [e.upload for e in entries])
        by_job: dict[tuple[str, int], list[PendingEntry]] = defaultdict(list)
        for entry in entries:
            by_job[(entry.upload.source, entry.upload.generation)].append(entry)
        updated = final = 0
        for (source, generation), group in sorted(by_job.items()):
            answers = {
                e.upload.part: statuses.get((e.upload.counter_id, e.upload.uploading_id))
                for e in group
            }
            changed, finished, _ = self._apply(source, generation, group, answers)
            updated += changed
            final += finished
        summary = PollSummary(len(entries), updated, final, client.requests)
        log.info("poll round done", extra={"poll": summary.to_json()})
        return summary

    def _ask(
        self, client: _CountingClient, uploads: list[PendingUpload]
    ) -> dict[tuple[int, int], Uploading]:
        """Metrica's answers, by (counter, uploading id); a counter that fails is skipped.

        A daily quota is not asked again in the round: a spent user quota skips every other
        counter of that account (its token), a spent counter quota the counter's other types.
        """
        by_counter: dict[tuple[int, str], set[int]] = defaultdict(set)
        for upload in uploads:
            by_counter[(upload.counter_id, upload.type)].add(upload.uploading_id)
        statuses: dict[tuple[int, int], Uploading] = {}
        spent: set[str] = set()  # accounts, and counters as "#<id>", whose daily quota is spent
        for (counter_id, kind), wanted in sorted(by_counter.items()):
            account = self.ctx.metrika.account_of(counter_id)
            if account in spent or f"#{counter_id}" in spent:
                continue
            try:
                found = fetch_statuses(client, counter_id, kind, wanted)
            except MetrikaDailyQuota as exc:
                by_user = exc.error_type == "quota_requests_by_uid"
                spent.add(account if by_user else f"#{counter_id}")
                log.warning("Metrica's daily quota is spent; not asked again this round: %s", exc)
                continue
            except MetrikaError as exc:
                log.warning("could not ask Metrica about counter %d: %s", counter_id, exc)
                continue
            statuses.update({(counter_id, uid): u for uid, u in found.items()})
        return statuses

    def refresh(self, name: str, generation: int) -> Job | None:
        """The same for one file (the CLI's `status gs://… --refresh`)."""
        loaded = self.ctx.jobs.load(name, generation)
        if loaded is None:
            return None
        job = loaded[0]
        counter = job.routing.counter_id
        if counter is None:
            return job
        client = _CountingClient(self.ctx.metrika)
        entries = [
            PendingEntry(
                PendingUpload(counter, p.uploading.id, name, generation, p.index, job.updated_at),
                object_name="",
            )
            for p in job.parts
            if p.awaits_metrika and p.uploading is not None
        ]
        answers = {e.upload.part: client.get(counter, e.upload.uploading_id) for e in entries}
        _, _, written = self._apply(name, generation, entries, answers)
        return written or job

    def _apply(
        self,
        source: str,
        generation: int,
        entries: list[PendingEntry],
        answers: Mapping[int, Uploading | None],
    ) -> tuple[int, int, Job | None]:
        """Write a file's upload statuses in one CAS; drop index entries that are final.

        Returns how many statuses changed, how many are final, and the job as written.
        """
        now = self.ctx.clock()
        news = {
            e.upload.part: UploadNews(
                e.upload.uploading_id,
                answers.get(e.upload.part),
                gave_up=now - e.upload.since > self.ctx.settings.poll_give_up_s,
            )
            for e in entries
        }
        news = {index: n for index, n in news.items() if n.answer is not None or n.gave_up}
        if not news:
            return 0, 0, None
        with log_context(object=source, generation=str(generation)):
            try:
                change = self.ctx.jobs.update(source, generation, record_metrika_news(news, now))
            except ObjectNotFound:
                log.warning("job state is gone; dropping its pending entries")
                self._drop(entries)
                return len(news), len(entries), None
            done = [
                e
                for e in entries
                if e.upload.part in news
                and not awaits(change.after, e.upload.part, e.upload.uploading_id)
            ]
            self._drop(done)
            if _became_final(change):
                _log_outcome(change.after)
                tell_once(self.ctx.jobs, self.ctx.notifier, change.after, NewsKind.METRIKA)
            return len(news), len(done), change.after if change.written else None

    def _drop(self, entries: Iterable[PendingEntry]) -> None:
        for entry in entries:
            if entry.object_name:
                self.ctx.work.delete(entry.object_name)


def _log_outcome(job: Job) -> None:
    outcome = job.metrika.outcome if job.metrika else MetrikaOutcome.STATUS_UNKNOWN
    severity = 20 if outcome is MetrikaOutcome.PROCESSED else 30
    log.log(
        severity,
        "Metrica outcome %s: %s",
        outcome.value,
        job.source.name,
        extra={
            "event": "metrika_outcome",
            "outcome": outcome.value,
            "bucket": job.source.bucket,
            "object": job.source.name,
            "generation": str(job.source.generation),
            "linked_quantity": job.metrika.linked_quantity if job.metrika else None,
        },
    )
