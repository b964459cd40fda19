"""Everything that reached the fake, in order: what tests assert on. Never the token: a short
hash of it (`token_sha`)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any


@dataclasses.dataclass(frozen=True)
class JournalEntry:
    """One request that reached the fake."""

    method: str
    path: str
    endpoint: str
    counter_id: int | None
    type: str | None
    comment: str | None
    filename: str | None
    bytes: int
    rows: int
    columns: tuple[str, ...]
    bom: bool  # the file started with a UTF-8 byte order mark (accepted)
    uploading_id: int | None
    fault: str  # "", "status", "drop", "slow", or "client_closed" when the body never finished
    token_sha: str  # the first 12 hex digits of the token's SHA-256 ("" without a token)
    query: tuple[tuple[str, str], ...]  # the query parameters, as sent
    limit: int | None  # `uploadings`: the page size asked for
    status: int  # the HTTP status answered; 0 when no answer was sent
    error_type: str
    message: str

    @property
    def recorded(self) -> bool:
        """An upload Metrica kept (answered or not): it has an uploading id."""
        return self.endpoint == "upload" and self.uploading_id is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Request:
    """What one request turned into, filled in as it is handled; journaled once."""

    method: str
    path: str
    endpoint: str = "unknown"
    counter_id: int | None = None
    type: str | None = None
    comment: str | None = None
    filename: str | None = None
    bytes: int = 0
    rows: int = 0
    columns: tuple[str, ...] = ()
    bom: bool = False
    uploading_id: int | None = None
    fault: str = ""
    token_sha: str = ""
    query: tuple[tuple[str, str], ...] = ()
    limit: int | None = None
    journaled: bool = False


class Journal:
    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []
        self._lock = threading.Lock()

    def record(self, request: Request, status: int, error_type: str, message: str) -> None:
        request.journaled = True
        fields = dataclasses.asdict(request)
        del fields["journaled"]
        entry = JournalEntry(**fields, status=status, error_type=error_type, message=message)
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)
