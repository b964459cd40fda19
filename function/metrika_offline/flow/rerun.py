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
from typing import Literal

from metrika_offline.check.checker import CheckOptions
from metrika_offline.flow.jobs import Job
from metrika_offline.flow.routing import Route

Restart = Literal["never", "on_change"]

#: Check settings that came after jobs were first keyed (unset, they leave the key as it was).
_ADDED_LATER = ("duration_format",)


def job_key(routed: Route, options: CheckOptions) -> str:
    """A fingerprint of everything that decides what a job sends: routing and check settings."""
    check = {k: v for k, v in dataclasses.asdict(options).items() if k != "now"}
    routing = {k: v for k, v in routed.to_json().items() if k != "sources"}
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
    before, after = old.routing.to_json(), new.routing.to_json()
    changed = [
        f"{field} {before.get(field)} -> {after.get(field)}"
        for field in ("counter_id", "type", "comment", "mode")
        if before.get(field) != after.get(field)
    ]
    detail = f" ({', '.join(changed)})" if changed else ""
    earlier = f"; the {sent} part(s) it uploaded before stay in Metrica" if sent else ""
    return (
        f"{why}{detail}: a new job on this file{earlier}; each part's marker is looked up in "
        "Metrica before it is sent"
    )
