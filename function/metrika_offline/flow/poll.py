"""The follow-up: ask Metrica how each upload ended, and write the truth into the result.

Metrica takes up to two hours to process an upload and only then says how many rows it linked.
`poll` finds the uploads that are not final through the pending index (a short prefix, not
the whole bucket), asks Metrica with as few requests as it can (one `uploadings` page per
counter covers many uploads; a single pending upload gets one `uploading/{id}`), and updates
each job with compare-and-swap writes, so two overlapping polls agree on one result. An
upload that is still not final after `POLL_GIVE_UP_S` ends as `status_unknown`, explicitly.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from metrika_offline.config import Settings
from metrika_offline.errors import MetrikaError, MetrikaRejectedError, ObjectNotFound
from metrika_offline.flow.jobs import Job, JobStore, PartState, utc_iso
from metrika_offline.flow.pending import PendingUpload, list_pending
from metrika_offline.logs import get_logger, log_context
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.models import FINAL_STATUSES, Uploading
from metrika_offline.store.base import ObjectStore

log = get_logger("poll")

#: One `uploadings` page; Metrica lists the newest first.
PAGE_SIZE = 100
#: Pages read per counter before falling back to one request per upload.
MAX_PAGES = 5
#: Below this share of sent rows linked, a warning says what usually causes it.
FEW_LINKED_RATIO = 0.5

OUTCOME_PENDING = "pending"
OUTCOME_PROCESSED = "processed"
OUTCOME_PARTIAL = "partially_processed"
OUTCOME_LINKAGE_FAILURE = "linkage_failure"
OUTCOME_UNKNOWN = "status_unknown"
FINAL_OUTCOMES = frozenset(
    {OUTCOME_PROCESSED, OUTCOME_PARTIAL, OUTCOME_LINKAGE_FAILURE, OUTCOME_UNKNOWN}
)
GAVE_UP = "STATUS_UNKNOWN"  # our own marker in a part's uploading status: we stopped asking


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

    def __init__(self, client: MetrikaClient) -> None:
        self.client = client
        self.requests = 0

    def get(self, counter_id: int, uploading_id: int) -> Uploading:
        self.requests += 1
        return self.client.get_uploading(counter_id, uploading_id)

    def page(self, counter_id: int, offset: int) -> list[Uploading]:
        self.requests += 1
        return self.client.list_uploadings(counter_id, limit=PAGE_SIZE, offset=offset)


def fetch_statuses(
    client: _CountingClient, counter_id: int, wanted: set[int]
) -> dict[int, Uploading]:
    """Metrica's current view of `wanted` uploads of one counter, in few requests."""
    found: dict[int, Uploading] = {}
    if len(wanted) > 1:
        oldest = min(wanted)
        for page in range(MAX_PAGES):
            batch = client.page(counter_id, page * PAGE_SIZE)
            found.update({u.id: u for u in batch if u.id in wanted})
            if len(batch) < PAGE_SIZE or wanted <= found.keys():
                break
            if all(u.id < oldest for u in batch):
                break  # listed past the oldest one we wait for
    for uploading_id in sorted(wanted - found.keys()):
        try:
            found[uploading_id] = client.get(counter_id, uploading_id)
        except MetrikaRejectedError as exc:
            log.warning("Metrica does not know upload %d: %s", uploading_id, exc)
    return found


