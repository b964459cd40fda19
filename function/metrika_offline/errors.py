"""The exception tree. Data problems in a CSV are not exceptions: they become report entries.

    MetrikaOfflineError             base; messages never carry the OAuth token
    ├── ConfigError                 bad settings or usage: fix and run again (CLI exit 2)
    ├── StoreError                  the object store (Cloud Storage or a local folder)
    │   ├── ObjectNotFound          the object (or that generation of it) is gone
    │   └── PreconditionFailed      a generation precondition lost a race: re-read, retry
    ├── MetrikaError                the Metrica API; carries status, error_type, message
    │   ├── MetrikaAuthError        401, 403 invalid_token/access_denied: stop
    │   │   └── NoTokenForCounter   no token is configured for the counter's account
    │   ├── MetrikaRejectedError    400, 404, 409…: Metrica refused the request: stop
    │   ├── MetrikaWait             not now, later: the part waits (not retried in the run)
    │   │   ├── MetrikaNotReady     400 "Загрузить данные сейчас невозможно…": a new counter
    │   │   └── MetrikaDailyQuota   429 quota_requests_by_uid / quota_requests_by_counter_id
    │   └── MetrikaRetryableError ◆ worth another try, later
    │       ├── MetrikaQuotaError       429, 420, 403 quota_*: wait (retry_after)
    │       └── MetrikaTransientError   5xx, timeouts, connection errors: retry
    │           └── MetrikaAmbiguousError  the body went out and no clear answer came
    │                                      back (none, 5xx, 408): look the upload up
    │                                      before sending again
    └── RetryLater                  the work is not done and the job state says where to
        │                           resume: deliver the event again (CLI: run again)
        ├── ClaimHeld               another live worker holds the job
        ├── DeadlineReached         the invocation is about to be killed: hand over
        └── ◆ MetrikaRetryableError (also a MetrikaError, above)

Transient faults raise so that the platform retries; everything a user must fix is written
into the result JSON and the invocation returns. `main.py` and the CLI catch `RetryLater` in
one place each; a `StoreError` that is not a lost race is a fault of the platform's and
propagates as it is (the platform retries it too).
"""

from __future__ import annotations


class MetrikaOfflineError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(MetrikaOfflineError):
    """Settings or arguments are wrong; nothing was attempted."""


class StoreError(MetrikaOfflineError):
    """The object store failed or refused an operation."""


class ObjectNotFound(StoreError):
    """The object, or the generation asked for, does not exist."""


class PreconditionFailed(StoreError):
    """A generation precondition did not hold: someone else wrote first."""


class MetrikaError(MetrikaOfflineError):
    """An answer (or no answer) from the Metrica API.

    `status` is the HTTP status (0 when there was no answer), `error_type` and `metrika_message`
    are Metrica's own words, surfaced verbatim.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        error_type: str = "",
        metrika_message: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.metrika_message = metrika_message


class MetrikaAuthError(MetrikaError):
    """The token is missing, wrong, expired or lacks access to the counter."""


class NoTokenForCounter(MetrikaAuthError):
    """No token is configured for the counter (METRIKA_TOKEN, METRIKA_ACCOUNTS)."""


class MetrikaRejectedError(MetrikaError):
    """Metrica refused the request (bad file, bad parameter, unknown counter)."""


class MetrikaWait(MetrikaError):
    """Metrica will not take this now but will later: the part waits instead of retrying.

    `not_before` is when to ask again (Unix seconds) when Metrica said; None leaves it to the
    caller (a daily quota waits QUOTA_RETRY_S).
    """

    #: The stable code the part's wait carries.
    code = "metrika-wait"

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        error_type: str = "",
        metrika_message: str = "",
        not_before: float | None = None,
    ) -> None:
        super().__init__(
            message, status=status, error_type=error_type, metrika_message=metrika_message
        )
        self.not_before = not_before


class MetrikaNotReady(MetrikaWait):
    """The counter takes no uploads yet (too new): Metrica names the date it will."""

    code = "metrika-not-ready"


class MetrikaDailyQuota(MetrikaWait):
    """A daily request quota is spent (per user or per counter): ask again much later."""

    code = "metrika-daily-quota"


class RetryLater(MetrikaOfflineError):
    """Not done, and not a failure: the event should be delivered again later.

    The job state records how far the work got, so the next delivery resumes there.
    """


class MetrikaRetryableError(MetrikaError, RetryLater):
    """Worth another try later."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        error_type: str = "",
        metrika_message: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(
            message, status=status, error_type=error_type, metrika_message=metrika_message
        )
        self.retry_after_s = retry_after_s


class MetrikaQuotaError(MetrikaRetryableError):
    """A Metrica quota was hit; `retry_after_s` says how long to wait when Metrica said."""


class MetrikaTransientError(MetrikaRetryableError):
    """A 5xx answer, a timeout or a broken connection."""


class MetrikaAmbiguousError(MetrikaTransientError):
    """The request body was sent but no answer came back: the upload may exist."""


class ClaimHeld(RetryLater):
    """Another worker holds a live lease on this job; the event should be retried later."""


class DeadlineReached(RetryLater):
    """The invocation is close to its time limit and hands the work over."""
