"""The index of parts that wait for a time, and their dispatch when it comes.

A part waits (`PartState.WAITING`, `Part.wait`) when Metrica says "not now": a counter not
ready for offline conversions until a date, or a daily request quota spent. One tiny object
per waiting part under `WORK/waiting/<name>/<generation>/part-NNNNN.json`, its time in its
metadata, lets the follow-up (`poll_uploads`) find the parts whose time has come from one
listing and dispatch each again: it rewrites the part's dispatch object, whose finalize event
uploads it (looking its marker up first). The entry is removed when it is dispatched (only if
nobody rewrote it since), and when the part is uploaded or fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import msgspec

from metrika_offline.errors import PreconditionFailed
from metrika_offline.flow import codec
from metrika_offline.flow.layout import ROLE_KEY, Role, WorkLayout, marked
from metrika_offline.logs import get_logger
from metrika_offline.store.base import ObjectStore

log = get_logger("waiting")

__all__ = ["DispatchOrder", "WaitingPart", "add_waiting", "dispatch_due", "drop_waiting"]


@dataclasses.dataclass(frozen=True)
class WaitingPart:
    source: str
    generation: int
    part: int
    not_before: float  # Unix seconds
    code: str


@dataclasses.dataclass(frozen=True)
class DispatchOrder:
    """The content of a dispatch object: which part of which job to upload."""

    source: str
    generation: int
    part: int


def add_waiting(store: ObjectStore, layout: WorkLayout, entry: WaitingPart) -> None:
    """Record (or move on) a waiting part's time."""
    fields = {k: str(v) for k, v in dataclasses.asdict(entry).items()}
    store.write_bytes(
        layout.waiting(entry.source, entry.generation, entry.part),
        msgspec.json.encode(fields),
        content_type="application/json",
        metadata=marked(Role.WAITING, **fields),
    )


def drop_waiting(store: ObjectStore, layout: WorkLayout, source: str, generation: int,
                 part: int) -> None:  # fmt: skip
    store.delete(layout.waiting(source, generation, part))


def _entries(store: ObjectStore, layout: WorkLayout) -> Iterator[tuple[WaitingPart, str, int]]:
    for info in store.list(layout.waiting_prefix):
        fields = {k: v for k, v in info.metadata.items() if k != ROLE_KEY}
        try:
            yield codec.from_fields(fields, WaitingPart), info.name, info.generation
        except msgspec.ValidationError as exc:
            log.warning("unreadable waiting entry %s: %s", info.name, exc)


def dispatch_due(store: ObjectStore, layout: WorkLayout, now: float) -> int:
    """Dispatch again every waiting part whose time has come; how many were."""
    dispatched = 0
    for entry, name, generation in _entries(store, layout):
        if entry.not_before > now:
            continue
        order = DispatchOrder(entry.source, entry.generation, entry.part)
        store.write_bytes(
            layout.dispatch(entry.source, entry.generation, entry.part),
            codec.encode_json(order),
            content_type="application/json",
            metadata=marked(Role.DISPATCH),
        )
        with contextlib.suppress(PreconditionFailed):  # the part waits again: keep its entry
            store.delete(name, if_generation_match=generation)
        log.info(
            "a waiting part's time came: dispatched again",
            extra={"object": entry.source, "generation": str(entry.generation),
                   "part": entry.part, "code": entry.code},
        )  # fmt: skip
        dispatched += 1
    return dispatched
