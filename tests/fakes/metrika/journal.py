"""Everything that reached the fake, in order: what tests assert on. Never the token: a short
hash of it (`token_sha`)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any


@dataclasses.dataclass(frozen=True)
class JournalEntry:
    """One request that reached the fake, filled in as it is handled."""

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
    bom: bool = False  # the file started with a UTF-8 byte order mark (accepted)
    uploading_id: int | None = None
    fault: str = ""  # "", "status", "drop", "slow", or "client_closed" when the body never ended
    token_sha: str = ""  # the first 12 hex digits of the token's SHA-256 ("" without a token)
    query: tuple[tuple[str, str], ...] = ()  # the query parameters, as sent
    limit: int | None = None  # `uploadings`: the page size asked for
    status: int = 0  # the HTTP status answered; 0 when no answer was sent
    error_type: str = ""
    message: str = ""

    @property
    def recorded(self) -> bool:
        """An upload Metrica kept (answered or not): it has an uploading id."""
        return self.endpoint == "upload" and self.uploading_id is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Journal:
    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)
