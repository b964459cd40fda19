"""What a person watching the pipeline is told: long phases as they go, and notable events.

The function watches nothing (`QUIET`); the CLI passes a display that draws progress bars on a
terminal. The pipeline never imports one: it only calls this protocol.
"""

from __future__ import annotations

from typing import Protocol


class Meter(Protocol):
    """One long phase: bytes done so far, and rows when they are counted (None: unchanged)."""

    def update(self, done: int | None = None, rows: int | None = None) -> None: ...

    def close(self) -> None: ...


class Observer(Protocol):
    def phase(self, label: str, total: int | None, *, rows: int | None = None) -> Meter:
        """A phase begins; `total` bytes when known, and its rows when known beforehand."""

    def note(self, message: str) -> None:
        """Something a person should know (a part found by its marker, a resumed job)."""


class _NoMeter:
    def update(self, done: int | None = None, rows: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class _Quiet:
    def phase(
        self,
        label: str,  # noqa: ARG002 (nobody watches)
        total: int | None,  # noqa: ARG002
        *,
        rows: int | None = None,  # noqa: ARG002
    ) -> Meter:
        return _NoMeter()

    def note(self, message: str) -> None:
        pass


QUIET: Observer = _Quiet()