def outcome_of(job: Job, now: float) -> dict[str, Any]:
    """The file-level outcome from its uploaded parts' Metrica statuses."""
    sent = [p for p in job.parts if p.state is PartState.UPLOADED and p.uploading]
    statuses = [str((p.uploading or {}).get("status")) for p in sent]
    totals = {
        key: sum(int((p.uploading or {}).get(key) or 0) for p in sent)
        for key in (
            "source_quantity",
            "line_quantity",
            "linked_quantity",
            "user_not_found_quantity",
            "goal_not_found_quantity",
        )
    }
    if not sent:
        outcome = OUTCOME_UNKNOWN
    elif any(s not in FINAL_STATUSES and s != GAVE_UP for s in statuses):
        outcome = OUTCOME_PENDING
    elif GAVE_UP in statuses:
        outcome = OUTCOME_UNKNOWN
    elif all(s == "PROCESSED" for s in statuses):
        outcome = OUTCOME_PROCESSED
    elif all(s == "LINKAGE_FAILURE" for s in statuses):
        outcome = OUTCOME_LINKAGE_FAILURE
    else:
        outcome = OUTCOME_PARTIAL
    rows_sent = sum(p.rows for p in sent)
    return {
        "outcome": outcome,
        "checked_at": utc_iso(now),
        "rows_sent": rows_sent,
        **totals,
        "warnings": _warnings(outcome, rows_sent, totals),
    }


def _warnings(outcome: str, rows_sent: int, totals: Mapping[str, int]) -> list[dict[str, Any]]:
    if outcome == OUTCOME_PENDING:
        return []
    found: list[dict[str, Any]] = []

    def warn(code: str, count: int, message: str) -> None:
        found.append(
            {"code": code, "count": count, "line": None, "column": None, "message": message}
        )

    accepted = totals["line_quantity"]
    if outcome == OUTCOME_UNKNOWN:
        warn(
            "status-unknown",
            1,
            "Metrica did not report a final status in time; check the "
            "upload in Metrica's interface before sending the file again",
        )
    if 0 < accepted < rows_sent or (outcome != OUTCOME_UNKNOWN and accepted == 0 and rows_sent):
        warn(
            "rows-dropped-by-metrika",
            rows_sent - accepted,
            (
                f"Metrica accepted {accepted} of {rows_sent} rows sent; the rest failed its own "
                "validation (usually an ID of the wrong kind or a date it does not accept)"
            ),
        )
    linked = totals["linked_quantity"]
    if accepted and linked / accepted < FEW_LINKED_RATIO and outcome != OUTCOME_UNKNOWN:
        warn(
            "few-linked",
            accepted - linked,
            (
                f"only {linked} of {accepted} conversions linked to a visit: usually the "
                "conversions are older than the linking window (21 days with the extended window, "
                "otherwise less), or the IDs belong to another counter or are of the wrong type"
            ),
        )
    if totals["goal_not_found_quantity"]:
        warn(
            "goal-not-found",
            totals["goal_not_found_quantity"],
            (
                "Metrica found no goal for some Target values: Target must be the goal's "
                "identifier from the goal settings, not its display name"
            ),
        )
    if totals["user_not_found_quantity"]:
        warn(
            "user-not-found",
            totals["user_not_found_quantity"],
            (
                "Metrica found no user for some IDs: check that ClientId/UserId/Yclid come from "
                "this counter"
            ),
        )
    return found


