"""What a rerun on the same generation of a file does: a job's identity, and starting over.

A job is one generation of one file sent with one set of routing and check settings; `job_key`
is that set's fingerprint, kept in the job and mixed into every part's marker (other settings
make other parts). When a source event finds a job of its generation with another key, the
function finishes the job it began (`never`: a redelivered event after a redeploy must not send
again), while the CLI starts a new job (`on_change`: the flags are the user's word). A job
started over (also with `--force`) looks each part's marker up in Metrica before sending it,
since an earlier job with these very settings may have sent it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Literal

import msgspec

from metrika_offline.check.checker import CheckOptions
from metrika_offline.config import Settings
from metrika_offline.errors import PreconditionFailed
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import Job, Lease, Source
from metrika_offline.flow.record.result import routing_of
from metrika_offline.flow.record.route import Route
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.logs import get_logger

log = get_logger("pipeline")

Restart = Literal["never", "on_change"]

#: Check settings that came after jobs were first keyed (unset, they leave the key as it was).
_ADDED_LATER = ("duration_format",)


#: The choices whose default the key takes as the environment spells it: until they were
#: parsed into enums by the routing, a default was kept as spelt (`dmy`, `Drop-Row`), and
#: jobs keyed then keep their key.
_SPELT_DEFAULTS: Mapping[str, Callable[[Settings], str | None]] = {
    "date_order": lambda s: s.date_order or None,
    "duration_format": lambda s: s.duration_format or None,
    "on_bad_optional": lambda s: s.on_bad_optional,
    "chat_same_key": lambda s: s.chat_same_key,
}


def _same(raw: str | None, value: object) -> bool:
    """The environment's spelling names the value the route holds."""
    if raw is None or value is None:
        return raw is None and value is None
    return raw.strip().lower() == str(value).lower()


def job_key(routed: Route, options: CheckOptions, settings: Settings) -> str:
    """A fingerprint of everything that decides what a job sends: routing and check settings
    (the routing as the result shows it, the check options as they are, but `now`)."""
    check = {k: v for k, v in dataclasses.asdict(options).items() if k != "now"}
    shown = msgspec.to_builtins(routing_of(routed))
    routing = {k: v for k, v in shown.items() if k != "sources"}
    for field, spelt in _SPELT_DEFAULTS.items():
        raw, value = spelt(settings), routing[field]
        if routed.sources.get(field) == "default" and _same(raw, value):
            check[field] = routing[field] = raw
    # Settings added later count only once set, so that jobs begun before them keep their key.
    for added in _ADDED_LATER:
        for values in (check, routing):
            if values.get(added) is None:
                values.pop(added, None)
    if not routing.get("ignore_visit_join_threshold"):
        # Off is how every job was before the switch existed: their keys stay the same.
        routing.pop("ignore_visit_join_threshold", None)
    material = json.dumps({"routing": routing, "check": check}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def started_over_note(old: Job, new: Job, *, force: bool) -> str:
    """What a person is told when a job starts over."""
    sent = sum(1 for p in old.parts if p.uploading is not None)
    why = "--force" if force else "the settings differ from the last run's"
    before, after = old.routing, new.routing
    changed = [
        f"{field} {getattr(before, field)} -> {getattr(after, field)}"
        for field in ("counter_id", "type", "comment", "mode")
        if getattr(before, field) != getattr(after, field)
    ]
    detail = f" ({', '.join(changed)})" if changed else ""
    earlier = f"; the {sent} part(s) it uploaded before stay in Metrica" if sent else ""
    return (
        f"{why}{detail}: a new job on this file{earlier}; each part's marker is looked up in "
        "Metrica before it is sent"
    )


def claim_source(
    ctx: FlowContext,
    event: ObjectEvent,
    routed: Route,
    key: str,
    owner: str,
    *,
    force: bool,
    restart: Restart,
) -> Job:
    """Claim this generation's job for `owner`: create it (create-only), or, when it exists,
    start it over (`force`, or `restart` on other settings) or take an abandoned check over
    (`machine.claim_check`); ClaimHeld while a live lease elsewhere holds it. The job as it
    stands afterwards."""

    def start_over(current: Job) -> bool:
        return force or (restart == "on_change" and current.key != key)

    now = ctx.clock()
    until = now + ctx.settings.lease_s
    fresh = Job(
        source=Source(event.bucket, event.name, event.generation, event.size),
        routing=routed,
        lease=Lease(owner, until),
        split_attempts=1,
        key=key,
    )
    try:
        return ctx.jobs.create(fresh)
    except PreconditionFailed:
        pass
    claim = machine.claim_check(fresh, owner, now, until, start_over=start_over)
    change = ctx.jobs.update(event.name, event.generation, claim)
    if change.written and change.after.restarted > change.before.restarted:
        ctx.observer.note(started_over_note(change.before, change.after, force=force))
        log.info("job started over", extra={"key": key, "old_key": change.before.key})
    elif change.written:
        log.info("taking over an abandoned check (attempt %d)", change.after.split_attempts)
    return change.after
