"""Where a command's file lives: a local file (a folder that acts as a bucket) or gs://.

A local file's result and rejected rows land beside it; everything else the pipeline keeps
(job state, parts, the store's own sidecars) goes into one folder beside it,
`.metrika-offline/`. Messages name local files by their local path, never as `gs://`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from metrika_offline.errors import ConfigError
from metrika_offline.flow.record.layout import LOCAL_WORK_PREFIX
from metrika_offline.store.base import ObjectStore

#: The one folder, beside a local file, that holds the pipeline's work files (job state,
#: parts) and, in its `store/`, what the local store keeps beside each object.
LOCAL_STORE_DIR = LOCAL_WORK_PREFIX + "store"


@dataclasses.dataclass(frozen=True)
class Target:
    store: ObjectStore
    name: str  # the object's name in the store
    folder: Path | None  # a local file's folder, as the user wrote it; None for gs://

    @property
    def is_local(self) -> bool:
        return self.folder is not None

    def show(self, name: str) -> str:
        """How a person finds `name` (an object next to the source): a path, or a gs:// URI."""
        if self.folder is not None:
            return str(self.folder / name)
        return f"gs://{self.store.bucket}/{name}"

    @property
    def shown(self) -> str:
        return self.show(self.name)


def open_target(source: str, *, local_only: bool = False) -> Target:
    """The store and object name for a command's FILE or gs://BUCKET/OBJECT."""
    if source.startswith("gs://"):
        if local_only:
            raise ConfigError(f"{source}: upload takes a local file; use process for gs://")
        bucket, _, name = source[len("gs://") :].partition("/")
        if not bucket or not name:
            raise ConfigError(f"expected gs://BUCKET/OBJECT, got {source!r}")
        from metrika_offline.store.gcs import GcsStore  # the storage client only when needed

        return Target(GcsStore.from_env(bucket), name, None)
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"no such file: {source}")
    from metrika_offline.store.local import LocalStore

    store = LocalStore(path.resolve().parent, meta_dir=LOCAL_STORE_DIR)
    return Target(store, path.name, path.parent)
