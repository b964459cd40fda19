"""Cloud Storage client errors mapped onto the package's, in one place.

HTTP 412 becomes `PreconditionFailed`, 404 becomes `ObjectNotFound`; anything else the client
gives up on (5xx after its retries, timeouts, broken connections) becomes `StoreError`. The
client's error stays attached as the cause. Use `mapped(what)` around every client call:

    with mapped(f"read gs://{bucket}/{name}"):
        data = blob.download_as_bytes(...)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from google.api_core import exceptions as api_exceptions
from google.cloud.storage import exceptions as media_exceptions

from metrika_offline.errors import ObjectNotFound, PreconditionFailed, StoreError

#: What the client raises: API errors, resumable-media errors, and network errors (requests'
#: exceptions are OSErrors).
CLIENT_ERRORS: Final = (
    api_exceptions.GoogleAPIError,
    media_exceptions.InvalidResponse,
    media_exceptions.DataCorruption,
    OSError,
)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind a client error, when there was an answer."""
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.code
        return int(code) if code is not None else None
    if isinstance(exc, media_exceptions.InvalidResponse | media_exceptions.DataCorruption):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        return int(status) if status is not None else None
    return None


def translate(exc: BaseException, what: str) -> StoreError:
    """The package's exception for a client error."""
    status = status_of(exc)
    if status == 412:
        return PreconditionFailed(f"{what}: a generation precondition did not hold")
    if status == 404:
        return ObjectNotFound(f"{what}: not found")
    return StoreError(f"{what}: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def mapped(what: str) -> Iterator[None]:
    """Raise the package's exception for any client error inside the block."""
    try:
        yield
    except CLIENT_ERRORS as exc:
        raise translate(exc, what) from exc
