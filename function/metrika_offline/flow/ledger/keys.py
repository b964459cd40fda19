"""Writing the ledger: a part's row keys staged beside it while it is split, and the record
that its upload makes them count as sent."""

from __future__ import annotations

import json

from metrika_offline.check.sent import KeyWriter
from metrika_offline.errors import PreconditionFailed
from metrika_offline.flow.record.job import Job
from metrika_offline.flow.record.layout import LedgerLayout, Role, marked
from metrika_offline.store.base import ObjectStore


class StagedKeys:
    """The checker's `PartKeysSink`: each part's keys under `keys/`, dropped with the parts."""

    def __init__(self, store: ObjectStore, names: LedgerLayout, job: Job):
        self.store = store
        self.names = names
        self.source = job.source.name
        self.generation = job.source.generation
        self.job = job.key
        self.written: list[str] = []

    def open_keys(self, index: int) -> KeyWriter:
        name = self.names.keys(self.source, self.generation, index, self.job)
        self.written.append(name)
        fields = {
            "source": self.source,
            "generation": str(self.generation),
            "part": str(index),
            "job": self.job,
        }
        return self.store.open_write(
            name,
            content_type="application/octet-stream",
            metadata=marked(Role.LEDGER_KEYS, **fields),
        )

    def discard(self) -> None:
        for name in self.written:
            self.store.delete(name)
        self.written.clear()


def record_sent(
    store: ObjectStore, names: LedgerLayout, job: Job, index: int, *, now: float
) -> bool:
    """Write the `sent/` entry of an uploaded part, once (create-only: a second call finds it
    and does nothing). True when this call wrote it."""
    uploading = job.part(index).uploading
    fields = {
        "source": job.source.name,
        "generation": str(job.source.generation),
        "part": str(index),
        "job": job.key,
        "uploading_id": str(uploading.id) if uploading is not None else "",
        "sent_at": repr(now),
    }
    try:
        store.write_bytes(
            names.sent(job.source.name, job.source.generation, index, job.key),
            json.dumps(fields).encode(),
            content_type="application/json",
            metadata=marked(Role.LEDGER_SENT, **fields),
            if_generation_match=0,
        )
    except PreconditionFailed:
        return False
    return True