class Poller:
    """Brings pending uploads to their final status in the result JSON."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        metrika: MetrikaClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.metrika = metrika
        self.settings = settings
        self.clock = clock
        self.jobs = JobStore(store, settings.work_prefix, clock=clock)

    def poll(self) -> PollSummary:
        """One round over the pending index: one status look-up per counter, one
        compare-and-swap per file."""
        entries = list(list_pending(self.store, self.settings.work_prefix))
        client = _CountingClient(self.metrika)
        by_counter: dict[int, list[PendingUpload]] = defaultdict(list)
        for entry in entries:
            by_counter[entry.counter_id].append(entry)
        statuses: dict[tuple[int, int], Uploading] = {}
        for counter_id, group in sorted(by_counter.items()):
            try:
                found = fetch_statuses(client, counter_id, {e.uploading_id for e in group})
            except MetrikaError as exc:
                log.warning("could not ask Metrica about counter %d: %s", counter_id, exc)
                continue
            statuses.update({(counter_id, uid): u for uid, u in found.items()})
        by_job: dict[tuple[str, int], list[PendingUpload]] = defaultdict(list)
        for entry in entries:
            by_job[(entry.source, entry.generation)].append(entry)
        updated = final = 0
        for (source, generation), group in sorted(by_job.items()):
            answers = {e.part: statuses.get((e.counter_id, e.uploading_id)) for e in group}
            changed, finished, _ = self._apply(source, generation, group, answers)
            updated += changed
            final += finished
        summary = PollSummary(len(entries), updated, final, client.requests)
        log.info("poll round done", extra={"poll": summary.to_json()})
        return summary

    def refresh(self, name: str, generation: int) -> Job | None:
        """The same for one file (the CLI's `status gs://… --refresh`)."""
        loaded = self.jobs.load(name, generation)
        if loaded is None:
            return None
        job = loaded[0]
        counter = int(str(job.routing.get("counter_id")))
        client = _CountingClient(self.metrika)
        entries = [
            PendingUpload(
                counter, int((p.uploading or {})["id"]), name, generation, p.index, job.updated_at
            )
            for p in job.parts
            if p.state is PartState.UPLOADED
            and (p.uploading or {}).get("status") not in FINAL_STATUSES
        ]
        answers = {e.part: client.get(counter, e.uploading_id) for e in entries}
        _, _, written = self._apply(name, generation, entries, answers)
        return written or job

    def _new_status(
        self, entry: PendingUpload, uploading: Uploading | None
    ) -> dict[str, Any] | None:
        """What to record for one upload: Metrica's word, or that we gave up; None = no news."""
        gave_up = self.clock() - entry.since > self.settings.poll_give_up_s
        if uploading is None:
            return {"id": entry.uploading_id, "status": GAVE_UP} if gave_up else None
        status = uploading.to_json()
        if gave_up and not uploading.is_final:
            status["status"] = GAVE_UP
        return status

    def _apply(
        self,
        source: str,
        generation: int,
        entries: list[PendingUpload],
        answers: Mapping[int, Uploading | None],
    ) -> tuple[int, int, Job | None]:
        """Write a file's upload statuses in one CAS; drop index entries that are final.

        Returns how many statuses changed, how many are final, and the job as written.
        """
        news = {
            e.part: status
            for e in entries
            if (status := self._new_status(e, answers.get(e.part))) is not None
        }
        if not news:
            return 0, 0, None
        now = self.clock()
        became_final: list[Job] = []

        def change(current: Job) -> Job | None:
            became_final.clear()
            updated = current
            for index, status in news.items():
                part = updated.part(index)
                if dict(part.uploading or {}) != status:
                    updated = updated.with_part(dataclasses.replace(part, uploading=status))
            if updated is current:
                return None
            outcome = outcome_of(updated, now)
            was = (current.metrika or {}).get("outcome")
            updated = dataclasses.replace(updated, metrika=outcome)
            if outcome["outcome"] in FINAL_OUTCOMES and was not in FINAL_OUTCOMES:
                became_final.append(updated)
            return updated

        with log_context(object=source, generation=str(generation)):
            written: Job | None = None
            try:
                written = self.jobs.update(source, generation, change)
            except ObjectNotFound:
                log.warning("job state is gone; dropping its pending entries")
                news = {e.part: {"status": GAVE_UP} for e in entries}
            finished = 0
            for entry in entries:
                recorded = str(news.get(entry.part, {}).get("status"))
                if recorded in FINAL_STATUSES or recorded == GAVE_UP:
                    finished += 1
                    if entry.object_name:
                        self.store.delete(entry.object_name)
            for job in became_final:
                _log_outcome(job)
            return len(news), finished, written


def _log_outcome(job: Job) -> None:
    outcome = (job.metrika or {}).get("outcome", OUTCOME_UNKNOWN)
    severity = 20 if outcome == OUTCOME_PROCESSED else 30
    log.log(
        severity,
        "Metrica outcome %s: %s",
        outcome,
        job.source.name,
        extra={
            "event": "metrika_outcome",
            "outcome": outcome,
            "bucket": job.source.bucket,
            "object": job.source.name,
            "generation": str(job.source.generation),
            "linked_quantity": (job.metrika or {}).get("linked_quantity"),
        },
    )
