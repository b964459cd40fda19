"""Metrica's answers mapped onto the exception tree of `errors.py`.

    answer                                   raises                  the caller
    401, 403 invalid_token / access_denied   MetrikaAuthError        stops
    400, 404, 409, other 4xx, 3xx            MetrikaRejectedError    stops; Metrica's words verbatim
    400 "Загрузить данные сейчас невозможно" MetrikaNotReady         the part waits for the date
    429, 420, 403 quota_requests_by_uid,     MetrikaDailyQuota       the part waits QUOTA_RETRY_S
      quota_requests_by_counter_id
    429, 420, 403 other quota_*              MetrikaQuotaError       waits Retry-After (or backs
                                                                     off), then tries again
    5xx, 408, timeouts, connection errors    MetrikaTransientError   backs off, tries again
    the same after an upload body went out   MetrikaAmbiguousError   looks the upload up first

Network failures are described by their kind, never by the text of the underlying exception
(which can embed the request and its headers).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import requests

from metrika_offline.errors import (
    ConfigError,
    MetrikaAmbiguousError,
    MetrikaAuthError,
    MetrikaDailyQuota,
    MetrikaError,
    MetrikaNotReady,
    MetrikaQuotaError,
    MetrikaRejectedError,
    MetrikaRetryableError,
    MetrikaTransientError,
    MetrikaWait,
)
from metrika_offline.metrika.readiness import available_at, is_not_ready

__all__ = [
    "DAILY_QUOTAS",
    "error_class",
    "http_error",
    "network_error",
    "retry_after_s",
    "unreadable_answer",
]

#: Quotas that last the day: asking again within the run only spends requests.
DAILY_QUOTAS = frozenset({"quota_requests_by_uid", "quota_requests_by_counter_id"})


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_body(response: requests.Response) -> tuple[str, str]:
    """(error_type, message) from Metrica's error JSON, or ("", start of the raw text)."""
    try:
        data = response.json()
    except ValueError:
        return "", response.text[:300].strip()
    if not isinstance(data, dict):
        return "", ""
    error_type, message = "", str(data.get("message") or "")
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        error_type = str(errors[0].get("error_type") or "")
        message = str(errors[0].get("message") or message)
    return error_type, message


def error_class(
    status: int, error_type: str, message: str = "", *, sent_body: bool = False
) -> type[MetrikaError]:
    """Which MetrikaError an HTTP status, Metrica's `error_type` and message stand for.

    `sent_body`: the request carried an upload body. A 5xx or 408 then does not say that
    nothing happened (a 504 `timeout` is a request that ran too long), so it is ambiguous.
    """
    if status in (420, 429) or (status == 403 and error_type.startswith("quota")):
        return MetrikaDailyQuota if error_type in DAILY_QUOTAS else MetrikaQuotaError
    if status in (401, 403):
        return MetrikaAuthError
    if status >= 500 or status == 408:
        return MetrikaAmbiguousError if sent_body else MetrikaTransientError
    if is_not_ready(status, message):
        return MetrikaNotReady
    return MetrikaRejectedError


def http_error(
    response: requests.Response,
    endpoint: str,
    scrub: Callable[[str], str],
    *,
    sent_body: bool = False,
) -> MetrikaError:
    """The error for a non-2xx answer; `scrub` removes the token from Metrica's words.
    `sent_body`: the request carried an upload body (a 5xx may then stand for an upload)."""
    status = response.status_code
    error_type, message = _error_body(response)
    error_type, message = scrub(error_type), scrub(message)
    cls = error_class(status, error_type, message, sent_body=sent_body)
    described = " ".join(part for part in (str(status), error_type) if part)
    text = f"Metrica refused {endpoint}: {described}" + (f": {message}" if message else "")
    if 300 <= status < 400:
        text = f"Metrica answered {endpoint} with a redirect ({status}): check the API URL"
    if issubclass(cls, MetrikaWait):
        not_before = available_at(message) if cls is MetrikaNotReady else None
        return cls(
            text,
            status=status,
            error_type=error_type,
            metrika_message=message,
            not_before=not_before,
        )
    if issubclass(cls, MetrikaRetryableError):
        return cls(
            text,
            status=status,
            error_type=error_type,
            metrika_message=message,
            retry_after_s=retry_after_s(response.headers.get("Retry-After")),
        )
    return cls(text, status=status, error_type=error_type, metrika_message=message)


def network_error(
    exc: requests.RequestException, endpoint: str, *, body_sent: int | None
) -> MetrikaError | ConfigError:
    """The error for a request that got no answer; `body_sent` is None for bodiless calls."""
    what = type(exc).__name__
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return ConfigError(f"the Metrica API URL is not usable ({what})")
    if isinstance(exc, requests.ConnectTimeout) or not body_sent:
        return MetrikaTransientError(f"no answer from Metrica to {endpoint} ({what})")
    return MetrikaAmbiguousError(
        f"no answer from Metrica after the {endpoint} body was sent ({what}): "
        "it may have been accepted"
    )


def unreadable_answer(endpoint: str, status: int, *, sent_body: bool) -> MetrikaError:
    """A 2xx without a JSON object: after an upload body it may stand for an upload."""
    error = MetrikaAmbiguousError if sent_body else MetrikaTransientError
    return error(f"Metrica answered {endpoint} with {status} but no JSON object", status=status)
