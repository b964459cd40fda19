"""Where the checker's output goes in the object store: parts under the work prefix, rejected
rows beside the source. Both marked with their role, so their own events are skipped."""

from __future__ import annotations

from metrika_offline.check.checker import PartWriter
from metrika_offline.flow.ledger.keys import StagedKeys
from metrika_offline.flow.record.layout import Role, marked
from metrika_offline.store.base import ObjectStore, Writer
from metrika_offline.store.streams import WriteBehind


class StorePartSink:
    """The checker's part sink: parts as objects under one prefix, marked as ours."""

    def __init__(self, store: ObjectStore, prefix: str, keys: StagedKeys | None = None) -> None:
        self.store = store
        self.prefix = prefix
        self.keys = keys  # the parts' row keys for the ledger, dropped with them
        self.written: list[str] = []

    def open_part(self, index: int, name: str) -> PartWriter:  # noqa: ARG002 (the name says it)
        object_name = self.prefix + name
        self.written.append(object_name)
        # Sent on a thread of its own while the checker goes on.
        return WriteBehind(
            self.store.open_write(object_name, content_type="text/csv", metadata=marked(Role.PART))
        )

    def discard(self) -> None:
        for object_name in self.written:
            self.store.delete(object_name)
        self.written.clear()
        if self.keys is not None:
            self.keys.discard()


class LazyRejects:
    """Opens the rejected-rows object only when the first rejected row comes."""

    def __init__(self, store: ObjectStore, name: str) -> None:
        self.store = store
        self.name = name
        self.opened = False

    def __call__(self) -> Writer:
        self.opened = True
        return self.store.open_write(
            self.name, content_type="text/csv", metadata=marked(Role.REJECTS)
        )
