"""A file's outcome told once: when the file's status is final, and when Metrica's is.

Exactly once, as far as it can be: the notification is claimed in the job state with a
compare-and-swap write (`Job.notified` gains its key, e.g. `file:uploaded`) before it is
sent, so a duplicate event, a second part finishing, or an overlapping poll finds the key and
sends nothing. What can go wrong is the other way round: an invocation that dies between the
claim and the send loses that notification (it is never sent twice). A channel that fails is
retried a few times and logged (`notify.notifier`); nothing here changes the file's outcome
or raises into the pipeline.
"""

from __future__ import annotations

from collections import Counter

from metrika_offline.errors import StoreError
from metrika_offline.flow.record.job import Job, PartState, Status
from metrika_offline.flow.record.jobstore import JobStore
from metrika_offline.flow.record.layout import result_name
from metrika_offline.flow.record.machine import claim_news
from metrika_offline.flow.record.problems import log_file_result
from metrika_offline.logs import get_logger
from metrika_offline.notify.message import FileNews, NewsKind
from metrika_offline.notify.notifier import Notifier

__all__ = ["TOLD_STATUSES", "file_final", "file_news", "tell_once"]

log = get_logger("notifications")

#: The file statuses a person is told about (a dry run's `validated` is not news).
TOLD_STATUSES = frozenset(
    {Status.UPLOADED, Status.PARTIALLY_UPLOADED, Status.REJECTED, Status.FAILED}
)
_TOP_ERRORS = 3


def file_news(job: Job, kind: NewsKind) -> FileNews:
    """The news of a job: its own outcome (`file`), Metrica's (`metrika`), or a part that
    waits for Metrica (`wait`: a counter not ready yet)."""
    sent = [p for p in job.parts if p.state is PartState.UPLOADED]
    failed = [p for p in job.parts if p.state is PartState.FAILED]
    rows = job.check.rows if job.check is not None else None
    left_out = sum(p.rows for p in failed)
    if rows is not None:
        left_out += rows.invalid + rows.duplicates
    codes: Counter[str] = Counter(dict(job.check.error_counts) if job.check else {})
    for part in failed:
        if part.error is not None:
            codes[part.error.code] += part.rows
    metrika = job.metrika if kind == "metrika" else None
    waits = [p.wait for p in job.parts if p.waits and p.wait is not None]
    outcome = metrika.outcome.value if metrika is not None else job.status.value
    if kind == "wait" and waits:
        outcome = waits[0].code
    return FileNews(
        kind=kind,
        outcome=outcome,
        bucket=job.source.bucket,
        name=job.source.name,
        generation=job.source.generation,
        counter_id=job.routing.counter_id,
        type=job.routing.type.value,
        rows_sent=sum(p.rows for p in sent),
        rows_left_out=left_out,
        top_errors=tuple(codes.most_common(_TOP_ERRORS)),
        error=job.error.code if job.error is not None else None,
        linked=metrika.linked_quantity if metrika is not None else None,
        goal_not_found=metrika.goal_not_found_quantity if metrika is not None else None,
        user_not_found=metrika.user_not_found_quantity if metrika is not None else None,
        result=f"gs://{job.source.bucket}/{result_name(job.source.name)}",
        rows_already_sent=rows.already_sent if rows is not None else 0,
        note=waits[0].message if kind == "wait" and waits else "",
    )


def tell_once(jobs: JobStore, notifier: Notifier, job: Job, kind: NewsKind) -> None:
    """Claim this news in the job state, then send it; a claim already there = told."""
    notifier = notifier.narrowed(job.routing.notify, job.routing.telegram_chat_id)
    if not notifier:
        return
    news = file_news(job, kind)

    try:
        change = jobs.update(job.source.name, job.source.generation, claim_news(news.key))
    except StoreError as exc:
        log.warning("could not record the notification; not sent", extra={"error": str(exc)})
        return
    if not change.written:
        log.info("already told", extra={"news": news.key})
        return
    ends = notifier.send(news)
    log.info("told", extra={"news": news.key, "channels": ends})


def file_final(jobs: JobStore, notifier: Notifier, job: Job) -> None:
    """A file's status became final: the log line the alerts count, and the notification."""
    log_file_result(job)
    if job.status in TOLD_STATUSES:
        tell_once(jobs, notifier, job, NewsKind.FILE)
