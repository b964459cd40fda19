"""Metrica's answers as frozen values: the `uploading` object and its statuses."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from metrika_offline.errors import MetrikaAmbiguousError, MetrikaTransientError

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "CounterInfo",
    "Uploading",
    "as_int",
    "parse_counter",
    "parse_uploading",
]

#: Statuses after which an upload never changes again.
FINAL_STATUSES: Final = frozenset({"PROCESSED", "LINKAGE_FAILURE"})
#: Every status Metrica documents, in lifecycle order.
STATUSES: Final = ("PREPARED", "UPLOADED", "EXPORTED", "MATCHED", "PROCESSED", "LINKAGE_FAILURE")


@dataclasses.dataclass(frozen=True)
class Uploading:
    """Metrica's `uploading` object: one upload of one file, and what became of it."""

    id: int
    create_time: str
    source_quantity: int
    line_quantity: int
    comment: str
    type: str
    client_id_type: str | None
    status: str
    goal_not_found_quantity: int
    user_not_found_quantity: int
    linked_quantity: int

    @property
    def is_final(self) -> bool:
        """True once the status can no longer change (PROCESSED or LINKAGE_FAILURE)."""
        return self.status in FINAL_STATUSES

    @property
    def dropped_quantity(self) -> int:
        """Rows Metrica refused during its own validation (`source` minus `line` quantity)."""
        return max(0, self.source_quantity - self.line_quantity)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Uploading:
        """Parse Metrica's JSON; missing counters read as 0. ValueError if it is not one."""
        try:
            client_id_type = data.get("client_id_type")
            return cls(
                id=as_int(data["id"]),
                create_time=str(data.get("create_time") or ""),
                source_quantity=as_int(data.get("source_quantity", 0)),
                line_quantity=as_int(data.get("line_quantity", 0)),
                comment=str(data.get("comment") or ""),
                type=str(data.get("type") or ""),
                client_id_type=None if client_id_type is None else str(client_id_type),
                status=str(data.get("status") or ""),
                goal_not_found_quantity=as_int(data.get("goal_not_found_quantity", 0)),
                user_not_found_quantity=as_int(data.get("user_not_found_quantity", 0)),
                linked_quantity=as_int(data.get("linked_quantity", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a Metrica uploading object ({type(exc).__name__})") from None


def as_int(value: Any) -> int:
    """An integer from JSON; booleans and nulls are not numbers here."""
    if isinstance(value, bool) or value is None:
        raise TypeError("expected an integer")
    return int(value)


def parse_uploading(data: Any, *, ambiguous: bool) -> Uploading:
    """The `uploading` of an answer, or the error that says the answer was unreadable.

    `ambiguous`: the answer was to an upload, so an unreadable one may still stand for an
    upload that exists (MetrikaAmbiguousError); otherwise it is worth asking again.
    """
    try:
        if not isinstance(data, Mapping):
            raise ValueError("no uploading object")
        return Uploading.from_json(data)
    except ValueError:
        error = MetrikaAmbiguousError if ambiguous else MetrikaTransientError
        raise error("Metrica's answer holds no readable uploading object") from None


@dataclasses.dataclass(frozen=True)
class CounterInfo:
    """What the Management API says of a counter: who owns it and what this token may do."""

    id: int
    name: str
    site: str
    owner_login: str
    permission: str  # own, edit or view


def parse_counter(data: Any) -> CounterInfo:
    """A `counter` object; MetrikaTransientError if it is not one."""
    try:
        if not isinstance(data, Mapping):
            raise ValueError("no counter object")
        return CounterInfo(
            id=as_int(data["id"]),
            name=str(data.get("name") or ""),
            site=str(data.get("site") or data.get("site2", {}).get("site") or ""),
            owner_login=str(data.get("owner_login") or ""),
            permission=str(data.get("permission") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MetrikaTransientError("Metrica's answer holds no readable counter") from None
