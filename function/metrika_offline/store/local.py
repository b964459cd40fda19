"""The object store on a local folder, for `metrika-offline process FILE`.

Every file under `root` is an object named by its path relative to `root` (with `/`). What
Cloud Storage keeps beside an object (generation, custom metadata, content type) is kept in
a sidecar JSON file under a hidden folder (`meta_dir`, `.localstore` unless told otherwise:
the CLI keeps it inside its own work folder), which is never listed.

Generations are integers that only grow: a write takes the larger of the clock in
nanoseconds and one more than anything this process has handed out or seen, so an object
deleted and written again never gets an old number back. A file without a sidecar (dropped
there by a person), or changed behind the store's back (its size or mtime no longer match
the sidecar), has its mtime in nanoseconds as generation and no metadata.

Unlike a bucket, a folder cannot hold both `a` and `a/b`: the second write raises StoreError.

Create-only and compare-and-swap hold within one process: every check-and-replace runs under
one lock per folder, and content and sidecar are written to temporary files and moved into
place with `os.replace`. Two processes writing the same folder are NOT coordinated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

from metrika_offline.errors import ObjectNotFound, PreconditionFailed, StoreError
from metrika_offline.store.base import ObjectInfo

META_DIR: Final = ".localstore"
_SIDECAR_SUFFIX: Final = ".json"

_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()
_last_generation = 0
_generation_guard = threading.Lock()


def _folder_lock(root: Path) -> threading.RLock:
    """One lock per folder for the whole process, whichever store instance asks."""
    with _locks_guard:
        return _locks.setdefault(root, threading.RLock())


def _next_generation(at_least: int) -> int:
    global _last_generation  # noqa: PLW0603 (one counter for the process, by design)
    with _generation_guard:
        _last_generation = max(time.time_ns(), at_least + 1, _last_generation + 1)
        return _last_generation


@dataclasses.dataclass(frozen=True)
class _Sidecar:
    generation: int
    size: int
    mtime_ns: int
    metadata: Mapping[str, str]
    content_type: str

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self) | {"metadata": dict(self.metadata)}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> _Sidecar:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            generation=int(data["generation"]),
            size=int(data["size"]),
            mtime_ns=int(data["mtime_ns"]),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            content_type=str(data.get("content_type") or ""),
        )


class LocalWriter:
    """Writes into a temporary file; `close()` moves it into place (under the folder lock).

    `abort()` (or leaving a `with` block on an exception) drops the temporary file.
    """

    def __init__(
        self,
        store: LocalStore,
        name: str,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        if_generation_match: int | None,
    ) -> None:
        self._store = store
        self._name = name
        self._content_type = content_type
        self._metadata = dict(metadata or {})
        self._if_generation_match = if_generation_match
        self._file: IO[bytes] = store._temp_file()
        self._done = False
        self.generation: int | None = None

    def write(self, data: bytes, /) -> int:
        return self._file.write(data)

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        self._file.close()
        self.generation = self._store._commit(
            self._name,
            Path(self._file.name),
            content_type=self._content_type,
            metadata=self._metadata,
            if_generation_match=self._if_generation_match,
        )

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._file.close()
        Path(self._file.name).unlink(missing_ok=True)

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class LocalStore:
    """A folder that behaves like one bucket (see the module docstring for the limits)."""

    def __init__(self, root: Path, bucket: str = "local", *, meta_dir: str = META_DIR) -> None:
        self._root = Path(root).resolve()
        self._bucket = bucket
        self._meta_name = meta_dir.strip("/")
        if not self._meta_name or any(p in ("", ".", "..") for p in self._meta_name.split("/")):
            raise StoreError(f"not a usable folder for the store's own files: {meta_dir!r}")
        self._meta = self._root.joinpath(*self._meta_name.split("/"))
        self._lock = _folder_lock(self._root)

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def root(self) -> Path:
        return self._root

    # --- names and sidecars --------------------------------------------------------------

    def _path(self, name: str) -> Path:
        parts = name.split("/")
        if (
            not name
            or name.startswith("/")
            or any(part in ("", ".", "..") for part in parts)
            or name == self._meta_name
            or name.startswith(self._meta_name + "/")
        ):
            raise StoreError(f"not a usable object name here: {name!r}")
        return self._root.joinpath(*parts)

    def _sidecar_path(self, name: str) -> Path:
        return self._meta.joinpath("objects", *name.split("/")).with_name(
            name.rsplit("/", 1)[-1] + _SIDECAR_SUFFIX
        )

    def _temp_file(self) -> IO[bytes]:
        temp_dir = self._meta / "tmp"
        temp_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=temp_dir, delete=False)

    def _read_sidecar(self, name: str) -> _Sidecar | None:
        try:
            return _Sidecar.from_json(self._sidecar_path(name).read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError):
            return None  # a damaged sidecar: the file counts as changed behind our back

    def _info(self, name: str, st: os.stat_result) -> ObjectInfo:
        sidecar = self._read_sidecar(name)
        if sidecar is not None and (sidecar.size, sidecar.mtime_ns) == (st.st_size, st.st_mtime_ns):
            return ObjectInfo(
                bucket=self._bucket,
                name=name,
                generation=sidecar.generation,
                size=st.st_size,
                metadata=dict(sidecar.metadata),
                content_type=sidecar.content_type,
            )
        return ObjectInfo(
            bucket=self._bucket, name=name, generation=st.st_mtime_ns, size=st.st_size
        )

    def _stat_locked(self, name: str) -> ObjectInfo | None:
        try:
            st = self._path(name).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not os.path.isfile(self._path(name)):
            return None
        return self._info(name, st)

    @staticmethod
    def _check(info: ObjectInfo | None, if_generation_match: int | None, what: str) -> None:
        if if_generation_match is None:
            return
        live = info.generation if info is not None else 0
        if live != if_generation_match:
            raise PreconditionFailed(f"{what}: a generation precondition did not hold")

    def _label(self, name: str) -> str:
        return f"{self._root}/{name}"

    # --- the protocol --------------------------------------------------------------------

    def stat(self, name: str) -> ObjectInfo | None:
        with self._lock:
            return self._stat_locked(name)

    def read_bytes(self, name: str) -> tuple[bytes, int] | None:
        with self._lock:
            info = self._stat_locked(name)
            if info is None:
                return None
            return self._path(name).read_bytes(), info.generation

    def open_read(self, name: str, generation: int | None = None) -> IO[bytes]:
        with self._lock:
            info = self._stat_locked(name)
            if info is None or (generation is not None and info.generation != generation):
                raise ObjectNotFound(f"read {self._label(name)}: not found")
            # An open file keeps reading this version even if a write replaces the name.
            return self._path(name).open("rb")

    def write_bytes(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> int:
        self._path(name)  # refuse a bad name before writing anything
        with self._temp_file() as temp:
            temp.write(data)
        return self._commit(
            name,
            Path(temp.name),
            content_type=content_type,
            metadata=dict(metadata or {}),
            if_generation_match=if_generation_match,
        )

    def open_write(
        self,
        name: str,
        *,
        content_type: str = "text/csv",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> LocalWriter:
        self._path(name)
        return LocalWriter(
            self,
            name,
            content_type=content_type,
            metadata=metadata,
            if_generation_match=if_generation_match,
        )

    def delete(self, name: str, *, if_generation_match: int | None = None) -> None:
        with self._lock:
            info = self._stat_locked(name)
            if info is None:
                return
            self._check(info, if_generation_match, f"delete {self._label(name)}")
            self._path(name).unlink()
            self._sidecar_path(name).unlink(missing_ok=True)
            self._prune(self._path(name).parent, self._root)
            self._prune(self._sidecar_path(name).parent, self._meta)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        # Walk only below the folder the prefix names; sort as Cloud Storage does (by name).
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._root.joinpath(*folder.split("/")) if folder else self._root
        names: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            rel = Path(dirpath).relative_to(self._root).as_posix()
            base = "" if rel == "." else rel + "/"
            dirnames[:] = [d for d in dirnames if base + d != self._meta_name]
            names += [base + f for f in filenames if (base + f).startswith(prefix)]
        for name in sorted(names):
            info = self.stat(name)
            if info is not None:
                yield info

    # --- committing ------------------------------------------------------------------------

    def _commit(
        self,
        name: str,
        temp: Path,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_generation_match: int | None,
    ) -> int:
        target = self._path(name)
        try:
            with self._lock:
                info = self._stat_locked(name)
                self._check(info, if_generation_match, f"write {self._label(name)}")
                sidecar_path = self._sidecar_path(name)
                previous = self._read_sidecar(name)
                generation = _next_generation(
                    max(info.generation if info else 0, previous.generation if previous else 0)
                )
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(temp, target)
                except OSError as exc:  # e.g. `a/b` while a file `a` exists
                    raise StoreError(f"write {self._label(name)}: {exc}") from exc
                st = target.stat()
                sidecar = _Sidecar(
                    generation=generation,
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    metadata=dict(metadata),
                    content_type=content_type,
                )
                sidecar_path.parent.mkdir(parents=True, exist_ok=True)
                with self._temp_file() as side:
                    side.write(sidecar.to_json())
                os.replace(side.name, sidecar_path)
                return generation
        finally:
            temp.unlink(missing_ok=True)

    @staticmethod
    def _prune(folder: Path, stop: Path) -> None:
        """Remove folders left empty by a delete, up to (not including) `stop`."""
        while folder != stop and stop in folder.parents:
            with contextlib.suppress(OSError):
                folder.rmdir()
                folder = folder.parent
                continue
            return
