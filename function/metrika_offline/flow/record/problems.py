"""How a file's and a part's endings are written down: their problems, and the one log line
per file outcome that the alerting in infra/ counts."""

from __future__ import annotations

from metrika_offline.check.codes import Code, message
from metrika_offline.errors import MetrikaError
from metrika_offline.flow.record.job import Job, Problem, Status
from metrika_offline.logs import get_logger

log = get_logger("pipeline")


def event_too_old(event_time: float | None, now: float, max_age_s: float) -> bool:
    """The platform has retried this event for longer than MAX_EVENT_AGE_S: give up."""
    return event_time is not None and now - event_time > max_age_s


def too_old_problem(max_age_s: float) -> Problem:
    code = Code.EVENT_TOO_OLD
    return Problem(code, message(code, hours=max_age_s / 3600))


def too_large_problem(size: int, limit: int) -> Problem:
    code = Code.TOO_LARGE
    return Problem(code, message(code, size_gb=size / 1e9, limit_gb=limit / 1e9))


def metrika_problem(code: str, exc: MetrikaError) -> Problem:
    return Problem(
        code,
        str(exc),
        http_status=exc.status,
        error_type=exc.error_type or None,
        metrika_message=exc.metrika_message or None,
    )


_SEVERITY = {
    Status.REJECTED: 40,  # logging.ERROR
    Status.FAILED: 40,
    Status.PARTIALLY_UPLOADED: 30,  # logging.WARNING
}


def log_file_result(job: Job) -> None:
    """One line per file outcome: the alerting in infra/ counts these."""
    log.log(
        _SEVERITY.get(job.status, 20),
        "file %s: %s",
        job.status.value,
        job.source.name,
        extra={
            "event": "file_result",
            "status": job.status.value,
            "bucket": job.source.bucket,
            "object": job.source.name,
            "generation": str(job.source.generation),
            "code": job.error.code if job.error else None,
        },
    )
