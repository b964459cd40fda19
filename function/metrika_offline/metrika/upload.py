"""One part's upload, in named steps: check the request, send, and after an ambiguous send,
look the part's marker up before sending again, adopting what is found.

    attempt 1:  send ──────────────── answer → the uploading
                  └─ no answer, a 5xx or a 408 after the body went out (ambiguous)
    attempt 2:  look up the marker ── found → adopt it, send nothing
                  └─ not found → send again

Without a marker an ambiguous failure is raised rather than risk a duplicate.
"""

from __future__ import annotations

import dataclasses

from metrika_offline.errors import MetrikaAmbiguousError
from metrika_offline.logs import get_logger
from metrika_offline.metrika import paths
from metrika_offline.metrika.body import PartOpener, multipart_body
from metrika_offline.metrika.lookups import find_by_marker_once
from metrika_offline.metrika.marker import comment_has_marker
from metrika_offline.metrika.models import Uploading, parse_uploading
from metrika_offline.metrika.readiness import threshold_params
from metrika_offline.metrika.transport import Transport
from metrika_offline.types import ConversionType

__all__ = ["PartUpload", "UploadRequest"]

_log = get_logger("metrika")


@dataclasses.dataclass(frozen=True)
class UploadRequest:
    """What to send: one part of `size` bytes, its type, comment and marker."""

    counter_id: int
    type: ConversionType
    comment: str
    size: int
    marker: str | None
    filename: str
    since: float | None = None  # no later than the part's first attempt (the search may stop)
    ignore_visit_join_threshold: bool = False  # send to a counter that is not ready yet

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size must not be negative")
        if self.marker is not None and not comment_has_marker(self.comment, self.marker):
            # A marker the comment does not carry could never be found: a retry would duplicate.
            raise ValueError("the comment must carry the marker (build it with make_comment)")


class PartUpload:
    """The attempts of one part's upload; give `attempt` to a Retrier."""

    def __init__(self, transport: Transport, request: UploadRequest, opener: PartOpener) -> None:
        self._transport = transport
        self._request = request
        self._opener = opener
        self._look_up_first = False

    @property
    def may_retry_ambiguous(self) -> bool:
        """Only with a marker can an unanswered send be looked up before sending again."""
        return self._request.marker is not None

    def attempt(self) -> Uploading:
        """Adopt the upload an unanswered attempt made, else send the part."""
        if self._look_up_first:
            # Cleared only once the look-up has answered: a failed look-up is made again.
            adopted = self._adopt_earlier()
            self._look_up_first = False
            if adopted is not None:
                return adopted
        try:
            return self._send()
        except MetrikaAmbiguousError:
            self._look_up_first = True
            raise

    def _adopt_earlier(self) -> Uploading | None:
        request = self._request
        if request.marker is None:
            return None
        found = find_by_marker_once(
            self._transport, request.counter_id, request.marker, request.type, since=request.since
        )
        if found is not None:
            _log.info(
                "adopted the upload an unanswered attempt had made",
                extra={"counter_id": request.counter_id, "uploading_id": found.id},
            )
        return found

    def _send(self) -> Uploading:
        request = self._request
        params = {"type": request.type.value, "comment": request.comment}
        if request.ignore_visit_join_threshold:
            params.update(threshold_params(request.type.value))
        path = paths.offline_conversions(request.counter_id, "upload")
        with self._opener() as stream:
            body = multipart_body(stream, request.size, request.filename)
            answer = self._transport.call("POST", path, params=params, body=body)
        # A 200 we cannot read may still stand for an upload that exists.
        return parse_uploading(answer.get("uploading"), ambiguous=True)
