"""Every Management API path the client calls, spelled once."""

from __future__ import annotations

__all__ = ["counter", "counters", "goals", "offline_conversions"]

_COUNTER = "/management/v1/counter/{counter_id}"


def offline_conversions(counter_id: int, tail: str) -> str:
    """`…/counter/{id}/offline_conversions/{tail}`."""
    return _COUNTER.format(counter_id=int(counter_id)) + "/offline_conversions/" + tail


def goals(counter_id: int) -> str:
    """`…/counter/{id}/goals`."""
    return _COUNTER.format(counter_id=int(counter_id)) + "/goals"


def counter(counter_id: int) -> str:
    """`…/counter/{id}`: the counter itself."""
    return _COUNTER.format(counter_id=int(counter_id))


def counters() -> str:
    """`…/counters`: the counters the token's account reaches."""
    return "/management/v1/counters"
