"""The object store seam: what the pipeline needs from Cloud Storage, and nothing more.

Generations are the concurrency primitive: `if_generation_match=0` creates only if absent,
`if_generation_match=<gen>` replaces only that generation (compare-and-swap). A lost race
raises `PreconditionFailed`; a missing object raises `ObjectNotFound` (or returns None where
the signature says so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """One generation of one object."""

    bucket: str
    name: str
    generation: int
    size: int
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = ""


@runtime_checkable
class Writer(Protocol):
    """A writable binary stream; `close()` commits the object."""

    def write(self, data: bytes, /) -> int: ...

    def close(self) -> None: ...


@runtime_checkable
class Reader(Protocol):
    """A readable binary stream."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class ObjectStore(Protocol):
    """One bucket (or a local folder that behaves like one)."""

    @property
    def bucket(self) -> str: ...

    def stat(self, name: str) -> ObjectInfo | None:
        """The live generation's metadata, or None when there is no such object."""

    def read_bytes(self, name: str) -> tuple[bytes, int] | None:
        """A small object's content and the generation it was read at; None when absent."""

    def open_read(self, name: str, generation: int | None = None) -> Reader:
        """Stream an object (a given generation, or the live one); ObjectNotFound if gone."""

    def write_bytes(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> int:
        """Write a small object and return its new generation.

        `if_generation_match=0`: only if absent; `=<gen>`: only if that is the live generation.
        Raises PreconditionFailed otherwise.
        """

    def open_write(
        self,
        name: str,
        *,
        content_type: str = "text/csv",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> Writer:
        """Stream a large object in; it exists once `close()` returns.

        `if_generation_match` is checked when `close()` commits (PreconditionFailed then).
        """

    def delete(self, name: str, *, if_generation_match: int | None = None) -> None:
        """Delete the live generation; absent objects are not an error."""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every live object whose name starts with `prefix`, in name order."""
