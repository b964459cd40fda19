"""The index of uploads whose final status Metrica has not told us yet.

One tiny object per upload under `WORK/pending/<counter>/<uploading id>.json`, written when a
part is uploaded and deleted when its status is final, so the follow-up lists a short prefix
instead of the whole bucket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from metrika_offline.errors import PreconditionFailed
from metrika_offline.store.base import OUTPUT_MARKER_KEY, ObjectStore

if TYPE_CHECKING:
    from metrika_offline.flow.jobs import Job


@dataclasses.dataclass(frozen=True)
class PendingUpload:
    counter_id: int
    uploading_id: int
    source: str
    generation: int
    part: int
    since: float  # Unix seconds when the part was uploaded
    object_name: str = ""  # the index entry itself

    def to_json(self) -> dict[str, object]:
        return {
            "counter_id": self.counter_id,
            "uploading_id": self.uploading_id,
            "source": self.source,
            "generation": str(self.generation),
            "part": self.part,
            "since": self.since,
        }


def pending_prefix(work_prefix: str) -> str:
    return f"{work_prefix}pending/"


def add_pending(
    store: ObjectStore, work_prefix: str, job: Job, part: int, uploading_id: int
) -> None:
    counter = int(job.routing["counter_id"])
    entry = PendingUpload(
        counter, uploading_id, job.source.name, job.source.generation, part, job.updated_at
    )
    fields = entry.to_json()
    with contextlib.suppress(PreconditionFailed):  # indexed already by an earlier attempt
        store.write_bytes(
            f"{pending_prefix(work_prefix)}{counter}/{uploading_id}.json",
            json.dumps(fields).encode(),
            content_type="application/json",
            # The same fields as metadata: listing the prefix then tells everything, without
            # downloading every entry on every poll round.
            metadata={OUTPUT_MARKER_KEY: "pending", **{k: str(v) for k, v in fields.items()}},
            if_generation_match=0,
        )


def list_pending(store: ObjectStore, work_prefix: str) -> Iterator[PendingUpload]:
    """Every upload waiting for Metrica's final word, from one listing."""
    for info in store.list(pending_prefix(work_prefix)):
        meta = info.metadata
        yield PendingUpload(
            counter_id=int(meta["counter_id"]),
            uploading_id=int(meta["uploading_id"]),
            source=meta["source"],
            generation=int(meta["generation"]),
            part=int(meta["part"]),
            since=float(meta["since"]),
            object_name=info.name,
        )
