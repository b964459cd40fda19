"""The API's routes: which endpoint a path is, who may ask, and the order in which a request
meets the quotas, the scripted faults and the gates.

    POST {prefix}/upload?type=&comment=[&ignore_visit_join_threshold=1 | &ignore_calls_…=1]
    GET  {prefix}/uploading/{id}
    GET  {prefix}/uploadings?limit=&offset=&type=    one type, oldest first, limit up to 10000
    GET  {prefix}/visit_join_threshold
    with {prefix} = /management/v1/counter/{counterId}/offline_conversions
    GET  /management/v1/counter/{counterId}          the counter, with `permission`
    GET  /management/v1/counters                     the counters the token reaches
    GET  /management/v1/counter/{counterId}/goals    the goals scripted for the counter

A missing OAuth header is 401, an unknown token `403 invalid_token`, a counter the token may
not see `403 access_denied`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from tests.fakes.metrika.faults import Fault
from tests.fakes.metrika.rules import (
    ACCESS_DENIED_MESSAGE,
    INVALID_TOKEN_MESSAGE,
    LIST_LIMIT,
    NOT_FOUND_MESSAGE,
    TYPES,
    UNAUTHORIZED_MESSAGE,
    WRONG_PARAMETER_MESSAGE,
)
from tests.fakes.metrika.server import DROPPED, Answer, Incoming, ok, refusal
from tests.fakes.metrika.state import State
from tests.fakes.metrika.upload import upload

_PATHS = (
    re.compile(
        r"^/management/v1/counter/(?P<counter>\d+)/offline_conversions/"
        r"(?P<endpoint>upload|uploadings|visit_join_threshold|uploading)(/(?P<id>\d+))?/?$"
    ),
    re.compile(r"^/management/v1/counter/(?P<counter>\d+)/(?P<endpoint>goals)/?$"),
    re.compile(r"^/management/v1/(?P<endpoint>counter)/(?P<counter>\d+)/?$"),
    re.compile(r"^/management/v1/(?P<endpoint>counters)/?$"),
)


def answer(state: State, incoming: Incoming) -> Answer:
    query = incoming.query
    match = next((m for m in (p.match(incoming.entry.path) for p in _PATHS) if m), None)
    groups = match.groupdict() if match is not None else {}
    if not groups or (groups["endpoint"] == "uploading") != bool(groups.get("id")):
        incoming.body.drain()
        return refusal(404, "not_found", NOT_FOUND_MESSAGE)
    endpoint = groups["endpoint"]
    incoming.entry = replace(
        incoming.entry,
        endpoint=endpoint,
        counter_id=int(groups["counter"]) if groups.get("counter") else None,
        query=tuple(sorted(query.items())),
        type=query.get("type", "BASIC") if endpoint == "upload" else None,
        comment=query.get("comment") if endpoint == "upload" else None,
    )
    auth = incoming.headers.get("Authorization", "")
    if not auth:
        incoming.body.drain()
        return refusal(401, "unauthorized", UNAUTHORIZED_MESSAGE)
    token = incoming.token
    if auth.partition(" ")[0].lower() != "oauth" or not state.counters.token_ok(token):
        incoming.body.drain()
        return refusal(403, "invalid_token", INVALID_TOKEN_MESSAGE)
    token_sha = hashlib.sha256(token.encode()).hexdigest()[:12]
    incoming.entry = replace(incoming.entry, token_sha=token_sha)
    in_flight = state.quotas.arrive(token)
    try:
        return _admitted(state, incoming, token, in_flight, groups.get("id"))
    finally:
        state.quotas.leave(token)


def _admitted(
    state: State, incoming: Incoming, token: str, in_flight: int, uploading_id: str | None
) -> Answer:
    """Quotas, access, the scripted fault, the endpoint, then the gate."""
    counter_id, endpoint = incoming.entry.counter_id, incoming.entry.endpoint
    spent = state.quotas.refusal(token, in_flight, counter_id)
    if spent is not None:
        incoming.body.drain()
        return refusal(429, *spent)
    if counter_id is not None and not state.counters.counter_ok(token, counter_id):
        incoming.body.drain()
        return refusal(403, "access_denied", ACCESS_DENIED_MESSAGE)
    fault = state.script.take(endpoint)
    if fault is not None:
        incoming.entry = replace(incoming.entry, fault=fault.kind)
    if fault is not None and fault.kind == "status" and not fault.made:
        incoming.body.drain()
        return _scripted(fault)
    reply = _endpoint(state, incoming, token, uploading_id)
    if fault is not None and fault.kind == "status":  # made: handled, then refused
        return _scripted(fault)
    if fault is not None and fault.kind == "drop":
        incoming.record(DROPPED, "connection dropped after the body was received")
        return DROPPED
    # A held or slow request is journaled as soon as it was handled: a test sees what
    # arrived while the answer is still on its way.
    incoming.record(reply)
    gate = state.script.gate_for(endpoint)
    if gate is not None:
        gate.park()
    if fault is not None and fault.kind == "slow":
        state.script.stopping.wait(fault.delay_s)
    return reply


def _scripted(fault: Fault) -> Answer:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
    return refusal(fault.status, fault.error_type, fault.message, headers)


def _endpoint(state: State, incoming: Incoming, token: str, uploading_id: str | None) -> Answer:
    endpoint = incoming.entry.endpoint
    if incoming.entry.method != ("POST" if endpoint == "upload" else "GET"):
        incoming.body.drain()
        return refusal(405, "invalid_parameter", "method not allowed")
    if endpoint == "upload":
        return upload(state, incoming)
    incoming.body.drain()
    counter_id = incoming.entry.counter_id or 0
    if endpoint == "goals":
        return ok({"goals": state.counters.goals(counter_id)})
    if endpoint == "counter":
        options = state.readiness.offline_options(counter_id)
        return ok({"counter": state.counters.info(counter_id, options)})
    if endpoint == "counters":
        counters = [
            state.counters.info(c, state.readiness.offline_options(c))
            for c in sorted(state.reachable(token))
        ]
        return ok({"rows": len(counters), "counters": counters})
    if endpoint == "uploading":
        found = state.uploads.uploading(int(uploading_id or 0), counter_id)
        if found is None:
            return refusal(404, "not_found", NOT_FOUND_MESSAGE)
        incoming.entry = replace(incoming.entry, uploading_id=found["id"])
        return ok({"uploading": found})
    if endpoint == "uploadings":
        return _uploadings(state, incoming)
    return ok({"date": state.readiness.threshold(counter_id)})


def _uploadings(state: State, incoming: Incoming) -> Answer:
    query = incoming.query
    kind = query.get("type") or None
    try:
        limit = int(query.get("limit") or LIST_LIMIT)
        offset = int(query.get("offset") or 0)
    except ValueError:
        limit = offset = -1
    if (kind is not None and kind not in TYPES) or not 1 <= limit <= LIST_LIMIT or offset < 0:
        return refusal(400, "invalid_parameter", WRONG_PARAMETER_MESSAGE)
    incoming.entry = replace(incoming.entry, type=kind, limit=limit)
    items = state.uploads.listing(incoming.entry.counter_id or 0, kind)[offset : offset + limit]
    return ok({"uploadings": items})
