"""The index of uploads whose final status Metrica has not told us yet.

One tiny object per upload under `WORK/pending/<counter>/<uploading id>.json`, written when a
part is uploaded and deleted when its status is final, so the follow-up lists a short prefix
instead of the whole bucket.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import msgspec

from metrika_offline.errors import PreconditionFailed
from metrika_offline.flow.record import codec
from metrika_offline.flow.record.layout import ROLE_KEY, Role, WorkLayout, marked
from metrika_offline.logs import get_logger
from metrika_offline.store.base import ObjectStore

log = get_logger("pending")


@dataclasses.dataclass(frozen=True)
class PendingUpload:
    counter_id: int
    uploading_id: int
    source: str
    generation: int
    part: int
    since: float  # Unix seconds when the part was uploaded
    type: str = ""  # the upload's type (BASIC, CALLS, CHATS); "" in entries written before it


@dataclasses.dataclass(frozen=True)
class PendingEntry:
    """One index entry as listed: the upload, and the object that records it."""

    upload: PendingUpload
    object_name: str


def add_pending(store: ObjectStore, layout: WorkLayout, entry: PendingUpload) -> None:
    fields = {k: str(v) for k, v in dataclasses.asdict(entry).items()}
    with contextlib.suppress(PreconditionFailed):  # indexed already by an earlier attempt
        store.write_bytes(
            layout.pending(entry.counter_id, entry.uploading_id),
            msgspec.json.encode(fields),
            content_type="application/json",
            # The fields as metadata: listing the prefix then tells everything, without
            # downloading every entry on every poll round.
            metadata=marked(Role.PENDING, **fields),
            if_generation_match=0,
        )


def list_pending(store: ObjectStore, layout: WorkLayout) -> Iterator[PendingEntry]:
    """Every upload waiting for Metrica's final word, from one listing."""
    for info in store.list(layout.pending_prefix):
        fields = {k: v for k, v in info.metadata.items() if k != ROLE_KEY}
        try:
            upload = codec.from_fields(fields, PendingUpload)
        except msgspec.ValidationError as exc:
            log.warning("unreadable pending entry %s: %s", info.name, exc)
            continue
        yield PendingEntry(upload, info.name)
