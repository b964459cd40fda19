"""Small shared vocabulary: conversion types and the limits Metrica sets."""

from __future__ import annotations

import dataclasses
import enum

#: Metrica refuses files over 1 GB. We read "GB" as the smaller of 10**9 and 2**30.
METRIKA_MAX_FILE_BYTES = 1_000_000_000

#: Room left for the multipart envelope (boundaries, part headers) around a part.
MULTIPART_ENVELOPE_BYTES = 1_048_576

#: Default part size: just under the limit, leaving room for the envelope.
DEFAULT_MAX_PART_BYTES = METRIKA_MAX_FILE_BYTES - MULTIPART_ENVELOPE_BYTES

#: Metrica answers at most this many concurrent requests per user.
METRIKA_PARALLEL_REQUESTS = 3


class ConversionType(enum.StrEnum):
    """The `type` query parameter of the upload call."""

    BASIC = "BASIC"
    CALLS = "CALLS"
    CHATS = "CHATS"

    @classmethod
    def parse(cls, value: str) -> ConversionType:
        """Accept any case (`calls`, `Calls`); raise ValueError naming the choices."""
        try:
            return cls(value.strip().upper())
        except ValueError:
            choices = ", ".join(t.value for t in cls)
            raise ValueError(
                f"unknown conversion type {value!r}: expected one of {choices}"
            ) from None


class UnknownGoals(enum.StrEnum):
    """What a Target that names no goal of the counter is: a warning (rows kept) or an error."""

    WARNING = "warning"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class GoalCondition:
    """One condition of a goal: its match type (`exact`, `contain`, `start`, `regexp`,
    `action`) and the value matched (for a JavaScript-event goal, its identifier)."""

    type: str
    url: str


@dataclasses.dataclass(frozen=True)
class Goal:
    """A counter's goal as the Management API lists it (what the Target check needs)."""

    id: int
    name: str
    type: str  # `action` for a JavaScript-event goal
    conditions: tuple[GoalCondition, ...] = ()

    @property
    def is_javascript_event(self) -> bool:
        """True for the goals a Target names: JavaScript-event (`action`) goals."""
        return self.type == "action"
